"""Settings of curation (``curate select``, ``curate filter``, ``curate dedupe``, a recipe's
``select`` section): everything that decides which frames are kept, recorded in the new store.
Light to import: nothing here loads a descriptor library."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from curate.core.settings import Settings
from curate.metrics.settings import (
    DEFAULT_BANDWIDTH,
    DEFAULT_CONTACT_FRACTION,
    DescriptorSettings,
)

Method = Literal[
    "random", "fps", "cur", "kmeans", "msc", "energy-uniform", "uncertainty", "stratified"
]
METHODS: tuple[str, ...] = Method.__args__
DESCRIBED = ("fps", "cur", "kmeans", "msc")
"""Methods that work on descriptors (``msc`` on every environment, the others on one vector per
frame)."""
STRATA = ("scheme", "system", "temperature", "seed", "round")
"""Provenance columns ``stratified`` can split a pool by."""


class SoapSettings(Settings):
    """SOAP (dscribe) of every atom, averaged over the frame (``average="inner"``)."""

    model_config = ConfigDict(frozen=True)

    r_cut: float = Field(5.0, description="SOAP cutoff (Å).")
    n_max: int = Field(6, description="SOAP radial basis functions.")
    l_max: int = Field(4, description="SOAP largest angular degree.")
    sigma: float = Field(0.5, description="SOAP Gaussian width of each atom (Å).")

    @model_validator(mode="after")
    def _check(self) -> SoapSettings:
        if not (self.r_cut > 0 and self.sigma > 0):
            raise ValueError("SOAP r_cut and sigma must be positive")
        if self.n_max < 1 or self.l_max < 0:
            raise ValueError("SOAP needs n_max ≥ 1 and l_max ≥ 0")
        return self


class SelectSettings(Settings):
    """Which N frames of a pool to keep, and how they are chosen."""

    model_config = ConfigDict(frozen=True)

    method: Method = Field(..., description="How frames are chosen.")
    n: int = Field(..., description="Frames to choose.")
    seed: int = Field(0, description="Seed of random, kmeans and stratified choices.")
    descriptor: Literal["quests", "soap"] = Field(
        "quests", description="Descriptor of fps, cur and kmeans (msc always uses QUESTS)."
    )
    quests: DescriptorSettings = Field(DescriptorSettings(), description="QUESTS k and cutoff.")
    soap: SoapSettings = Field(SoapSettings(), description="SOAP settings.")
    bandwidth: float = Field(DEFAULT_BANDWIDTH, description="QUESTS kernel bandwidth of msc.")
    label_set: str | None = Field(
        None, description="Label set energy-uniform reads (default: the only one)."
    )
    committee: tuple[str, ...] = Field(
        (), description="uncertainty: a MACE committee folder, or two or more calculator specs."
    )
    by: str = Field("scheme", description="stratified: the provenance column to split by.")

    @model_validator(mode="after")
    def _check(self) -> SelectSettings:
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.by not in STRATA:
            raise ValueError(f"by must be one of {', '.join(STRATA)}, got {self.by!r}")
        if self.method == "uncertainty" and not self.committee:
            raise ValueError("uncertainty needs a committee (a folder or calculator specs)")
        if not self.bandwidth > 0:
            raise ValueError(f"bandwidth must be positive, got {self.bandwidth}")
        return self


class FilterSettings(Settings):
    """Rules a frame must pass to stay; a rule left unset is not applied."""

    model_config = ConfigDict(frozen=True)

    label_set: str | None = Field(
        None, description="Label set the label rules read (default: the only one, if any)."
    )
    contact_fraction: float | None = Field(
        DEFAULT_CONTACT_FRACTION,
        description="Drop frames with a pair closer than this share of its covalent radii sum.",
    )
    max_force: float | None = Field(None, description="Drop frames with a force above (eV/Å).")
    energy_window: tuple[float, float] | None = Field(
        None, description="Keep energies per atom inside this window (eV/atom)."
    )
    kt_multiple: float | None = Field(
        None,
        description="Drop frames more than this many kT per atom above the relaxed structure "
        "(at the frame's temperature).",
    )
    require_labels: bool = Field(True, description="Drop frames without an ok label.")
    min_band_gap: float | None = Field(
        None, description="Drop frames whose band gap is below this (eV)."
    )

    @model_validator(mode="after")
    def _check(self) -> FilterSettings:
        if self.energy_window is not None and not self.energy_window[0] < self.energy_window[1]:
            raise ValueError(f"energy window {self.energy_window} is empty")
        for name in ("max_force", "kt_multiple", "contact_fraction"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        return self


class DedupeSettings(Settings):
    """What counts as a near-duplicate of an earlier frame."""

    model_config = ConfigDict(frozen=True)

    by: Literal["rmsd", "descriptor"] = Field(
        "rmsd",
        description="rmsd: positions after removing the rigid shift (same species, same "
        "cell); descriptor: per-frame QUESTS vectors.",
    )
    tolerance: float | None = Field(
        None,
        description="Largest distance of a duplicate: Å for rmsd (default 0.01), Å⁻¹ for "
        "descriptor (default 1e-3).",
    )
    quests: DescriptorSettings = Field(DescriptorSettings(), description="QUESTS k and cutoff.")

    @model_validator(mode="after")
    def _check(self) -> DedupeSettings:
        if self.tolerance is not None and not self.tolerance > 0:
            raise ValueError(f"tolerance must be positive, got {self.tolerance}")
        return self

    @property
    def limit(self) -> float:
        """The tolerance in force."""
        if self.tolerance is not None:
            return self.tolerance
        return 0.01 if self.by == "rmsd" else 1e-3
