"""Random displacements (Benítez et al., Eq. 2): each Cartesian component uniform in [−a, a]."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ase import Atoms
from pydantic import field_validator, model_validator

from curate.core.identity import atoms_uid
from curate.core.provenance import Provenance
from curate.samplers.base import Sampler, SamplerParams, displaced


class RandomParams(SamplerParams):
    """``amplitude``: a fixed a (Å), or a range ``lo:hi`` from which each structure draws its own a
    uniformly (the paper used 0.1 to 0.8 Å)."""

    amplitude: tuple[float, float] = (0.1, 0.8)

    @field_validator("amplitude", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            parts = value.split(":")
            if len(parts) not in (1, 2):
                raise ValueError(f"expected a or lo:hi, got '{value}'")
            try:
                numbers = [float(p) for p in parts]
            except ValueError:
                raise ValueError(f"expected a or lo:hi in Å, got '{value}'") from None
            return (numbers[0], numbers[-1])
        if isinstance(value, int | float):
            return (float(value), float(value))
        return value

    @model_validator(mode="after")
    def _check(self) -> RandomParams:
        lo, hi = self.amplitude
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi < lo:
            raise ValueError(f"need 0 < lo ≤ hi, got {lo}:{hi}")
        return self


class RandomDisplacements(Sampler):
    """Uniform Cartesian displacements; frame ``i`` draws from ``default_rng([seed, i])`` so any
    frame can be regenerated alone."""

    name: ClassVar[str] = "random"
    Params: ClassVar[type[SamplerParams]] = RandomParams

    def sample(
        self, reference: Atoms, n: int, seed: int, system: str = ""
    ) -> tuple[list[Atoms], list[Provenance]]:
        lo, hi = self.params.amplitude
        parent = atoms_uid(reference)
        frames, provenance = [], []
        for i in range(n):
            rng = np.random.default_rng([seed, i])
            a = float(rng.uniform(lo, hi)) if hi > lo else lo
            frames.append(displaced(reference, rng.uniform(-a, a, size=(len(reference), 3))))
            provenance.append(
                Provenance(
                    scheme=self.name,
                    system=system,
                    seed=seed,
                    parent=parent,
                    params={"amplitude": a, "amplitude_range": [lo, hi], "draw": i},
                )
            )
        return frames, provenance
