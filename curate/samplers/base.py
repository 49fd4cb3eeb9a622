"""The sampler contract: a reference structure, a size and a seed in; frames with provenance out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from pydantic import BaseModel, ConfigDict, ValidationError

from curate.core.errors import CurateError, InputError
from curate.core.provenance import Provenance


class SamplingStopped(CurateError):
    """A sampler that could not finish; carries the frames (and provenance) it made before."""

    def __init__(self, message: str, frames: list[Atoms], provenance: list[Provenance]):
        super().__init__(message)
        self.frames = frames
        self.provenance = provenance


class SamplerParams(BaseModel):
    """Typed parameters of a sampler; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sampler(ABC):
    """A way of generating configurations. Same reference, size, seed and params → same frames."""

    name: ClassVar[str]
    Params: ClassVar[type[SamplerParams]]

    def __init__(self, params: SamplerParams | Mapping[str, Any] | None = None):
        if isinstance(params, SamplerParams):
            self.params = params
        else:
            try:
                self.params = self.Params(**dict(params or {}))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = "".join(f"{p}: " for p in first["loc"])
                message = first["msg"].removeprefix("Value error, ")
                raise InputError(f"{self.name} sampler: {where}{message}") from None

    @abstractmethod
    def sample(
        self, reference: Atoms, n: int, seed: int, system: str = ""
    ) -> tuple[list[Atoms], list[Provenance]]:
        """Draw ``n`` configurations derived from ``reference``."""


def derived_seed(seed: int, k: int) -> int:
    """An independent integer seed for part ``k`` (a run, a draw) of a seeded sampling."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


def displaced(reference: Atoms, displacements: np.ndarray | float = 0.0) -> Atoms:
    """A copy of ``reference`` moved by ``displacements`` (Å), without calculator or info."""
    atoms = reference.copy()
    atoms.calc = None
    atoms.info.clear()
    atoms.positions += displacements
    return atoms
