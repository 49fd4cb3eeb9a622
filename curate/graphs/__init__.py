"""Radius graphs of periodic crystals for property GNNs: compiled neighbour lists, element
features, collated tensors, and a disk cache keyed by the frames' content."""

from curate.graphs.cache import store_graphs
from curate.graphs.features import FEATURES, node_features
from curate.graphs.graphset import DEFAULT_CUTOFF, GraphBatch, GraphSet
from curate.graphs.neighbors import NeighborFinder

__all__ = [
    "DEFAULT_CUTOFF",
    "FEATURES",
    "GraphBatch",
    "GraphSet",
    "NeighborFinder",
    "node_features",
    "store_graphs",
]
