"""The base of every stage's settings: one pydantic model per stage, used alike by the library
API, the recipe section and the CLI, so that each default and its description live in one place."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from curate.core.errors import InputError


class Settings(BaseModel):
    """Settings of one stage: unknown fields are refused, every field is described. Checks that
    go beyond a field's type raise ``ValueError`` in a model validator, so that a recipe names
    the field; :meth:`build` turns them into one InputError for the CLI and the library."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @classmethod
    def build(cls, where: str = "", /, **values: Any):
        """The settings from ``values``, leaving out ``None`` (the default then applies); a value
        that does not validate is one :class:`InputError` naming the field."""
        try:
            return cls.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            raise InputError(validation_message(exc, where or cls.__name__)) from None

    @classmethod
    def describe(cls, field: str) -> str:
        """The field's description with its default, for a CLI option's help."""
        info = cls.model_fields[field]
        text = info.description or ""
        if info.is_required() or info.default is None:
            return text
        default = info.default
        if isinstance(default, (list, tuple)):
            default = ",".join(map(str, default))
        return f"{text} [default: {default}]"


def require_counts(counts: dict[str, int | None]) -> None:
    """Refuse (ValueError) any count below 1 (None: not given), naming it as ``counts`` does."""
    for name, value in counts.items():
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


def validation_message(exc: ValidationError, where: str) -> str:
    """One line for a pydantic error: where, the field's path, and what is wrong with it. Where
    a command (``curate ...``) asks, fields are named as its options (``--cluster-cores``)."""
    first = exc.errors()[0]
    path = ".".join(str(p) for p in first["loc"])
    if where.startswith("curate ") and path:
        path = "--" + path.replace("_", "-")
    if first["type"] == "literal_error" and path:
        return f"{where}: unknown {path} {first['input']!r} ({first['ctx']['expected']})"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {path}: {message}" if path else f"{where}: {message}"
