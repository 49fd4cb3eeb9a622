"""Kernel sums of a set of environments with itself, p_i = Σ_j exp(−|x_i − x_j|² / 2h²), fast
and with a stated bound on what is left out.

The all-pairs sum behind QUESTS's entropy and diversity is quadratic in the number of
environments. Three things make it cheaper without changing its numbers beyond the bound:

* **order**: environments are sorted into blocks of near neighbours by recursive bisection along
  each node's principal axis, so that most pairs of blocks lie far apart;
* **skip**: environments are rotated onto their principal axes (distances unchanged) and each
  block bounded by its box; a pair of blocks whose boxes lie farther apart than the cutoff
  c = h·√(2 ln(N/ε)) holds only pairs whose kernel is below ε/N, and so does every pair beyond c
  within a computed block. Each p_i ≥ 1 (its own term) loses less than N·ε/N = ε, a relative error
  below ε (default 1e-8) in every p_i, and so below ε in the entropy and the diversity (nats);
* **halve**: the kernel is symmetric, so each pair of blocks is computed once, its kernel matrix
  summed along both axes.

Distances come from BLAS products in float64 (|x|² + |y|² − 2x·y, clipped at 0: cancellation
stays near 1e-16·|x|², far below h² for QUESTS descriptors), the exponentials from a compiled
loop; pairs of blocks are shared among threads, one per core, each with single-threaded BLAS.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numba as nb
import numpy as np

DEFAULT_TOLERANCE = 1e-8
"""Bound on the relative error of every kernel sum from the pairs left out."""
BLOCK = 256
"""Environments per block: large enough for efficient BLAS products, small enough to skip."""
POWER_STEPS = 8
"""Power iterations for each node's principal axis (an approximate axis only changes speed)."""


@dataclass(frozen=True)
class KernelSums:
    """The kernel sum of every environment (in input order), the cutoff used (in bandwidths), the
    share of pairs never computed, and the bound on the relative error of each sum."""

    p: np.ndarray
    cutoff_bandwidths: float
    skipped_fraction: float
    relative_error_bound: float


def tree_order(x: np.ndarray, block: int = BLOCK) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A permutation of the rows of ``x`` grouping near rows, and the blocks (start, stop) of at
    most ``block`` rows it is cut into: recursive median splits along each node's principal
    axis."""
    leaves: list[np.ndarray] = []
    stack = [np.arange(len(x))]
    while stack:
        idx = stack.pop()
        if len(idx) <= block:
            leaves.append(idx)
            continue
        part = x[idx]
        centred = part - part.mean(axis=0)
        axis = np.zeros(x.shape[1])
        axis[int(np.argmax(centred.var(axis=0)))] = 1.0
        for _ in range(POWER_STEPS):
            axis = centred.T @ (centred @ axis)
            norm = np.linalg.norm(axis)
            if norm == 0:
                break
            axis /= norm
        side = centred @ axis
        half = len(idx) // 2
        split = np.argpartition(side, half)
        stack += [idx[split[half:]], idx[split[:half]]]
    order = np.concatenate(leaves)
    stops = np.cumsum([len(leaf) for leaf in leaves])
    return order, list(zip(np.concatenate([[0], stops[:-1]]).tolist(), stops.tolist(), strict=True))


@nb.njit(nogil=True, cache=True)
def _gaussian_sums(cross, norms_a, norms_b, scale, limit, sums_a, sums_b, both):  # pragma: no cover
    """Add exp(−d²·scale) of every pair with d² < ``limit`` to the row sums ``sums_a`` (and, when
    ``both``, the column sums ``sums_b``); ``cross`` holds x_a · x_b."""
    rows, cols = cross.shape
    for i in range(rows):
        total = 0.0
        for j in range(cols):
            d2 = norms_a[i] + norms_b[j] - 2.0 * cross[i, j]
            if d2 < limit:
                k = math.exp(-max(d2, 0.0) * scale)
                total += k
                if both:
                    sums_b[j] += k
        sums_a[i] += total


def box_gaps(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Smallest distance between the axis-aligned boxes [lo, hi] of every pair of blocks."""
    gaps = np.zeros((len(lo), len(lo)))
    for k in range(lo.shape[1]):
        apart = np.maximum(lo[None, :, k] - hi[:, None, k], lo[:, None, k] - hi[None, :, k])
        gaps += np.maximum(apart, 0.0) ** 2
    return np.sqrt(gaps)


def self_kernel_sums(
    x: np.ndarray,
    h: float,
    tolerance: float = DEFAULT_TOLERANCE,
    block: int = BLOCK,
    threads: int | None = None,
) -> KernelSums:
    """p_i = Σ_j exp(−|x_i − x_j|² / 2h²) over all j (i included), each within a relative
    ``tolerance`` of the full sum, on ``threads`` threads (default: the usable cores)."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0:
        return KernelSums(np.zeros(0), 0.0, 0.0, 0.0)
    cutoff = h * math.sqrt(2.0 * math.log(max(n, 2) / tolerance))
    centred = x - x.mean(axis=0)
    _, _, axes = np.linalg.svd(centred[:: max(1, n // 20000)], full_matrices=False)
    rotated = centred @ axes.T  # principal axes: distances unchanged, boxes tight
    order, blocks = tree_order(rotated, block)
    xs = np.ascontiguousarray(rotated[order])
    norms = np.einsum("ij,ij->i", xs, xs)
    lo = np.array([xs[a:b].min(axis=0) for a, b in blocks])
    hi = np.array([xs[a:b].max(axis=0) for a, b in blocks])
    near = box_gaps(lo, hi) <= cutoff
    pairs = [tuple(ij) for ij in np.argwhere(np.triu(near)).tolist()]
    scale, limit = 0.5 / (h * h), cutoff * cutoff
    threads = threads or len(os.sched_getaffinity(0))

    def work(share: list[tuple[int, int]]) -> np.ndarray:
        sums = np.zeros(n)
        with threadpool_limits(1, "blas"):
            for i, j in share:
                (a0, a1), (b0, b1) = blocks[i], blocks[j]
                cross = xs[a0:a1] @ xs[b0:b1].T
                _gaussian_sums(
                    cross,
                    norms[a0:a1],
                    norms[b0:b1],
                    scale,
                    limit,
                    sums[a0:a1],
                    sums[b0:b1],
                    i != j,
                )
        return sums

    with ThreadPoolExecutor(threads) as pool:
        sums = sum(pool.map(work, [pairs[k::threads] for k in range(threads)]))
    size = np.array([b - a for a, b in blocks])
    weight = np.triu(near) * (2 - np.eye(len(blocks)))  # each pair once, both ways off the diagonal
    computed = float(size @ weight @ size)
    p = np.empty(n)
    p[order] = sums
    return KernelSums(p, cutoff / h, 1.0 - computed / (n * n), tolerance)
