"""The Vendi score (Friedman & Dieng, TMLR 2023): the effective number of distinct items in a set.

For n items with a similarity kernel K (K_ii = 1), VS_q = exp(H_q(λ)) where λ are the eigenvalues
of K / n and H_q their Rényi entropy of order q (Shannon at q = 1). n identical items score 1,
n mutually orthogonal ones score n.
"""

from __future__ import annotations

import math

import numpy as np

from curate.core.errors import InputError

EIGENVALUE_FLOOR = 1e-12
"""Eigenvalues below this are roundoff of a positive semi-definite kernel, not weight."""


def vendi_score(kernel: np.ndarray, q: float = 1.0) -> float:
    """Vendi score of order ``q`` (≥ 0; ``math.inf`` gives 1 / λ_max) of a similarity matrix
    with unit diagonal."""
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or not len(kernel):
        raise InputError(f"a Vendi kernel must be a non-empty square matrix, got {kernel.shape}")
    if not np.allclose(np.diag(kernel), 1.0, atol=1e-8):
        raise InputError("a Vendi kernel needs unit self-similarity (K_ii = 1)")
    if not q >= 0:
        raise InputError(f"Vendi order q must be non-negative, got {q}")
    lam = np.linalg.eigvalsh((kernel + kernel.T) / (2 * len(kernel)))
    lam = lam[lam > EIGENVALUE_FLOOR]
    if q == 1:
        return float(np.exp(-np.sum(lam * np.log(lam))))
    if math.isinf(q):
        return float(1.0 / lam.max())
    return float(np.exp(np.log(np.sum(lam**q)) / (1.0 - q)))
