"""Judging a property model on labelled frames: per-frame targets from a label set, batched
predictions, MAE/RMSE/R², a density-coloured parity plot, and whole evaluations of a model file
on a store or an extxyz file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from curate.core.errors import InputError
from curate.core.labels import Status
from curate.models.graphs import GraphSet, store_graphs
from curate.models.networks import PropertyModel
from curate.report.figures import draw_parity, pyplot, save_figure
from curate.store import Store
from curate.store.label_sets import pick_label_set

STORE_SUFFIXES = (".zarr",)


def frame_targets(store: Store, target: str, label_set: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame values of ``target`` (stored or derived) and which frames can be used: labelled
    ``ok`` with a finite value."""
    labels = store.labels(label_set)
    values = np.asarray(labels[target], dtype=np.float64)
    if values.shape != (store.n_frames,):
        raise InputError(
            f"'{target}' is not a per-frame scalar (shape {values.shape[1:]}); "
            "use energy_per_atom, hydrostatic_stress, band_gap, vbm, cbm or another scalar label"
        )
    return values, (labels.status == Status.OK) & np.isfinite(values)


@torch.no_grad()
def predict(
    model: PropertyModel, graphs: GraphSet, frames: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Model outputs (in the model's standardised units) for ``frames`` of ``graphs``."""
    model.eval()
    out = []
    for chunk in torch.as_tensor(frames, dtype=torch.long).split(batch_size):
        out.append(model.predict(graphs.batch(chunk)).cpu())
    return torch.cat(out).double().numpy() if out else np.zeros(0)


def regression_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, R² (1 − SS_res/SS_tot; NaN for fewer than two frames), the mean signed error
    (bias: an offset that R² punishes on a narrow set) and the count."""
    err = pred - truth
    n = len(truth)
    ss_tot = float(((truth - truth.mean()) ** 2).sum()) if n else 0.0
    return {
        "n": n,
        "mae": float(np.abs(err).mean()) if n else float("nan"),
        "rmse": float(np.sqrt((err**2).mean())) if n else float("nan"),
        "bias": float(err.mean()) if n else float("nan"),
        "r2": 1.0 - float((err**2).sum()) / ss_tot if n > 1 and ss_tot > 0 else float("nan"),
    }


def parity_plot(
    truth: np.ndarray, pred: np.ndarray, path: str | Path, label: str, title: str = ""
) -> None:
    """A parity plot (see :func:`draw_parity`) written to ``path``."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(4.5, 4.2), dpi=150)
    points = draw_parity(ax, truth, pred, label, title)
    fig.colorbar(points, ax=ax, label="point density")
    save_figure(fig, path)


def split_frames_of(record: dict[str, Any], store: Store, split: str) -> np.ndarray:
    """Frame indices of the model's ``split`` (train, val or test); the store must be the one
    the model was trained on."""
    training = record["training"]
    if split not in training["split"]:
        raise InputError(f"unknown split '{split}' (train, val, test)")
    if Path(store.path).resolve() != Path(training["store"]):
        raise InputError(f"--split needs the store the model was trained on ({training['store']})")
    return np.asarray(training["split"][split], dtype=np.int64)


def evaluate_store(
    model: PropertyModel,
    record: dict[str, Any],
    store: Store,
    label_set: str | None = None,
    split: str | None = None,
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics of a loaded model on the usable frames of ``store`` (all, or one split of its
    training), with truths and predictions in the target's units."""
    target = record["target"]
    label_set = pick_label_set(store, label_set, prefer=target["label_set"])
    values, usable = frame_targets(store, target["name"], label_set)
    if split is not None:
        usable &= np.isin(np.arange(len(usable)), split_frames_of(record, store, split))
    frames = np.flatnonzero(usable)
    if not len(frames):
        raise InputError(f"no frame of {store.path} has an ok '{target['name']}' in {label_set}")
    device = next(model.buffers()).device
    graphs = store_graphs(store, record["model"]["cutoff"]).to(device)
    pred = predict(model, graphs, frames) * target["std"] + target["mean"]
    truth = values[frames]
    return regression_metrics(truth, pred), truth, pred


def evaluate(
    model_path: str | Path,
    data: str | Path,
    label_set: str | None = None,
    plot: str | Path | None = None,
    device: str | torch.device = "cpu",
    split: str | None = None,
) -> dict[str, Any]:
    """Evaluate a model file on a store, or on any ASE-readable file with ``REF_energy`` /
    ``REF_stress`` / ``band_gap``… fields (imported into a temporary store first). ``split``
    limits a store the model was trained on to that part of the model's split."""
    from curate.models.checkpoint import load_checkpoint

    model, record = load_checkpoint(model_path, device)
    data = Path(data)
    if not data.exists():
        raise InputError(f"no data at {data}")
    with tempfile.TemporaryDirectory(prefix="curate-evaluate-") as tmp:
        if data.is_dir() or data.suffix in STORE_SUFFIXES:
            store_path = data
        else:
            from curate.store.extxyz import import_structures

            store_path = Path(tmp) / "data.zarr"
            import_structures(data, store_path)
        with Store.open(store_path) as store:
            metrics, truth, pred = evaluate_store(model, record, store, label_set, split)
    target = record["target"]
    if plot is not None:
        where = data.name if split is None else f"{data.name} ({split})"
        title = f"{record['model']['name']} on {where}: R² {metrics['r2']:.3f}"
        parity_plot(truth, pred, plot, f"{target['name']} ({target['unit']})", title)
    return {
        "model": str(model_path),
        "architecture": record["model"]["name"],
        "data": str(data),
        "split": split,
        "target": target["name"],
        "unit": target["unit"],
        "metrics": metrics,
        "plot": str(plot) if plot is not None else None,
    }
