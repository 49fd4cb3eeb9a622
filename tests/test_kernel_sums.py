"""Kernel sums of a set with itself: the blocked, symmetric, pruned sum behind entropy and
diversity equals brute force within its stated bound, and QUESTS's own estimators."""

from __future__ import annotations

import numpy as np
import pytest

from curate.metrics.information import information
from curate.metrics.kernel_sums import box_gaps, self_kernel_sums, tree_order

H = 0.015


def clustered(n: int = 3000, seed: int = 0) -> np.ndarray:
    """Environments in four clusters far apart and one spread cloud, with exact repeats."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.3, (4, 63))
    x = np.concatenate(
        [c + rng.normal(0, 0.6 * H, (n // 5, 63)) for c in centres]
        + [rng.normal(0, 4 * H, (n - 4 * (n // 5), 63))]
    )
    x[-50:] = x[:50]  # duplicates count twice
    return rng.permutation(x)


def brute_force(x: np.ndarray, h: float) -> np.ndarray:
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1)
    return np.exp(-d2 / (2 * h * h)).sum(axis=1)


def test_kernel_sums_equal_brute_force_within_the_bound():
    x = clustered()
    exact = brute_force(x, H)
    sums = self_kernel_sums(x, H, block=64)
    assert sums.skipped_fraction > 0.5  # the four clusters never meet
    assert np.max(np.abs(sums.p / exact - 1)) <= sums.relative_error_bound
    one_thread = self_kernel_sums(x, H, block=64, threads=1)
    assert np.allclose(one_thread.p, sums.p, rtol=1e-13, atol=0)


def test_a_vanishing_tolerance_skips_only_pairs_that_underflow():
    x = clustered(600, seed=1)
    sums = self_kernel_sums(x, H, tolerance=1e-300, block=32)
    assert sums.cutoff_bandwidths > 37  # exp(−37²/2) underflows a double
    assert np.allclose(sums.p, brute_force(x, H), rtol=1e-10, atol=0)


def test_entropy_and_diversity_equal_quests():
    from quests.entropy import get_all_metrics

    x = clustered(4000, seed=2)
    entropy, diversity, _ = get_all_metrics(x, h=H, batch_size=1000)
    info = information(x, H)
    assert info.entropy == pytest.approx(entropy, rel=1e-9)
    assert info.diversity == pytest.approx(diversity, rel=1e-9)


def test_blocks_partition_the_set_and_boxes_bound_their_points():
    x = clustered(1000, seed=3)
    order, blocks = tree_order(x, 100)
    assert sorted(order.tolist()) == list(range(len(x)))
    assert all(0 < b - a <= 100 for a, b in blocks) and blocks[-1][1] == len(x)
    xs = x[order]
    lo = np.array([xs[a:b].min(axis=0) for a, b in blocks])
    hi = np.array([xs[a:b].max(axis=0) for a, b in blocks])
    gaps = box_gaps(lo, hi)
    for i, j in [(0, 5), (2, 7), (3, 3)]:
        (a0, a1), (b0, b1) = blocks[i], blocks[j]
        d = np.sqrt(((xs[a0:a1, None] - xs[None, b0:b1]) ** 2).sum(-1))
        assert gaps[i, j] <= d.min() + 1e-12  # a lower bound on every pair's distance
