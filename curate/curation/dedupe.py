"""Near-duplicate frames: within a tolerance of an earlier kept frame, by positions or by
descriptor. Exact duplicates never reach a store (equal content uids are skipped on append).

``rmsd``: frames with the same species in the same order and the same cell are compared by the
root-mean-square distance of their atoms after removing the rigid shift (the mean displacement,
which a periodic cell does not see), displacements taken to the nearest image. Each frame is
written as its displacement from the group's first frame, shift removed and divided by √N, so
that the RMSD of two frames is the Euclidean distance of their vectors while atoms move less than
half a cell length. ``descriptor``: Euclidean distance of per-frame QUESTS vectors (Å⁻¹).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from curate.store.zarr_store import Store

from .settings import DedupeSettings
from .vectors import frame_vectors

CELL_DECIMALS = 6
"""Cells equal to 1e-6 Å are one cell for the rmsd comparison."""


@dataclass
class Duplicates:
    """Per frame, the index of the earlier kept frame it duplicates (−1: kept) and the distance
    to it (NaN: kept)."""

    duplicate_of: np.ndarray
    distance: np.ndarray

    @property
    def keep(self) -> np.ndarray:
        return self.duplicate_of < 0


def rmsd_vectors(frames: list[Atoms]) -> np.ndarray:
    """Displacement vectors whose Euclidean distances are the shift-free RMSDs within one group
    of frames sharing species and cell (``frames[0]`` is the origin)."""
    origin = frames[0]
    inverse = np.linalg.inv(origin.cell.array)
    out = np.empty((len(frames), 3 * len(origin)))
    for k, atoms in enumerate(frames):
        fractional = (atoms.positions - origin.positions) @ inverse
        fractional -= np.round(fractional)
        d = fractional @ origin.cell.array
        d -= d.mean(axis=0)
        out[k] = d.ravel() / np.sqrt(len(origin))
    return out


def groups(frames: list[Atoms]) -> list[np.ndarray]:
    """Frame indices sharing species order and cell (to ``CELL_DECIMALS``), in store order."""
    keys: dict[tuple, list[int]] = {}
    for i, atoms in enumerate(frames):
        key = (atoms.numbers.tobytes(), np.round(atoms.cell.array, CELL_DECIMALS).tobytes())
        keys.setdefault(key, []).append(i)
    return [np.array(v) for v in keys.values()]


def greedy_first(vectors: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Within rows in order: each row within ``tolerance`` of an earlier kept row is a duplicate
    of the first such row. Returns (row it duplicates or −1, distance)."""
    from sklearn.neighbors import NearestNeighbors

    duplicate_of = np.full(len(vectors), -1, dtype=np.int64)
    distance = np.full(len(vectors), np.nan)
    finder = NearestNeighbors(radius=tolerance).fit(vectors)
    dist, near = finder.radius_neighbors(vectors, sort_results=True)
    for i in range(len(vectors)):
        if duplicate_of[i] >= 0:
            continue
        rows, gaps = np.asarray(near[i], np.int64), np.asarray(dist[i], np.float64)
        for j, d in zip(rows[rows > i], gaps[rows > i], strict=True):
            if duplicate_of[j] < 0:
                duplicate_of[j], distance[j] = i, d
    return duplicate_of, distance


def near_duplicates(store: Store, settings: DedupeSettings) -> Duplicates:
    """The near-duplicates of ``store``, keeping the first of each."""
    frames = store.atoms()
    duplicate_of = np.full(len(frames), -1, dtype=np.int64)
    distance = np.full(len(frames), np.nan)
    if settings.by == "descriptor":
        parts = [(np.arange(len(frames)), frame_vectors(frames, "quests", settings.quests))]
    else:
        parts = [(g, rmsd_vectors([frames[i] for i in g])) for g in groups(frames)]
    for members, vectors in parts:
        local, d = greedy_first(vectors, settings.limit)
        found = local >= 0
        duplicate_of[members[found]] = members[local[found]]
        distance[members[found]] = d[found]
    return Duplicates(duplicate_of, distance)
