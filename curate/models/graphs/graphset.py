"""Radius graphs of many frames, held as collated tensors, and batches gathered from them
without per-graph objects.

Node rows are ragged by ``node_ptr`` and edge rows by ``edge_ptr``; ``edge_index`` holds node
indices local to each frame, row 0 the neighbour (message source) and row 1 the centre atom, with
each frame's edges sorted by (centre, neighbour). Every edge j → i (image shift S) has its reverse
i → j (shift −S) at the same distance; ``pair`` numbers these undirected pairs within each frame,
so that models can compute distance functions once per pair instead of once per edge.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, fields

import numba
import numpy as np
import torch
from ase import Atoms

from curate.core.geometry import NeighborFinder
from curate.models.graphs.features import node_features
from curate.models.settings import DEFAULT_CUTOFF
from curate.store import FrameArrays

TABLE_BYTES = 2**30
"""Largest per-pair table (:meth:`GraphSet.pair_table`) a set keeps."""


@numba.njit(cache=True)
def pair_ids(
    centre: np.ndarray, neighbour: np.ndarray, shift: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Index (0 … P−1 within each frame) of the undirected pair {edge, reverse edge} of every
    edge, for frames of ``counts`` edges each sorted by (centre, neighbour, shift); pairs are
    numbered in order of their first edge."""
    pair = np.empty(len(centre), np.int64)
    start = 0
    for count in counts:
        end = start + count
        n = max(centre[end - 1], neighbour[start:end].max()) + 1 if count else 0
        block = np.full(n + 1, end)  # first edge of every centre
        c = 0
        for e in range(start, end):
            while c <= centre[e]:
                block[c] = e
                c += 1
        p = 0
        for e in range(start, end):
            i, j = centre[e], neighbour[e]
            s0, s1, s2 = shift[e, 0], shift[e, 1], shift[e, 2]
            if i < j or (i == j and (s0 < 0 or (s0 == 0 and (s1 < 0 or (s1 == 0 and s2 < 0))))):
                pair[e] = p
                p += 1
                continue
            r = block[j]  # the reverse edge (j, i, −shift) lies in centre j's block, seen already
            while r < block[j + 1] and (
                neighbour[r] != i or shift[r, 0] != -s0 or shift[r, 1] != -s1 or shift[r, 2] != -s2
            ):
                r += 1
            if r == block[j + 1]:
                raise ValueError("an edge without its reverse")
            pair[e] = pair[r]
        if 2 * p != count:
            raise ValueError("an edge without its reverse")
        start = end
    return pair


def _ranges(ptr: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows ``ptr[k]..ptr[k+1]`` for every ``k`` in ``idx``, concatenated, and their counts."""
    starts = ptr[idx]
    counts = ptr[idx + 1] - starts
    begin = torch.cumsum(counts, 0) - counts
    rows = torch.arange(int(counts.sum()), device=ptr.device)
    return rows + torch.repeat_interleave(starts - begin, counts), counts


@dataclass
class GraphBatch:
    """Several graphs as one disconnected graph, as PyG models take it."""

    x: torch.Tensor
    numbers: torch.Tensor
    edge_index: torch.Tensor
    distance: torch.Tensor
    batch: torch.Tensor
    num_graphs: int
    pair: torch.Tensor  # [E] index of each edge's undirected pair in the batch
    pair_distance: torch.Tensor  # [P]
    pair_rows: torch.Tensor  # [P] rows of the pairs in ``origin``
    origin: GraphSet | None = None  # the set the batch was gathered from

    def pair_values(
        self, key: Hashable, fn: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """``fn(pair_distance)``, taken from the origin set's table (:meth:`GraphSet.pair_table`)
        when it has one; ``fn`` must depend on the distances alone, ``key`` name it."""
        table = None if self.origin is None else self.origin.pair_table(key, fn)
        return fn(self.pair_distance) if table is None else table[self.pair_rows]

    def adjacency(self) -> torch.Tensor:
        """Sparse CSR [N, N] matrix with A[i, j] the sum of the distances of all edges j → i
        (periodic images of one pair merged), for models that aggregate Σ_j e_ji x_j: a sparse
        product instead of per-edge messages, several times faster on CPU."""
        n = len(self.x)
        source, centre = self.edge_index
        key = centre * n + source  # sorted, since edges are sorted by (centre, neighbour)
        entries, inverse = torch.unique_consecutive(key, return_inverse=True)
        values = torch.zeros(len(entries), dtype=self.distance.dtype, device=self.x.device)
        values.index_add_(0, inverse, self.distance)
        rows = torch.zeros(n + 1, dtype=torch.long, device=self.x.device)
        rows[1:] = torch.cumsum(torch.bincount(entries // n, minlength=n), 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch calls sparse CSR "beta"
            return torch.sparse_csr_tensor(rows, entries % n, values, (n, n))


@dataclass
class GraphSet:
    """Graphs of many frames as flat tensors (see the module docstring)."""

    numbers: torch.Tensor  # [N] int64
    x: torch.Tensor  # [N, 4] float32 node features
    edge_index: torch.Tensor  # [2, E] int64, local to each frame
    distance: torch.Tensor  # [E] float32, Å
    shift: torch.Tensor  # [E, 3] int16, cell shift of the source image
    pair: torch.Tensor  # [E] int64, undirected pair of each edge, local to each frame
    node_ptr: torch.Tensor  # [F + 1] int64
    edge_ptr: torch.Tensor  # [F + 1] int64
    pair_ptr: torch.Tensor  # [F + 1] int64
    cutoff: float

    def __post_init__(self) -> None:
        self._tables: dict[Hashable, torch.Tensor | None] = {}

    def __len__(self) -> int:
        return len(self.node_ptr) - 1

    @functools.cached_property
    def pair_edge(self) -> torch.Tensor:
        """Row of the first edge of every undirected pair, [P]."""
        n_edges = self.edge_ptr[1:] - self.edge_ptr[:-1]
        pair = self.pair + torch.repeat_interleave(self.pair_ptr[:-1], n_edges)
        rows = torch.arange(len(pair), device=self.device)
        first = torch.full((int(self.pair_ptr[-1]),), len(pair), device=self.device)
        return first.scatter_reduce_(0, pair, rows, "amin")

    @torch.no_grad()
    def pair_table(
        self, key: Hashable, fn: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor | None:
        """``fn`` of the distances of all pairs, computed once and kept under ``key``; None where
        it would take more than :data:`TABLE_BYTES`."""
        if key not in self._tables:
            probe = fn(self.distance[:1])
            size = probe.numel() * probe.element_size() * int(self.pair_ptr[-1])
            fits = size <= TABLE_BYTES
            self._tables[key] = fn(self.distance[self.pair_edge]) if fits else None
        return self._tables[key]

    @property
    def device(self) -> torch.device:
        return self.x.device

    def to(self, device: torch.device | str) -> GraphSet:
        """The same graphs on another device."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return GraphSet(**moved, cutoff=self.cutoff)

    def batch(self, frames: torch.Tensor | Sequence[int]) -> GraphBatch:
        """The graphs of ``frames`` (indices into this set) as one batch."""
        idx = torch.as_tensor(frames, dtype=torch.long, device=self.device)
        nodes, n_nodes = _ranges(self.node_ptr, idx)
        edges, n_edges = _ranges(self.edge_ptr, idx)
        pairs, n_pairs = _ranges(self.pair_ptr, idx)
        node_offset = torch.repeat_interleave(torch.cumsum(n_nodes, 0) - n_nodes, n_edges)
        pair_offset = torch.repeat_interleave(torch.cumsum(n_pairs, 0) - n_pairs, n_edges)
        graph = torch.arange(len(idx), device=self.device)
        return GraphBatch(
            x=self.x[nodes],
            numbers=self.numbers[nodes],
            edge_index=self.edge_index[:, edges] + node_offset,
            distance=self.distance[edges],
            batch=torch.repeat_interleave(graph, n_nodes),
            num_graphs=len(idx),
            pair=self.pair[edges] + pair_offset,
            pair_distance=self.distance[self.pair_edge[pairs]],
            pair_rows=pairs,
            origin=self,
        )

    def state(self) -> dict[str, torch.Tensor | float]:
        """Plain tensors for ``torch.save`` (loadable with ``weights_only=True``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_state(cls, state: dict) -> GraphSet:
        return cls(**{f.name: state[f.name] for f in fields(cls)})

    @classmethod
    def from_arrays(cls, frames: FrameArrays, cutoff: float = DEFAULT_CUTOFF) -> GraphSet:
        """Build the graphs of every frame: neighbours, element features, tensors."""
        ptr = np.asarray(frames.atom_ptr, dtype=np.int64)
        centre, neighbour, shift, distance, n_edges = NeighborFinder(cutoff).frames(
            frames.positions, frames.cell, frames.pbc, ptr
        )
        pair_ptr = np.concatenate([[0], np.cumsum(n_edges // 2)])  # every edge has its reverse
        return cls(
            numbers=torch.from_numpy(np.asarray(frames.numbers, dtype=np.int64)),
            x=torch.from_numpy(node_features(frames.numbers)),
            edge_index=torch.from_numpy(np.stack([neighbour, centre])),
            distance=torch.from_numpy(distance.astype(np.float32)),
            shift=torch.from_numpy(shift.astype(np.int16)),
            pair=torch.from_numpy(pair_ids(centre, neighbour, shift, n_edges)),
            node_ptr=torch.from_numpy(ptr),
            edge_ptr=torch.from_numpy(np.concatenate([[0], np.cumsum(n_edges)])),
            pair_ptr=torch.from_numpy(pair_ptr),
            cutoff=float(cutoff),
        )

    @classmethod
    def from_atoms(cls, frames: Sequence[Atoms], cutoff: float = DEFAULT_CUTOFF) -> GraphSet:
        """Build graphs of ``ase.Atoms`` frames."""
        counts = [len(a) for a in frames]
        arrays = FrameArrays(
            numbers=np.concatenate([a.numbers for a in frames]) if frames else np.zeros(0),
            positions=np.concatenate([a.positions for a in frames]) if frames else np.zeros((0, 3)),
            cell=np.array([a.cell.array for a in frames]).reshape(-1, 3, 3),
            pbc=np.array([a.pbc for a in frames], dtype=bool).reshape(-1, 3),
            atom_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        )
        return cls.from_arrays(arrays, cutoff)
