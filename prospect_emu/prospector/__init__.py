"""Layer 4, the Prospector adapter: ``EmulatedSpecModel``, the emulated sps object, the
likelihood (scalar and batched), fast priors, the one-flag switch, fits and samplers.

Works with no ``SPS_HOME`` and no fsps import on the emulated path.
"""
