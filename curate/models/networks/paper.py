"""The paper's six GraphConv architectures (Morris et al.: x'_i = W1 x_i + W2 Σ_j e_ji x_j with
the interatomic distance as edge weight e_ji), each block GraphConv → BatchNorm → ReLU, then
graph pooling, dropout and a two-layer head."""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch_geometric.nn import GraphConv, global_max_pool, global_mean_pool

from curate.models.graphs import GraphBatch
from curate.models.networks.base import PropertyModel

ARCHITECTURES: dict[str, tuple[int, str]] = {
    "paper-1": (2, "mean"),
    "paper-2": (2, "max"),
    "paper-3": (3, "mean"),
    "paper-4": (3, "max"),
    "paper-5": (4, "mean"),
    "paper-6": (4, "max+mean"),
}
"""Name → (GraphConv blocks, pooling). ``max+mean`` concatenates both pools."""

POOLS = {"max": global_max_pool, "mean": global_mean_pool}


class PaperGNN(PropertyModel):
    """One of :data:`ARCHITECTURES`, on the four scaled element features. ``edge_index`` may be
    the sparse adjacency of :meth:`GraphBatch.adjacency` (then ``distance`` is not used), which
    :meth:`predict` passes: a sparse product instead of per-edge messages."""

    def __init__(
        self,
        architecture: str,
        n_features: int = 4,
        hidden: int = 64,
        dropout: float = 0.2,
        output: str = "linear",
    ):
        super().__init__(n_features, output)
        n_blocks, pooling = ARCHITECTURES[architecture]
        widths = [n_features] + [hidden] * n_blocks
        self.convs = nn.ModuleList(
            GraphConv(a, b, aggr="add") for a, b in itertools.pairwise(widths)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(n_blocks))
        self.pools = [POOLS[p] for p in pooling.split("+")]
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(
            nn.Linear(hidden * len(self.pools), hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def predict(self, b: GraphBatch) -> torch.Tensor:
        return self(b.x, b.adjacency(), b.distance, b.batch, b.num_graphs)

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        distance: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int | None = None,
    ) -> torch.Tensor:
        h = self.scaled(x)
        weight = None if edge_index.layout == torch.sparse_csr else distance
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = torch.relu(norm(conv(h, edge_index, weight)))
        pooled = torch.cat([pool(h, batch, num_graphs) for pool in self.pools], dim=-1)
        return self.output(self.head(self.dropout(pooled))).squeeze(-1)
