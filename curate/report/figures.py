"""Figures as PNG files: matplotlib without a display, one way of writing a figure, and the
parity plot every model report draws."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: float | None = None) -> Path:
    """Lay ``fig`` out, write it to ``path`` (folders made as needed) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def draw_parity(ax: Any, truth: np.ndarray, pred: np.ndarray, label: str, title: str = "") -> Any:
    """Predicted against true values on ``ax``, points coloured by their local density
    (Gaussian KDE); returns the scatter for a colour bar."""
    from matplotlib.ticker import MaxNLocator
    from scipy.stats import gaussian_kde

    colour = np.ones(len(truth))
    if len(truth) > 2 and np.ptp(truth) > 0 and np.ptp(pred) > 0:
        # Perfectly correlated points have no 2-D density: keep one colour.
        with contextlib.suppress(np.linalg.LinAlgError):
            colour = gaussian_kde(np.vstack([truth, pred]))(np.vstack([truth, pred]))
    order = np.argsort(colour)
    points = ax.scatter(truth[order], pred[order], c=colour[order], s=10, cmap="viridis")
    lo = float(min(truth.min(), pred.min())) if len(truth) else 0.0
    hi = float(max(truth.max(), pred.max())) if len(truth) else 1.0
    ax.plot([lo, hi], [lo, hi], color="0.4", lw=1, ls="--")
    ax.set_aspect("equal")
    ax.xaxis.set_major_locator(MaxNLocator(4))  # long tick labels of a square panel never touch
    ax.set_xlabel(f"true {label}")
    ax.set_ylabel(f"predicted {label}")
    ax.set_title(title, fontsize=8)
    return points
