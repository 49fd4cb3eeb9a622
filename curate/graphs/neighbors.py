"""Periodic neighbour lists with vesin (compiled cell lists): every neighbour within the cutoff,
both directions, periodic images as separate pairs, an atom's own images included."""

from __future__ import annotations

import numpy as np
import vesin

from curate.errors import InputError


class NeighborFinder:
    """Neighbour search at one cutoff, reused across frames."""

    def __init__(self, cutoff: float):
        if not cutoff > 0:
            raise InputError(f"cutoff must be positive, got {cutoff}")
        self.cutoff = float(cutoff)
        self._list = vesin.NeighborList(cutoff=self.cutoff, full_list=True)

    def __call__(
        self, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pairs ``(i, j, shift, distance)`` with |x_j − x_i + shift·cell| < cutoff, i ≠ j or
        shift ≠ 0, for one frame."""
        pbc = np.asarray(pbc, dtype=bool)
        if pbc.any() and abs(np.linalg.det(cell)) < 1e-9:
            raise InputError("a periodic frame has a singular cell")
        i, j, shift, distance = self._list.compute(
            positions, cell, pbc.tolist(), quantities="ijSd", copy=True
        )
        return i.astype(np.int64), j.astype(np.int64), shift.astype(np.int64), distance
