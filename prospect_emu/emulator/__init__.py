"""Layer 3, the emulator artifact: numpy inference of both kinds (photometric, spectral),
the artifact format (weights ``.npz`` + versioned JSON), the likelihood's folded fast path,
and the builders that train a network (layer 2) on a training set (layer 1) into an
artifact.  Keras is imported lazily, by the builders only.
"""
