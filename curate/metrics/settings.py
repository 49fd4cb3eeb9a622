"""Settings of the metrics stage (``curate diversity``, a recipe's ``diversity`` section, the
descriptors of active-learning selection): everything that changes a metric's value, recorded in
the report. Light to import: nothing here loads QUESTS."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from curate.core.settings import Settings

DEFAULT_BANDWIDTH = 0.015
"""Å⁻¹; QUESTS's default for its descriptor."""
DEFAULT_CONTACT_FRACTION = 0.75
"""A pair closer than this share of the sum of its covalent radii is a close contact (bonded
pairs sit near 1; Ag–S in Ag3SBr at 0.99)."""
DEFAULT_KT_MULTIPLE = 3.0
"""A harmonic solid at T holds about 3/2 kT of potential energy per atom above its minimum; a
frame with more than twice that (3 kT) is hotter than the set claims to be."""
DEFAULT_TEMPERATURE = 300.0
"""K, for frames that record no temperature (random displacements)."""


class DescriptorSettings(Settings):
    """Neighbours per environment and the cutoff (Å) of the smooth weight; one setting for every
    set that is compared."""

    model_config = ConfigDict(frozen=True)

    k: int = Field(32, description="QUESTS neighbours per environment.")
    cutoff: float = Field(5.0, description="QUESTS descriptor cutoff (Å).")

    @model_validator(mode="after")
    def _check(self) -> DescriptorSettings:
        if self.k < 2:
            raise ValueError(f"descriptor k must be at least 2, got {self.k}")
        if not self.cutoff > 0:
            raise ValueError(f"descriptor cutoff must be positive, got {self.cutoff}")
        return self

    def as_dict(self) -> dict:
        return {
            "name": "QUESTS",
            "package": f"quests {version('quests')}",
            "k": self.k,
            "cutoff": self.cutoff,
            "dimension": 2 * self.k - 1,
        }


class DiversitySettings(Settings):
    """Everything that changes a diversity, correlation or physicality metric's value."""

    model_config = ConfigDict(frozen=True)

    descriptor: DescriptorSettings = Field(
        DescriptorSettings(), description="QUESTS descriptor: k and cutoff."
    )
    bandwidth: float = Field(DEFAULT_BANDWIDTH, description="QUESTS kernel bandwidth h (1/Å).")
    q: float = Field(1.0, description="Vendi score order (1: Shannon).")
    contact_fraction: float = Field(
        DEFAULT_CONTACT_FRACTION,
        description="Close contact: a pair under this share of its covalent radii.",
    )
    kt_multiple: float = Field(
        DEFAULT_KT_MULTIPLE,
        description="Flag frames more than this many kT per atom above the reference.",
    )
    temperature: float = Field(
        DEFAULT_TEMPERATURE, description="K, for frames that record no temperature."
    )
    repeats: int = Field(5, description="Size-matched random subsets per group.")
    seed: int = Field(0, description="Seed of the subsets.")

    @model_validator(mode="after")
    def _check(self) -> DiversitySettings:
        if not (self.bandwidth > 0 and self.bandwidth < float("inf")):
            raise ValueError(f"bandwidth must be positive, got {self.bandwidth}")
        if not self.q >= 0:
            raise ValueError(f"--q must be non-negative, got {self.q}")
        if self.repeats < 1:
            raise ValueError(f"--repeats must be at least 1, got {self.repeats}")
        if not self.temperature > 0:
            raise ValueError(f"--temperature must be positive, got {self.temperature}")
        if self.seed < 0:
            raise ValueError(f"--seed must be non-negative, got {self.seed}")
        return self

    def as_dict(self) -> dict[str, Any]:
        out = self.model_dump()
        out["descriptor"] = self.descriptor.as_dict()
        out["bandwidth_units"] = "1/Angstrom"
        out["entropy_units"] = "nats"
        out["vendi_kernel"] = "normalised average Gaussian kernel of the environments"
        return out
