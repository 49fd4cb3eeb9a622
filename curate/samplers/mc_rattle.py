"""Monte Carlo rattle (as in hiphive): Gaussian moves of one atom at a time, accepted with
probability exp(−(d_min − d)²/w²) when the atom's nearest neighbour comes closer than d_min.

A physically better random baseline than uniform displacements: atoms are pushed away from the
steep walls that independent displacements run into.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ase import Atoms
from ase.geometry import get_distances
from pydantic import Field

from curate.core.geometry import shortest_distance
from curate.core.identity import atoms_uid
from curate.core.provenance import Provenance
from curate.samplers.base import Sampler, SamplerParams, displaced


class MCRattleParams(SamplerParams):
    """``std`` (Å) of each move, ``iterations`` sweeps over all atoms, ``d_min`` (Å; default 85 %
    of the reference's shortest distance) and the acceptance ``width`` (Å)."""

    std: float = Field(0.05, gt=0)
    iterations: int = Field(10, ge=1)
    d_min: float | None = Field(None, gt=0)
    width: float = Field(0.1, gt=0)


class MCRattle(Sampler):
    """Monte Carlo rattled structures; frame ``i`` draws from ``default_rng([seed, i])``."""

    name: ClassVar[str] = "mc-rattle"
    Params: ClassVar[type[SamplerParams]] = MCRattleParams

    def sample(
        self, reference: Atoms, n: int, seed: int, system: str = ""
    ) -> tuple[list[Atoms], list[Provenance]]:
        p = self.params
        d_min = p.d_min or 0.85 * shortest_distance(reference)
        parent = atoms_uid(reference)
        frames, provenance = [], []
        for i in range(n):
            atoms, acceptance = rattle(
                reference, p.std, p.iterations, d_min, p.width, np.random.default_rng([seed, i])
            )
            frames.append(atoms)
            provenance.append(
                Provenance(
                    scheme=self.name,
                    system=system,
                    seed=seed,
                    parent=parent,
                    params={
                        "std": p.std,
                        "iterations": p.iterations,
                        "d_min": d_min,
                        "width": p.width,
                        "acceptance": acceptance,
                        "draw": i,
                    },
                )
            )
        return frames, provenance


def rattle(
    reference: Atoms,
    std: float,
    iterations: int,
    d_min: float,
    width: float,
    rng: np.random.Generator,
) -> tuple[Atoms, float]:
    """One rattled copy of ``reference`` and the fraction of moves accepted."""
    atoms = displaced(reference)
    positions = atoms.positions
    accepted = tried = 0
    for _ in range(iterations):
        for i in rng.permutation(len(atoms)):
            trial = positions[i] + rng.normal(0.0, std, 3)
            _, d = get_distances(
                trial[None], np.delete(positions, i, axis=0), cell=atoms.cell, pbc=atoms.pbc
            )
            nearest = d.min()
            tried += 1
            if nearest >= d_min or rng.random() < np.exp(-(((d_min - nearest) / width) ** 2)):
                positions[i] = trial
                accepted += 1
    atoms.positions = positions
    return atoms, accepted / tried
