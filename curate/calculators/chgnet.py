"""CHGNet's ASE calculator with forces and stress from one first-order backward pass.

On every call CHGNet asks autograd twice, once for forces and once for stress, each time for a
differentiable graph of the result (``create_graph=True``): training on forces needs that,
labelling and MD do not. Here one backward pass gives both gradients without a graph of them;
the values are the same up to float32 summation order (tested against CHGNet's own calculator).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from chgnet.model.dynamics import CHGNetCalculator
from chgnet.model.model import BatchedGraph


@contextlib.contextmanager
def one_backward_pass() -> Iterator[None]:
    """Inside the block (this process), CHGNet's force and stress gradients of a batched graph
    come from a single first-order ``torch.autograd.grad`` call."""
    grad, descriptor = torch.autograd.grad, BatchedGraph.__dict__["from_graphs"]
    from_graphs = BatchedGraph.from_graphs
    batch: list[BatchedGraph] = []
    strain_gradients: dict[int, tuple] = {}

    def record(*args, **kwargs) -> BatchedGraph:
        batch[:] = [from_graphs(*args, **kwargs)]
        return batch[0]

    def first_order(outputs, inputs, *args, **kwargs):
        kwargs["create_graph"] = False
        graph = batch[0] if batch else None
        if graph is None:
            return grad(outputs, inputs, *args, **kwargs)
        if inputs is graph.strains and id(inputs) in strain_gradients:
            return strain_gradients.pop(id(inputs))
        strains = [s for s in graph.strains if s is not None]
        if inputs is not graph.atom_positions or len(strains) != len(graph.strains):
            return grad(outputs, inputs, *args, **kwargs)
        both = grad(outputs, [*inputs, *strains], *args, **kwargs)
        strain_gradients[id(graph.strains)] = tuple(both[len(inputs) :])
        return tuple(both[: len(inputs)])

    torch.autograd.grad = first_order
    BatchedGraph.from_graphs = record
    try:
        yield
    finally:
        torch.autograd.grad = grad
        BatchedGraph.from_graphs = descriptor


class InferenceCHGNet(CHGNetCalculator):
    """:class:`CHGNetCalculator` computing forces and stress in one first-order backward pass."""

    def calculate(self, *args, **kwargs) -> None:
        with one_backward_pass():
            super().calculate(*args, **kwargs)
