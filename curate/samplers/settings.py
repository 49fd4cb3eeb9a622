"""Settings of one sampling run (``curate sample``, a recipe's ``sets`` and ``reference``
entries): the system, the scheme with its own parameters, the size and the seed, and the checks
every frame passes. Light to import."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from curate.core.settings import Settings
from curate.systems.structures import DEFAULT_MIN_DISTANCE


class SampleSettings(Settings):
    """``n`` frames of ``system`` drawn by ``scheme`` with ``seed``; ``params`` are the fields of
    the sampler's own parameter model (``amplitude``, ``temperature``, ``stride``...), checked by
    it."""

    scheme: str = Field("random", description="Sampling scheme (see the sampler registry).")
    n: int = Field(description="Number of configurations.")
    seed: int = Field(0, description="Random seed; the same seed gives the same frames.")
    params: dict[str, Any] = Field({}, description="The sampler's own parameters.")
    system: str = Field(description="Built-in system (Ag3SBr, Ag3SI, Ag3SBrI) or structure file.")
    supercell: int | None = Field(
        None, ge=1, description="Repetitions per axis (built-ins: 2 → 40 atoms; files: 1)."
    )
    br_fraction: float = Field(0.5, ge=0, le=1, description="Ag3SBrI: Br share of the halides.")
    occupation_seed: int = Field(0, ge=0, description="Ag3SBrI: seed of the Br/I occupation.")
    min_distance: float = Field(
        DEFAULT_MIN_DISTANCE, ge=0, description="Refuse frames with atoms closer than this (Å)."
    )
    allow_close: bool = Field(
        False, description="Keep frames with close atoms, with a warning, instead."
    )

    @model_validator(mode="after")
    def _check(self) -> SampleSettings:
        if self.n < 1:
            raise ValueError(f"-n must be at least 1, got {self.n}")
        if self.seed < 0:
            raise ValueError(f"--seed must be non-negative, got {self.seed}")
        return self

    def system_args(self) -> dict[str, Any]:
        """How the reference structure is built: the arguments of
        :func:`curate.systems.builtin.build_system` after the system's name."""
        return {
            "supercell": self.supercell,
            "br_fraction": self.br_fraction,
            "occupation_seed": self.occupation_seed,
        }
