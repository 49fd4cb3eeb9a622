"""Errors that mean the user asked for something that cannot be done.

The CLI turns every :class:`CurateError` into one line on stderr and exit code 2; anything else
is a bug and keeps its traceback.
"""


class CurateError(Exception):
    """A user-facing error whose message is complete on one line."""


class InputError(CurateError):
    """A structure, file or parameter that cannot be used."""


class StoreError(CurateError):
    """A store that is missing, corrupt, of another schema version, or misused."""


class StoreLockedError(StoreError):
    """Another process holds the store's writer lock."""
