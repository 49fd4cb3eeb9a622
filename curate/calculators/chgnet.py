"""CHGNet's ASE calculator with gradients taken to first order only.

On every call CHGNet asks autograd for a differentiable graph of its forces and stress
(``create_graph=True``): training on forces needs it, labelling and MD do not. Without it the
backward passes, most of a call, are cheaper and the values are the same up to float32
summation order (tested against CHGNet's own calculator).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from chgnet.model.dynamics import CHGNetCalculator


@contextlib.contextmanager
def first_order_gradients() -> Iterator[None]:
    """``torch.autograd.grad`` without ``create_graph`` inside the block (this process)."""
    grad = torch.autograd.grad

    def first_order(*args, **kwargs):
        kwargs["create_graph"] = False
        return grad(*args, **kwargs)

    torch.autograd.grad = first_order
    try:
        yield
    finally:
        torch.autograd.grad = grad


class InferenceCHGNet(CHGNetCalculator):
    """:class:`CHGNetCalculator` computing forces and stress as first-order gradients."""

    def calculate(self, *args, **kwargs) -> None:
        with first_order_gradients():
            super().calculate(*args, **kwargs)
