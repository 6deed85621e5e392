"""Layer 1, training data: parameter designs, FSPS generation and the HDF5 training sets.

Imports only the shared helpers at the package top level (errors, filters, paramfile, ...).
"""
