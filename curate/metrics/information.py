"""Information entropy, diversity and novelty of atomic environments (QUESTS).

With a Gaussian kernel k(x, y) = exp(−|x − y|² / 2h²) on descriptors and p(x) = Σ_j k(x, x_j):

* entropy H = −(1/N) Σ_i log(p(x_i) / N) (nats): how spread the environments are;
* diversity D = log Σ_i 1 / p(x_i): the log of the effective number of distinct environments;
* novelty dH(y | X) = −log Σ_j k(y, x_j): positive when no environment of X lies within about a
  bandwidth of y. A reference environment is covered by X when dH ≤ 0.

Entropy and diversity use curate's blocked, symmetric kernel sums with a stated error bound
(:mod:`curate.metrics.kernel_sums`); novelty uses quests's compiled, batched cross sums, exact, so
that dH of an environment far from the set stays finite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.core.errors import InputError
from curate.metrics.settings import DEFAULT_BANDWIDTH

BATCH = 2000
"""Rows per block of quests's kernel sums: fast on a few cores without large temporaries."""
NOVELTY_TOLERANCE = 1e-8
"""nats. A set's own environments have dH ≤ 0 exactly; quests's distance via |x|² + |y|² − 2x·y
leaves roundoff of about 1e-13, which must not count as novelty."""


def check_bandwidth(h: float) -> float:
    if not (np.isfinite(h) and h > 0):
        raise InputError(f"bandwidth must be positive, got {h}")
    return float(h)


@dataclass(frozen=True)
class Information:
    """Entropy H and diversity D (nats) of a set of environments."""

    entropy: float
    diversity: float

    @classmethod
    def from_kernel_sums(cls, p: np.ndarray) -> Information:
        """H and D from every environment's kernel sum p(x_i) (its own term included)."""
        return cls(float(-np.mean(np.log(p / len(p)))), float(np.log(np.sum(1.0 / p))))


def information(x: np.ndarray, h: float = DEFAULT_BANDWIDTH) -> Information:
    """Entropy and diversity of the environments ``x`` (rows) at bandwidth ``h``: QUESTS's
    estimators, on kernel sums that leave out only pairs whose kernel is negligible (relative
    error below 1e-8; :mod:`curate.metrics.kernel_sums`)."""
    from curate.metrics.kernel_sums import self_kernel_sums

    if not len(x):
        raise InputError("no environments to measure")
    return Information.from_kernel_sums(self_kernel_sums(x, check_bandwidth(h)).p)


def novelty(y: np.ndarray, x: np.ndarray, h: float = DEFAULT_BANDWIDTH) -> np.ndarray:
    """dH(y | x) of every row of ``y`` with respect to the set ``x`` (nats)."""
    from quests.entropy import delta_entropy

    with np.errstate(divide="ignore"):  # log(0) = −∞ where the kernel sum underflows
        return delta_entropy(y, x, h=check_bandwidth(h), batch_size=BATCH)


@dataclass(frozen=True)
class Coverage:
    """Share of reference environments that are not novel to a set, and their mean dH over
    those whose kernel sum did not underflow (dH = ∞: farther than about 38 bandwidths from
    every environment of the set; they count as novel)."""

    fraction: float
    mean_dh: float


def coverage(reference: np.ndarray, x: np.ndarray, h: float = DEFAULT_BANDWIDTH) -> Coverage:
    """How much of ``reference`` the environments ``x`` cover (dH ≤ 0, up to roundoff)."""
    dh = novelty(reference, x, h)
    finite = dh[np.isfinite(dh)]
    mean_dh = float(finite.mean()) if len(finite) else float("inf")
    return Coverage(float(np.mean(dh <= NOVELTY_TOLERANCE)), mean_dh)
