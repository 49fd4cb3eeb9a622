"""A 2-D map of structures: principal components of their descriptor vectors, drawn as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def principal_components(vectors: np.ndarray, n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of ``vectors`` (rows) on their first ``n`` principal axes, and the share of
    the variance each axis explains."""
    centred = vectors - vectors.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variance = s**2
    total = variance.sum()
    share = variance[:n] / total if total > 0 else np.zeros(min(n, len(s)))
    coords = centred @ vt[:n].T
    if coords.shape[1] < n:  # fewer samples or features than axes
        coords = np.pad(coords, ((0, 0), (0, n - coords.shape[1])))
        share = np.pad(share, (0, n - len(share)))
    return coords, share


def plot_map(
    coords: np.ndarray,
    groups: Sequence[str],
    share: np.ndarray,
    path: Path,
    title: str,
    reference: str | None = None,
) -> Path:
    """Scatter of ``coords`` coloured by group (the ``reference`` group drawn as grey crosses
    underneath) written to ``path`` as PNG."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, no GUI

    groups = np.asarray(groups)
    fig = Figure(figsize=(6.4, 5.2), dpi=150)
    ax = fig.add_subplot()
    if reference is not None and (groups == reference).any():
        mask = groups == reference
        ax.scatter(*coords[mask].T, marker="x", s=14, c="0.6", lw=0.8, label=reference)
    for name in sorted(set(groups.tolist()) - {reference}):
        mask = groups == name
        ax.scatter(*coords[mask].T, s=14, alpha=0.8, label=f"{name} ({mask.sum()})")
    ax.set_xlabel(f"PC1 ({100 * share[0]:.0f} % of variance)")
    ax.set_ylabel(f"PC2 ({100 * share[1]:.0f} % of variance)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
