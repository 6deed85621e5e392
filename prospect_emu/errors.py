"""Exceptions raised for bad input.  Each message names the problem and the fix."""


class ConfigurationError(Exception):
    """Bad user input: a file, option, name or environment that cannot work.

    Deliberately *not* a ``ValueError``: Prospector's ``lnprobfn`` turns a
    ``ValueError`` raised by ``model.predict`` into ln-probability -inf, which would
    hide a configuration mistake (say, a band the emulator lacks) as a silent zero
    likelihood.  Out-of-bounds parameters, which should give -inf, raise ``ValueError``.
    The CLI prints the message without a traceback.
    """
