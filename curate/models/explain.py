"""Which bonds a property model looks at: PyG's GNNExplainer edge masks over many structures,
aggregated by bond type (Ag–S, Ag–Br, …), as in the paper's Fig. 5."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase.data import chemical_symbols

from curate.models.graphs import GraphSet
from curate.models.networks import PropertyModel
from curate.report.figures import pyplot, save_figure

SIGNIFICANT = 0.86
"""Edge importance above which the paper calls an edge significant."""


@dataclass
class EdgeImportance:
    """Edge masks of the explained frames, one entry per edge."""

    frame: np.ndarray  # index of the frame in the store
    source: np.ndarray  # atom index within the frame
    target: np.ndarray
    bond: np.ndarray  # "Ag–S": the two species, sorted
    distance: np.ndarray
    importance: np.ndarray  # GNNExplainer edge mask, in [0, 1]


def bond_names(numbers: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Bond type of each edge: the two element symbols, sorted, joined by an en dash."""
    symbols = np.array(chemical_symbols, dtype=object)
    pairs = np.sort(np.stack([symbols[numbers[source]], symbols[numbers[target]]]), axis=0)
    return np.array([f"{a}–{b}" for a, b in pairs.T], dtype=object)


def explain_frames(
    model: PropertyModel,
    graphs: GraphSet,
    frames: np.ndarray,
    epochs: int = 100,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> EdgeImportance:
    """GNNExplainer edge masks of ``model``'s output for each of ``frames``."""
    from torch_geometric.explain import Explainer, GNNExplainer

    explainer = Explainer(
        model=model,
        algorithm=GNNExplainer(epochs=epochs),
        explanation_type="model",
        edge_mask_type="object",
        node_mask_type=None,
        model_config={"mode": "regression", "task_level": "graph", "return_type": "raw"},
    )
    torch.manual_seed(seed)
    rows: list[tuple[np.ndarray, ...]] = []
    for done, frame in enumerate(frames, start=1):
        b = graphs.batch([int(frame)])
        explanation = explainer(b.x, b.edge_index, distance=b.distance, batch=b.batch, num_graphs=1)
        source, target = b.edge_index.cpu().numpy()
        rows.append(
            (
                np.full(len(source), frame),
                source,
                target,
                bond_names(b.numbers.cpu().numpy(), source, target),
                b.distance.cpu().numpy(),
                explanation.edge_mask.detach().cpu().numpy(),
            )
        )
        if progress is not None:
            progress(done, len(frames))
    columns = [np.concatenate(c) for c in zip(*rows, strict=True)]
    return EdgeImportance(*columns)


def bond_summary(edges: EdgeImportance, threshold: float = SIGNIFICANT) -> dict[str, Any]:
    """Per bond type: edge count, mean, median and spread of importance, and the share of edges
    above ``threshold``; sorted by mean importance, highest first."""
    summary = {}
    for bond in np.unique(edges.bond):
        values = edges.importance[edges.bond == bond]
        summary[str(bond)] = {
            "n_edges": len(values),
            "mean": float(values.mean()),
            "median": float(np.median(values)),
            "std": float(values.std()),
            "significant_fraction": float((values > threshold).mean()),
        }
    return dict(sorted(summary.items(), key=lambda item: -item[1]["mean"]))


def top_edges(edges: EdgeImportance, k: int = 20) -> list[dict[str, Any]]:
    """The ``k`` most important edges."""
    order = np.argsort(-edges.importance, kind="stable")[:k]
    return [
        {
            "frame": int(edges.frame[i]),
            "source": int(edges.source[i]),
            "target": int(edges.target[i]),
            "bond": str(edges.bond[i]),
            "distance": float(edges.distance[i]),
            "importance": float(edges.importance[i]),
        }
        for i in order
    ]


def density_plot(
    explained: dict[str, EdgeImportance], path: str | Path, threshold: float = SIGNIFICANT
) -> None:
    """Density of edge importance per bond type, one panel per model (the paper's Fig. 5e,f)."""
    plt = pyplot()
    from scipy.stats import gaussian_kde

    bonds = sorted({str(b) for edges in explained.values() for b in np.unique(edges.bond)})
    grid = np.linspace(0.0, 1.0, 201)
    fig, axes = plt.subplots(
        1, len(explained), figsize=(4.8 * len(explained), 3.6), dpi=150, sharey=True, squeeze=False
    )
    for ax, (name, edges) in zip(axes[0], explained.items(), strict=True):
        for bond in bonds:
            values = edges.importance[edges.bond == bond]
            if len(values) > 1 and np.ptp(values) > 0:
                ax.plot(grid, gaussian_kde(values)(grid), label=bond)
        ax.axvline(threshold, color="0.5", ls="--", lw=1)
        ax.set_xlabel("edge importance")
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("density")
    axes[0][-1].legend(fontsize=7)
    save_figure(fig, path)


def explain_model(
    model_path: str | Path,
    store_path: str | Path,
    n_frames: int = 50,
    split: str | None = None,
    epochs: int = 100,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], EdgeImportance]:
    """Explain a model file on a seeded random ``n_frames`` of a store (or of one split of the
    model's own training store); its record and the edge importances."""
    from curate.core.errors import InputError
    from curate.models.checkpoint import load_checkpoint
    from curate.models.evaluate import split_frames_of
    from curate.models.graphs import store_graphs
    from curate.store import Store

    if n_frames < 1:
        raise InputError(f"--frames must be at least 1, got {n_frames}")
    model, record = load_checkpoint(model_path)
    with Store.open(store_path) as store:
        if store.n_frames == 0:
            raise InputError(f"{store_path} has no frames")
        pool = np.arange(store.n_frames) if split is None else split_frames_of(record, store, split)
        graphs = store_graphs(store, record["model"]["cutoff"])
    rng = np.random.default_rng(seed)
    frames = np.sort(rng.choice(pool, min(n_frames, len(pool)), replace=False))
    return record, explain_frames(model, graphs, frames, epochs, seed, progress)
