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


def yaml_problem(exc: Exception) -> str:
    """A YAML parser error on one line: where it is (line and column) and what is wrong."""
    where = getattr(exc, "problem_mark", None)
    at = f"at line {where.line + 1}, column {where.column + 1}: " if where else ""
    return at + (getattr(exc, "problem", None) or str(exc).strip().splitlines()[0])
