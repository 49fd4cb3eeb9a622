"""Is a set physical? Close contacts between atoms, and energies far above the thermal scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.units import kB

from curate.core.errors import InputError
from curate.core.geometry import NeighborFinder, contact_limits
from curate.metrics.settings import DEFAULT_CONTACT_FRACTION, DEFAULT_KT_MULTIPLE

SEARCH_FACTOR = 1.25
"""Shortest distances are looked for up to this many times the largest covalent diameter of the
frame's species (NaN beyond): far enough for any bonded neighbour."""


def contact_scan(
    frames: Sequence[Atoms], fraction: float = DEFAULT_CONTACT_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the shortest interatomic distance (periodic images included; NaN if no pair is
    within reach) and whether a pair is closer than ``fraction`` × (r_cov,i + r_cov,j)."""
    if not 0 < fraction <= SEARCH_FACTOR:
        raise InputError(f"contact fraction must lie in (0, {SEARCH_FACTOR}], got {fraction}")
    shortest = np.full(len(frames), np.nan)
    close = np.zeros(len(frames), dtype=bool)
    for k, atoms in enumerate(frames):
        reach = SEARCH_FACTOR * 2 * covalent_radii[atoms.numbers].max()
        i, j, _, d = NeighborFinder(reach)(atoms.positions, atoms.cell.array, atoms.pbc)
        if len(d):
            limits = contact_limits(atoms.numbers, fraction)
            shortest[k] = d.min()
            close[k] = bool((d < limits[atoms.numbers[i], atoms.numbers[j]]).any())
    return shortest, close


def beyond_thermal(
    excess: np.ndarray, temperatures: np.ndarray, multiple: float = DEFAULT_KT_MULTIPLE
) -> np.ndarray:
    """Whether each frame's energy per atom above the reference (eV/atom) exceeds
    ``multiple`` × k_B T at its temperature (K)."""
    if not multiple > 0:
        raise InputError(f"the kT multiple must be positive, got {multiple}")
    return excess > multiple * kB * np.asarray(temperatures, dtype=float)
