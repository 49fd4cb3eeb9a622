"""A small SchNet (Schütt et al. 2018) on the periodic radius graph: element embeddings,
distances expanded in Gaussians under a cosine cutoff, continuous-filter convolutions with
residual updates, and per-atom outputs averaged (intensive targets) or summed (extensive)."""

from __future__ import annotations

import math

import numba
import torch
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter

from curate.models.graphs import GraphBatch
from curate.models.networks.base import PropertyModel

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
        self, h: torch.Tensor, edge_index: torch.Tensor, rbf: torch.Tensor, envelope: torch.Tensor
    ) -> torch.Tensor:
        """``rbf`` and ``envelope`` per edge."""
        weight = self.filter(rbf) * envelope[:, None]
        return self.update_net(self.propagate(edge_index, x=self.inward(h), weight=weight))

    def message(self, x_j: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return x_j * weight

    def pairwise(
        self,
        h: torch.Tensor,
        edge_index: torch.Tensor,
        centre_ptr: torch.Tensor,
        pair: torch.Tensor,
        rbf: torch.Tensor,
        envelope: torch.Tensor,
    ) -> torch.Tensor:
        """The same with ``rbf`` and ``envelope`` per undirected pair, ``pair`` [E] mapping edges
        to pairs; edges sorted by centre, ``centre_ptr`` [N + 1] delimiting each centre's."""
        x, filters = self.inward(h), self.filter(rbf)
        if x.device.type == "cpu":
            v = PairConvolution.apply(x, filters, envelope, centre_ptr, edge_index[0], pair)
        else:
            v = pair_convolution(x, filters, envelope, edge_index, pair)
        return self.update_net(v)


def pair_convolution(
    x: torch.Tensor,
    filters: torch.Tensor,
    envelope: torch.Tensor,
    edge_index: torch.Tensor,
    pair: torch.Tensor,
) -> torch.Tensor:
    """Σ_j x_j ⊙ (filters ⊙ envelope)[pair_ji] into every centre i, by tensor operations."""
    weight = filters * envelope[:, None]
    messages = x.index_select(0, edge_index[0]) * weight.index_select(0, pair)
    return torch.zeros_like(x).index_add_(0, edge_index[1], messages)


class PairConvolution(torch.autograd.Function):
    """:func:`pair_convolution` by compiled loops over the edges (CPU), without per-edge
    tensors; the same arithmetic in the same order."""

    @staticmethod
    def forward(ctx, x, filters, envelope, centre_ptr, source, pair):
        x, filters = x.detach().contiguous(), filters.detach().contiguous()
        envelope = envelope.detach().contiguous()
        out = torch.zeros_like(x)
        ctx.save_for_backward(x, filters, envelope, centre_ptr, source, pair)
        arrays = (x, filters, envelope, centre_ptr, source, pair, out)
        _convolve(*(a.numpy() for a in arrays))
        return out

    @staticmethod
    def backward(ctx, grad):
        x, filters, envelope, centre_ptr, source, pair = ctx.saved_tensors
        grad_x, grad_filters = torch.zeros_like(x), torch.zeros_like(filters)
        arrays = (grad.contiguous(), x, filters, envelope, centre_ptr, source, pair)
        _convolve_backward(*(a.numpy() for a in arrays), grad_x.numpy(), grad_filters.numpy())
        return grad_x, grad_filters, None, None, None, None


@numba.njit(cache=True)
def _convolve(x, filters, envelope, centre_ptr, source, pair, out):
    for i in range(len(centre_ptr) - 1):
        for e in range(centre_ptr[i], centre_ptr[i + 1]):
            j, p = source[e], pair[e]
            for c in range(x.shape[1]):
                out[i, c] += x[j, c] * (filters[p, c] * envelope[p])


@numba.njit(cache=True)
def _convolve_backward(grad, x, filters, envelope, centre_ptr, source, pair, grad_x, grad_filters):
    for i in range(len(centre_ptr) - 1):
        for e in range(centre_ptr[i], centre_ptr[i + 1]):
            j, p = source[e], pair[e]
            for c in range(x.shape[1]):
                grad_x[j, c] += grad[i, c] * (filters[p, c] * envelope[p])
                grad_filters[p, c] += grad[i, c] * x[j, c]
    for p in range(len(envelope)):
        for c in range(x.shape[1]):
            grad_filters[p, c] *= envelope[p]


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

    def envelope(self, distance: torch.Tensor) -> torch.Tensor:
        """The cosine cutoff, 1 at zero distance and 0 at the cutoff."""
        return 0.5 * (torch.cos(distance * math.pi / self.cutoff) + 1.0)

    def predict(self, b: GraphBatch) -> torch.Tensor:
        """Filters once per undirected pair, from the pairs' Gaussians and envelope in the set's
        tables; compiled message loops on CPU."""
        rbf = b.pair_values(("gaussians", self.cutoff, len(self.expand.centres)), self.expand)
        envelope = b.pair_values(("cosine cutoff", self.cutoff), self.envelope)
        n = len(b.x)
        centre_ptr = torch.zeros(n + 1, dtype=torch.long, device=b.x.device)
        centre_ptr[1:] = torch.cumsum(torch.bincount(b.edge_index[1], minlength=n), 0)
        h = self.embedding(b.x[:, 0].round().long())
        for block in self.interactions:
            h = h + block.pairwise(h, b.edge_index, centre_ptr, b.pair, rbf, envelope)
        return self.pool(h, b.batch, b.num_graphs)

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        distance: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int | None = None,
    ) -> torch.Tensor:
        """Per-edge filters and messages."""
        rbf, envelope = self.expand(distance), self.envelope(distance)
        h = self.embedding(x[:, 0].round().long())
        for block in self.interactions:
            h = h + block(h, edge_index, rbf, envelope)
        return self.pool(h, batch, num_graphs)

    def pool(self, h: torch.Tensor, batch: torch.Tensor, num_graphs: int | None) -> torch.Tensor:
        """Per-atom outputs, averaged or summed per graph."""
        per_atom = self.atomwise(h).squeeze(-1)
        return self.output(scatter(per_atom, batch, 0, num_graphs, reduce=self.readout))
