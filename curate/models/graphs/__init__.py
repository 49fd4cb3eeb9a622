"""Radius graphs of periodic crystals for property GNNs: compiled neighbour lists, element
features, collated tensors, and a disk cache keyed by the frames' content."""

from curate.core.geometry import NeighborFinder
from curate.models.graphs.cache import store_graphs
from curate.models.graphs.features import FEATURES, node_features
from curate.models.graphs.graphset import GraphBatch, GraphSet
from curate.models.settings import DEFAULT_CUTOFF

__all__ = [
    "DEFAULT_CUTOFF",
    "FEATURES",
    "GraphBatch",
    "GraphSet",
    "NeighborFinder",
    "node_features",
    "store_graphs",
]
