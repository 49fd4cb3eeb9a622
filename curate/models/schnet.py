"""A small SchNet (Schütt et al. 2018) on the periodic radius graph: element embeddings,
distances expanded in Gaussians under a cosine cutoff, continuous-filter convolutions with
residual updates, and per-atom outputs averaged (intensive targets) or summed (extensive)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter

from curate.graphs import GraphBatch
from curate.models.base import PropertyModel

MAX_Z = 119


class ShiftedSoftplus(nn.Module):
    """softplus(x) − log 2, zero at zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(x) - math.log(2.0)


class GaussianExpansion(nn.Module):
    """Distances → ``n`` Gaussians centred evenly on [0, cutoff], width one spacing."""

    def __init__(self, cutoff: float, n: int):
        super().__init__()
        centres = torch.linspace(0.0, cutoff, n)
        self.register_buffer("centres", centres)
        self.coeff = -0.5 / float(centres[1] - centres[0]) ** 2

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.coeff * (distance[:, None] - self.centres) ** 2)


class Interaction(MessagePassing):
    """Continuous-filter convolution: v_i = Σ_j x_j ⊙ W(r_ij) · f_cut(r_ij), then a dense update."""

    def __init__(self, hidden: int, n_gaussians: int):
        super().__init__(aggr="add")
        self.filter = nn.Sequential(
            nn.Linear(n_gaussians, hidden), ShiftedSoftplus(), nn.Linear(hidden, hidden)
        )
        self.inward = nn.Linear(hidden, hidden, bias=False)
        self.update_net = nn.Sequential(
            nn.Linear(hidden, hidden), ShiftedSoftplus(), nn.Linear(hidden, hidden)
        )

    def forward(
        self,
        h: torch.Tensor,
        edge_index: torch.Tensor,
        rbf: torch.Tensor,
        envelope: torch.Tensor,
        pair: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``rbf`` and ``envelope`` per edge, or per undirected pair with ``pair`` mapping edges to
        pairs (the filter depends on the distance alone, so each pair's is computed once)."""
        weight = self.filter(rbf) * envelope[:, None]
        if pair is not None:
            weight = weight[pair]
        return self.update_net(self.propagate(edge_index, x=self.inward(h), weight=weight))

    def message(self, x_j: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return x_j * weight


class SchNet(PropertyModel):
    """SchNet with ``interactions`` blocks of width ``hidden``."""

    def __init__(
        self,
        n_features: int = 4,
        hidden: int = 64,
        interactions: int = 3,
        n_gaussians: int = 50,
        cutoff: float = 5.5,
        readout: str = "mean",
        dropout: float = 0.0,
        output: str = "linear",
    ):
        super().__init__(n_features, output)
        self.cutoff = float(cutoff)
        self.readout = readout
        self.embedding = nn.Embedding(MAX_Z, hidden)
        self.expand = GaussianExpansion(cutoff, n_gaussians)
        self.interactions = nn.ModuleList(
            Interaction(hidden, n_gaussians) for _ in range(interactions)
        )
        self.atomwise = nn.Sequential(
            nn.Linear(hidden, hidden // 2),
            ShiftedSoftplus(),
            nn.Dropout(dropout),
            nn.Linear(hidden // 2, 1),
        )

    def predict(self, b: GraphBatch) -> torch.Tensor:
        return self(b.x, b.edge_index, b.distance, b.batch, b.num_graphs, b.pair, b.pair_distance)

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        distance: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int | None = None,
        pair: torch.Tensor | None = None,
        pair_distance: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-edge filters, or with ``pair`` and ``pair_distance`` one per undirected pair."""
        h = self.embedding(x[:, 0].round().long())
        d = distance if pair is None else pair_distance
        rbf = self.expand(d)
        envelope = 0.5 * (torch.cos(d * math.pi / self.cutoff) + 1.0)
        for block in self.interactions:
            h = h + block(h, edge_index, rbf, envelope, pair)
        per_atom = self.atomwise(h).squeeze(-1)
        return self.output(scatter(per_atom, batch, 0, num_graphs, reduce=self.readout))
