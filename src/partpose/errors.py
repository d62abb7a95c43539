"""Errors that mean the user asked for something that cannot be done.

The command line prints them as one line (``partpose: error: ...``) and exits with status 2,
never with a traceback. Library code raises ``UserError`` (or ``ValueError`` for bad tensors)
with a message that names the file, the value or the fix.
"""


class UserError(Exception):
    """A mistake in the user's input: a missing file, a malformed dataset, an unknown name."""
