"""Hyperparameter search for the property models: a grid over architecture, learning rate,
hidden channels and dropout (the paper's grid by default), one training per trial on Dask
workers, every trial on the same graphs and split, the best chosen on validation MAE."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from curate.core.errors import InputError
from curate.models.graphs import GraphSet
from curate.models.networks.paper import ARCHITECTURES
from curate.models.settings import TrainConfig
from curate.models.train import fit, prepare
from curate.report.figures import pyplot, save_figure

PAPER_SPACE: dict[str, list] = {
    "model": list(ARCHITECTURES),
    "lr": [1e-2, 1e-3, 1e-4, 1e-5, 1e-6],
    "hidden": [32, 64, 128, 256],
    "dropout": [0.0, 0.2, 0.4, 0.6],
}
"""The paper's grid: 6 architectures × 5 learning rates × 4 widths × 4 dropouts = 480 trials."""


def trial_grid(
    space: dict[str, list], max_trials: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Every combination of ``space``, or a seeded random ``max_trials`` of them."""
    unknown = set(space) - set(PAPER_SPACE)
    if unknown:
        raise InputError(f"cannot search over {', '.join(sorted(unknown))}")
    if any(not values for values in space.values()):
        raise InputError("every searched hyperparameter needs at least one value")
    grid = [dict(zip(space, values, strict=True)) for values in itertools.product(*space.values())]
    if max_trials is not None and max_trials < len(grid):
        if max_trials < 1:
            raise InputError(f"--max-trials must be at least 1, got {max_trials}")
        keep = np.sort(np.random.default_rng(seed).choice(len(grid), max_trials, replace=False))
        grid = [grid[k] for k in keep]
    return grid


def run_trial(
    graphs: GraphSet, values: np.ndarray, split: dict[str, np.ndarray], config: TrainConfig
) -> dict[str, Any]:
    """Train one configuration (on a worker); its record, weights and wall time."""
    from curate.core.cluster import apply_worker_threads

    apply_worker_threads()
    start = time.perf_counter()
    result = fit(graphs, values, split, config)
    state = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    return {"record": result.record, "state": state, "seconds": time.perf_counter() - start}


def trial_row(trial: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
    """One line of the results table."""
    record = outcome["record"]
    row = dict(trial)
    for split, metrics in record["metrics"].items():
        row.update({f"{split}_{k}": v for k, v in metrics.items() if k in ("mae", "rmse", "r2")})
    row["epochs"] = record["training"]["epochs"]
    row["best_epoch"] = record["training"]["best_epoch"]
    row["seconds"] = round(outcome["seconds"], 2)
    return row


@dataclass
class SearchResult:
    """Rows of all trials (best first by validation MAE) and the best trial's record and weights."""

    rows: list[dict[str, Any]]
    best_record: dict[str, Any]
    best_state: dict[str, torch.Tensor]


def search(
    store_path: str | Path,
    base: TrainConfig,
    trials: list[dict[str, Any]],
    client_options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Train every trial (``base`` with the trial's values) on Dask workers."""
    from distributed import as_completed

    from curate.core.cluster import dask_client

    data = prepare(store_path, base)
    rows, best, best_mae = [], None, float("inf")
    with dask_client(**(client_options or {})) as client:
        shared = [data.graphs, data.values, data.split]
        graphs, values, split = client.scatter(shared, broadcast=True)
        futures = {
            client.submit(
                run_trial, graphs, values, split, base.model_copy(update=trial), pure=False
            ): trial
            for trial in trials
        }
        for done, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            row = trial_row(futures[future], outcome)
            rows.append(row)
            if row["val_mae"] < best_mae:
                best_mae, best = row["val_mae"], outcome
            if progress is not None:
                progress(done, len(trials))
            future.release()
    if best is None:
        raise InputError("no trial reached a finite validation error")
    best["record"]["training"].update(data.source)
    rows.sort(key=lambda r: (np.nan_to_num(r["val_mae"], nan=np.inf), str(r)))
    return SearchResult(rows, best["record"], best["state"])


def violin_plot(
    rows: list[dict[str, Any]], space: dict[str, list], path: str | Path, metric: str, unit: str
) -> None:
    """Distribution of ``metric`` over the trials for each value of each searched
    hyperparameter (the paper's Supp. Figs. 5–8)."""
    plt = pyplot()

    names = [name for name, values in space.items() if len(values) > 1] or list(space)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), dpi=150, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        groups, labels = [], []
        for value in space[name]:
            scores = [r[metric] for r in rows if r[name] == value and np.isfinite(r[metric])]
            if scores:
                groups.append(scores)
                labels.append(f"{value:g}" if isinstance(value, float) else str(value))
        if groups:
            ax.violinplot(groups, showmedians=True)
            ax.set_xticks(range(1, len(labels) + 1), labels, rotation=45 if name == "model" else 0)
        ax.set_xlabel(name)
        ax.set_ylabel(f"{metric} ({unit})")
        ax.set_yscale("log" if metric.endswith(("mae", "rmse")) else "linear")
    save_figure(fig, path)
