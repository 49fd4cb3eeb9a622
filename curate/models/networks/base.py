"""What every property model shares: the call signature, input scaling and the output layer."""

from __future__ import annotations

import torch
from torch import nn

from curate.models.graphs import GraphBatch

OUTPUTS = {"linear": nn.Identity, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus}
"""Output activations on the (standardised) prediction; linear extrapolates, the others bound it
(the paper's scripts used a sigmoid)."""


class PropertyModel(nn.Module):
    """A graph-level regressor: ``model(x, edge_index, distance, batch, num_graphs)`` → [G].

    ``x`` holds raw node features (atomic number first, see :data:`curate.models.graphs.FEATURES`);
    models scale them with statistics of the training split, set by :meth:`fit_inputs`.
    :meth:`predict` runs a :class:`GraphBatch` through the fastest inputs a model takes; the
    plain call is what PyG's explainers use.
    """

    def __init__(self, n_features: int, output: str):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        self.output = OUTPUTS[output]()

    def fit_inputs(self, x: torch.Tensor) -> None:
        """Set the node-feature scaling from the training split's nodes: standardised columns,
        except that a column constant there (one element only) becomes 1, not 0, so that sums
        over neighbours still see it."""
        mean = x.mean(0)
        std = x.std(0) if len(x) > 1 else torch.zeros_like(mean)
        constant = std <= 1e-6 * mean.abs().clamp_min(1.0)
        scale = torch.where(mean.abs() > 0, mean.abs(), torch.ones_like(mean))
        self.feature_mean.copy_(torch.where(constant, torch.zeros_like(mean), mean))
        self.feature_std.copy_(torch.where(constant, scale, std))

    def predict(self, b: GraphBatch) -> torch.Tensor:
        """Outputs [G] for a batch."""
        return self(b.x, b.edge_index, b.distance, b.batch, b.num_graphs)

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.feature_mean) / self.feature_std
