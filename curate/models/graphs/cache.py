"""Graphs of a store, built once and cached on disk.

The cache key is a hash of the store's frame uids (content hashes of numbers, positions, cell
and pbc, so appending frames or copying the store is handled), the cutoff and the graph format;
labels do not enter graphs, so relabelling keeps the cache valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from curate.core.cache import cache_root
from curate.core.files import atomic_write
from curate.core.identity import cache_key
from curate.models.graphs.graphset import DEFAULT_CUTOFF, GraphSet
from curate.store import Store

GRAPH_FORMAT = "curate-graphs-2"


def graphs_key(uids: np.ndarray, cutoff: float) -> str:
    """Hex key of a set of frames at a cutoff."""
    return cache_key(GRAPH_FORMAT, float(cutoff), arrays=(np.asarray(uids, dtype=np.uint64),))


def store_graphs(store: Store, cutoff: float = DEFAULT_CUTOFF, cache: bool = True) -> GraphSet:
    """Graphs of every committed frame of ``store``, from the cache when it has them."""
    path = cache_root("graphs") / f"{graphs_key(store.uids(), cutoff)}.pt"
    if cache and path.exists():
        try:
            return GraphSet.from_state(torch.load(path, weights_only=True))
        except Exception:  # a truncated or foreign file: rebuild it
            path.unlink(missing_ok=True)
    graphs = GraphSet.from_arrays(store.arrays(), cutoff)
    if cache:
        _save(graphs, path)
    return graphs


def _save(graphs: GraphSet, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(graphs.state(), tmp))
