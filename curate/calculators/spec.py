"""Calculator specs: a short, picklable name for a labeller, parsed the same from CLI, YAML and
Python. ``chgnet``, ``emt``, ``gpaw``, ``cp2k``, ``mace:PATH`` and ``ase:module.Class``, each with
keyword arguments."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from curate.core.errors import InputError, yaml_problem

Kind = Literal["chgnet", "emt", "gpaw", "cp2k", "mace", "ase"]
SIMPLE: tuple[Kind, ...] = ("chgnet", "emt", "gpaw", "cp2k")


class CalculatorSpec(BaseModel):
    """What calculator to build and with which keyword arguments; the live calculator is built
    where it runs (a Dask worker), never shipped."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    target: str = ""
    kwargs: dict[str, Any] = {}

    @property
    def text(self) -> str:
        """The spec as a user writes it (``mace:/abs/model.model``, ``ase:pkg.mod.Class``)."""
        return f"{self.kind}:{self.target}" if self.target else self.kind

    @property
    def default_label_set(self) -> str:
        """Label set name used when none is given: ``chgnet``, ``emt``, ``mace-<stem>``, ..."""
        if self.kind == "mace":
            return f"mace-{Path(self.target).stem}"
        if self.kind == "ase":
            return self.target.rsplit(".", 1)[-1].lower()
        return self.kind

    def canonical(self) -> str:
        """Canonical JSON: equal specs, equal strings."""
        return json.dumps(self.model_dump(), sort_keys=True, default=str)

    def param_hash(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """Keyword arguments from inline JSON/YAML or from a .json/.yaml/.yml file."""
    if not text:
        return {}
    path = Path(text)
    if path.suffix in {".json", ".yaml", ".yml"}:
        if not path.is_file():
            raise InputError(f"no such keyword-argument file: {path}")
        text = path.read_text()
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(
            f"calculator keyword arguments are not JSON or YAML: {yaml_problem(exc)}"
        ) from None
    if not isinstance(value, dict):
        raise InputError('calculator keyword arguments must be a mapping, e.g. \'{"xc": "PBE"}\'')
    return value


def parse_spec(text: str, kwargs: dict[str, Any] | str | None = None) -> CalculatorSpec:
    """Parse ``chgnet``, ``emt``, ``gpaw``, ``cp2k``, ``mace:PATH`` or ``ase:module.Class``."""
    kw = parse_kwargs(kwargs) if isinstance(kwargs, str) or kwargs is None else dict(kwargs)
    kind, _, target = text.partition(":")
    if kind in SIMPLE and not target:
        return CalculatorSpec(kind=kind, kwargs=kw)
    if kind == "mace" and target:
        path = Path(target).expanduser().resolve()
        if not path.is_file():
            raise InputError(f"no MACE model file at {target}")
        return CalculatorSpec(kind="mace", target=str(path), kwargs=kw)
    if kind == "ase" and "." in target:
        return CalculatorSpec(kind="ase", target=target, kwargs=kw)
    raise InputError(
        f"unknown calculator spec '{text}' "
        "(use chgnet, emt, gpaw, cp2k, mace:PATH or ase:module.Class)"
    )
