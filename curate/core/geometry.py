"""Geometry of periodic configurations: neighbour lists (every neighbour within the cutoff, both
directions, periodic images as separate pairs, an atom's own images included), shortest
distances, close contacts between species, and displacements from reference sites.

Small frames go through a compiled loop over the atom pairs and the few cell shifts each pair can
reach, many frames per call: up to a few hundred atoms faster than a cell list (six times for a
40-atom cell, whose setup dominates there); frames above :data:`SMALL` atoms go through vesin's
cell lists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np
import vesin
from ase import Atoms
from ase.data import covalent_radii
from ase.geometry import find_mic

from curate.core.errors import InputError

SMALL = 400
"""Frames up to this many atoms use the pair loop, larger ones vesin's cell lists."""

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class NeighborFinder:
    """Neighbour search at one cutoff, reused across frames."""

    def __init__(self, cutoff: float):
        if not cutoff > 0:
            raise InputError(f"cutoff must be positive, got {cutoff}")
        self.cutoff = float(cutoff)
        self._list = vesin.NeighborList(cutoff=self.cutoff, full_list=True)

    def __call__(self, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> Pairs:
        """Pairs ``(i, j, shift, distance)`` with |x_j − x_i + shift·cell| < cutoff, i ≠ j or
        shift ≠ 0, for one frame, sorted by (i, j, shift)."""
        ptr = np.array([0, len(positions)])
        return self.frames(positions, np.asarray(cell)[None], np.asarray(pbc)[None], ptr)[:4]

    def frames(
        self, positions: np.ndarray, cells: np.ndarray, pbc: np.ndarray, ptr: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The pairs of many frames (frame ``k`` at rows ``ptr[k]:ptr[k+1]`` of ``positions``),
        frame after frame, indices local to each frame, and the number of pairs per frame."""
        positions = np.ascontiguousarray(positions, dtype=np.float64)
        cells = np.asarray(cells, dtype=np.float64).reshape(-1, 3, 3)
        pbc = np.asarray(pbc, dtype=bool).reshape(-1, 3)
        ptr = np.asarray(ptr, dtype=np.int64)
        periodic = pbc.any(axis=1)
        volume = np.abs(np.linalg.det(cells))
        singular = volume < 1e-9
        if (singular & periodic).any():
            raise InputError("a periodic frame has a singular cell")
        cells = np.where(singular[:, None, None], np.eye(3), cells)  # unused without pbc
        sizes = np.diff(ptr)
        small = sizes <= SMALL
        inverses = np.linalg.inv(cells)
        args = (positions, cells, inverses, pbc, ptr, np.flatnonzero(small), self.cutoff)
        # Room for the pairs an even density gives, and a second pass in the rare frames with more.
        ball = 4 / 3 * np.pi * self.cutoff**3 / np.where(singular, 1.0, volume)
        pairs = np.where(periodic, sizes * sizes * ball, sizes * (sizes - 1))
        guess = int(1.25 * pairs[small].sum()) + 1024
        found = _pair_loop(*args, guess)
        if found[4].sum() > guess:
            found = _pair_loop(*args, found[4].sum())
        if small.all():
            return found
        large = [self._cell_list(positions, cells, pbc, ptr, k) for k in np.flatnonzero(~small)]
        return _merge(found, small, large)

    def _cell_list(
        self, positions: np.ndarray, cells: np.ndarray, pbc: np.ndarray, ptr: np.ndarray, k: int
    ) -> Pairs:
        """The pairs of frame ``k`` by vesin, in the pair loop's order."""
        i, j, shift, distance = self._list.compute(
            positions[ptr[k] : ptr[k + 1]], cells[k], pbc[k].tolist(), quantities="ijSd"
        )
        shift = shift.astype(np.int64)
        order = np.lexsort((shift[:, 2], shift[:, 1], shift[:, 0], j, i))
        return i[order].astype(np.int64), j[order].astype(np.int64), shift[order], distance[order]


def shortest_distance(atoms: Atoms, cutoff: float | None = None) -> float:
    """Shortest interatomic distance below ``cutoff`` (periodic images included), else ``inf``;
    without a cutoff, the shortest distance there is (the search widens until it finds a pair)."""
    reach = cutoff or 4.0
    while True:
        distances = NeighborFinder(reach)(atoms.positions, atoms.cell.array, atoms.pbc)[3]
        if len(distances) or cutoff is not None or (len(atoms) < 2 and not atoms.pbc.any()):
            return float(distances.min()) if len(distances) else float("inf")
        reach *= 2


def contact_limits(numbers: np.ndarray, fraction: float, reference: Atoms | None = None):
    """Per species pair (indexed by atomic number), the distance under which two atoms are in
    close contact: ``fraction`` × the sum of their covalent radii, or × their shortest distance in
    ``reference`` where that is shorter (pairs that are not neighbours in an ideal structure,
    like Ag–Ag in Ag3SBr, come as close as their radii allow in MD)."""
    z = np.unique(numbers)
    limits = np.zeros((z.max() + 1, z.max() + 1))
    for a in z:
        for b in z:
            limits[a, b] = covalent_radii[a] + covalent_radii[b]
    if reference is not None:
        i, j, _, d = NeighborFinder(float(limits.max()))(
            reference.positions, reference.cell.array, reference.pbc
        )
        zi, zj = reference.numbers[i], reference.numbers[j]
        np.minimum.at(limits, (zi, zj), d)
    return fraction * limits


def displacements(frames: Sequence[Atoms], reference: Atoms) -> np.ndarray:
    """Frames × atoms × 3 displacements (Å) from the reference sites, minimum image."""
    return np.array(
        [
            find_mic(f.positions - reference.positions, reference.cell, reference.pbc)[0]
            for f in frames
        ]
    )


def _merge(
    found: tuple[np.ndarray, ...], small: np.ndarray, large: list[Pairs]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pair-loop results of the small frames and vesin's of the large ones, in frame order."""
    *columns, counts = found
    pieces = [np.split(c, np.cumsum(counts)[:-1]) for c in columns]
    per_frame: list[Pairs] = []
    from_loop, from_cells = iter(zip(*pieces, strict=True)), iter(large)
    for is_small in small:
        per_frame.append(next(from_loop) if is_small else next(from_cells))
    merged = [np.concatenate(c) for c in zip(*per_frame, strict=True)]
    return (*merged, np.array([len(p[0]) for p in per_frame], dtype=np.int64))


@numba.njit(cache=True)
def _shifts(frac: np.ndarray, wrap: np.ndarray, i: int, j: int, a: int, reach: float):
    """The range of shifts along axis ``a`` that can bring atom ``j`` within reach of ``i``."""
    if reach == 0.0:
        return 0, 1
    df = frac[j, a] - frac[i, a]
    w = wrap[i, a] - wrap[j, a]
    return math.ceil(-reach - df) + w, math.floor(reach - df) + w + 1


@numba.njit(cache=True)
def _pair_loop(positions, cells, inverses, pbc, ptr, frames, cutoff, size):
    """Pairs of ``frames``: for each (i, j), the shifts s with |Δf_a + s_a| < cutoff / h_a along
    every periodic axis a (Δf the fractional offset of the wrapped atoms, h_a the cell's height),
    then the distance check. Room for ``size`` pairs; the counts per frame tell whether more
    were found."""
    centre, neighbour = np.empty(size, np.int64), np.empty(size, np.int64)
    shift, distance = np.empty((size, 3), np.int64), np.empty(size)
    counts = np.zeros(len(frames), np.int64)
    c2 = cutoff * cutoff
    m = 0
    for f in range(len(frames)):
        k = frames[f]
        start, n = ptr[k], ptr[k + 1] - ptr[k]
        x = positions[start : start + n]
        cell, inv = cells[k], inverses[k]
        reach = np.zeros(3)
        frac, wrap = np.empty((n, 3)), np.zeros((n, 3), np.int64)
        for a in range(3):
            if pbc[k, a]:
                reach[a] = cutoff * math.sqrt(inv[0, a] ** 2 + inv[1, a] ** 2 + inv[2, a] ** 2)
            for i in range(n):
                frac[i, a] = x[i, 0] * inv[0, a] + x[i, 1] * inv[1, a] + x[i, 2] * inv[2, a]
                if pbc[k, a]:
                    wrap[i, a] = math.floor(frac[i, a])
                    frac[i, a] -= wrap[i, a]
        first = m
        for i in range(n):
            for j in range(n):
                lo0, hi0 = _shifts(frac, wrap, i, j, 0, reach[0])
                lo1, hi1 = _shifts(frac, wrap, i, j, 1, reach[1])
                lo2, hi2 = _shifts(frac, wrap, i, j, 2, reach[2])
                d0, d1, d2 = x[j, 0] - x[i, 0], x[j, 1] - x[i, 1], x[j, 2] - x[i, 2]
                for s0 in range(lo0, hi0):
                    for s1 in range(lo1, hi1):
                        for s2 in range(lo2, hi2):
                            if i == j and s0 == 0 and s1 == 0 and s2 == 0:
                                continue
                            v0 = d0 + s0 * cell[0, 0] + s1 * cell[1, 0] + s2 * cell[2, 0]
                            v1 = d1 + s0 * cell[0, 1] + s1 * cell[1, 1] + s2 * cell[2, 1]
                            v2 = d2 + s0 * cell[0, 2] + s1 * cell[1, 2] + s2 * cell[2, 2]
                            r2 = v0 * v0 + v1 * v1 + v2 * v2
                            if r2 >= c2:
                                continue
                            if m < size:
                                centre[m], neighbour[m] = i, j
                                shift[m, 0], shift[m, 1], shift[m, 2] = s0, s1, s2
                                distance[m] = math.sqrt(r2)
                            m += 1
        counts[f] = m - first
    m = min(m, size)
    return centre[:m], neighbour[:m], shift[:m], distance[:m], counts
