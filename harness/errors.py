"""The lab's exception types. A ``LabError`` is a user-facing problem (bad input, missing
tool, malformed file) whose message names the file and field; the CLI prints it on one line
and exits with status 2 instead of a traceback."""


class LabError(Exception):
    """A clear, user-facing error: the message says what, where (file/field) and how to fix."""


class InputError(LabError, ValueError):
    """Bad input data: wrong shape/dtype, NaN/Inf samples, mismatched sample rates."""
