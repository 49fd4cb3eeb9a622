"""Similarity of whole structures from their atomic environments.

The kernel between structures A and B is the mean Gaussian kernel over all pairs of their
environments, normalised to unit self-similarity (the normalised average kernel of De et al.,
PCCP 2016, here on QUESTS descriptors): K_AB = k̄_AB / √(k̄_AA k̄_BB), with
k̄_AB = (1 / n_A n_B) Σ_{i∈A, j∈B} exp(−|x_i − x_j|² / 2h²). It is the cosine similarity of the
structures' mean feature maps, so it is positive semi-definite and invariant to atom order.
"""

from __future__ import annotations

import numpy as np

from curate.metrics.descriptors import Environments
from curate.metrics.information import check_bandwidth

BLOCK_ELEMENTS = 25_000_000
"""Environment pairs per block (200 MB of float64)."""


def structure_kernel(env: Environments, h: float) -> np.ndarray:
    """The normalised average-kernel matrix (frames × frames) of ``env``'s frames."""
    inv = 0.5 / check_bandwidth(h) ** 2
    x, ptr = env.x, env.ptr
    n = len(env)
    squares = np.einsum("ij,ij->i", x, x)
    rows_per_block = max(1, BLOCK_ELEMENTS // max(len(x), 1))
    sums = np.empty((n, n))
    first = 0
    while first < n:
        # Whole frames per block: at least one, at most about rows_per_block environments.
        last = max(first + 1, int(np.searchsorted(ptr, ptr[first] + rows_per_block, "right")) - 1)
        last = min(last, n)
        rows = slice(ptr[first], ptr[last])
        block = x[rows] @ x.T
        block *= -2.0
        block += squares[rows, None]
        block += squares[None, :]
        np.maximum(block, 0.0, out=block)
        block *= -inv
        np.exp(block, out=block)
        per_frame = np.add.reduceat(block, ptr[:-1], axis=1)
        sums[first:last] = np.add.reduceat(per_frame, ptr[first:last] - ptr[first], axis=0)
        first = last
    counts = np.diff(ptr).astype(float)
    mean = sums / np.outer(counts, counts)
    mean = (mean + mean.T) / 2
    scale = np.sqrt(np.diag(mean))
    return mean / np.outer(scale, scale)


def nearest_neighbour_similarity(kernel: np.ndarray) -> float:
    """Mean over items of the similarity to their most similar other item (1: every item has
    a twin); NaN for fewer than two items."""
    if len(kernel) < 2:
        return float("nan")
    others = np.where(np.eye(len(kernel), dtype=bool), -np.inf, kernel)
    return float(others.max(axis=1).mean())
