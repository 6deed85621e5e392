"""Layer 2, the network: Keras models, activations and the training recipe (training only).

Nothing here is imported by inference: the likelihood never calls Keras.  Imports only the
shared helpers at the package top level.
"""
