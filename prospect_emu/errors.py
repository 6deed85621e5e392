"""Exceptions raised for bad input.  Each message names the problem and the fix."""


class ConfigurationError(ValueError):
    """Bad user input: a file, option, name or environment that cannot work.

    Subclasses ``ValueError`` so that callers treating bad values generically still
    catch it; the CLI prints its message without a traceback.
    """
