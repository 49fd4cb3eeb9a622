"""Property-GNN cells of the learning-curve grid: one model (``schnet`` or the paper's
``paper-1`` … ``paper-6``) per (scheme, target, size, seed), fitted to one per-frame scalar label
of the cell's training frames and early-stopped on its validation frames, then asked for the
frames of every test split and the reference. The workers share one copy of the store's graphs.

Light to import: torch loads only when a cell is planned or trained.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.compare.family import Fit, FitTarget, ModelFamily, Task, TrainingOptions
from curate.models.settings import PROPERTY_MODELS

if TYPE_CHECKING:
    import numpy as np

    from curate.models.graphs import GraphSet
    from curate.models.train import TrainConfig
    from curate.store import Store

DEFAULTS = {"lr": 3e-3, "max_epochs": 300, "patience": 50}
"""Training options of property-model cells when none is given."""


def train_cell(
    graphs: GraphSet,
    values: np.ndarray,
    split: dict[str, np.ndarray],
    config: TrainConfig,
    evaluate_on: np.ndarray,
    reference: GraphSet | None,
) -> dict[str, Any]:
    """Fit one cell (on a worker) and predict, in target units, the frames ``evaluate_on`` of
    ``graphs`` and every frame of ``reference``."""
    import numpy as np

    from curate.core.cluster import apply_worker_threads
    from curate.models.evaluate import predict
    from curate.models.train import fit as fit_model

    apply_worker_threads()
    start = time.perf_counter()
    result = fit_model(graphs, values, split, config)
    mean, std = result.record["target"]["mean"], result.record["target"]["std"]
    out = {
        "tests": (predict(result.model, graphs, evaluate_on) * std + mean).tolist(),
        "reference": None,
        "epochs": result.record["training"]["epochs"],
        "best_epoch": result.record["training"]["best_epoch"],
    }
    if reference is not None:
        frames = np.arange(len(reference))
        out["reference"] = (predict(result.model, reference, frames) * std + mean).tolist()
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out


def frame_values(store: Store, target: str, label_set: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame values of a scalar label and which frames are ``ok`` with one."""
    from curate.models.evaluate import frame_targets

    return frame_targets(store, target, label_set)


def _graphs(store: Store, options: TrainingOptions) -> GraphSet:
    """The radius graphs of every frame of ``store`` (cached on disk by their content)."""
    from curate.models.graphs import store_graphs

    return store_graphs(store, options.cutoff)


class PropertyFamily(ModelFamily):
    """Property GNNs, one per target: :func:`train_cell` on the store's graphs."""

    name = "property"
    label = "property GNNs"
    summary = "schnet or paper-1 … paper-6 (a property GNN per cell and target)"
    default_targets = ("energy_per_atom",)
    training_defaults = DEFAULTS

    def models(self) -> tuple[str, ...]:
        return PROPERTY_MODELS

    def fits(self, targets: tuple[str, ...]) -> list[FitTarget]:
        return [FitTarget(t, (t,), (t,)) for t in targets]

    target_values = staticmethod(frame_values)

    def train_settings(
        self, options: TrainingOptions, target: str, seed: int, label_set: str
    ) -> TrainConfig:
        from curate.models.train import TrainConfig

        return TrainConfig(
            target=target,
            model=options.model,
            label_set=label_set,
            hidden=options.hidden,
            dropout=options.dropout,
            lr=options.lr,
            batch_size=options.batch_size,
            max_epochs=options.max_epochs,
            patience=options.patience,
            seed=seed,
            cutoff=options.cutoff,
            device="cpu",
        )

    def reference_data(self, store: Store, options: TrainingOptions) -> GraphSet:
        return _graphs(store, options)

    def worker_inputs(
        self, store: Store, evaluate_on: np.ndarray, values: dict, options: TrainingOptions
    ) -> dict[str, Any]:
        return {"graphs": _graphs(store, options)} | {f"values:{t}": v for t, v in values.items()}

    def task(self, fit: Fit, shared: dict[str, Any], folder: Path, evaluate_on: np.ndarray) -> Task:
        args = (
            shared["graphs"],
            shared[f"values:{fit.cells[0].target}"],
            fit.split,
            fit.config,
            evaluate_on,
            shared["reference"],
        )
        return train_cell, args


FAMILY = PropertyFamily()
