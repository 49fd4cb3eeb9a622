"""Training a property model on a store: seeded splits, targets standardised with training-split
statistics, Adam with learning-rate decay on plateaus, early stopping on validation loss, and a
checkpoint holding the weights and the full configuration."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from curate.core.devices import resolve_device
from curate.core.errors import InputError
from curate.core.labels import UNITS
from curate.models.checkpoint import save_checkpoint
from curate.models.evaluate import frame_targets, predict, regression_metrics
from curate.models.graphs import GraphSet, store_graphs
from curate.models.networks import PropertyModel, build_model
from curate.models.settings import TrainConfig
from curate.store import Store
from curate.store.label_sets import pick_label_set

SPLITS = ("train", "val", "test")

Progress = Callable[[int, int, float, float], None]
"""progress(epoch, max_epochs, train_loss, val_loss), called after every epoch."""


@dataclass
class TrainResult:
    """A trained model (best validation epoch), its metrics per split and the checkpoint record."""

    model: PropertyModel
    metrics: dict[str, dict[str, float]]
    record: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)


def split_frames(
    frames: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> dict[str, np.ndarray]:
    """A seeded random train/val/test split of ``frames`` (each part sorted)."""
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise InputError(
            f"split fractions must be three non-negative numbers summing to 1: {fractions}"
        )
    order = np.random.default_rng(seed).permutation(frames)
    n_val = round(fractions[1] * len(frames))
    n_test = round(fractions[2] * len(frames))
    n_train = len(frames) - n_val - n_test
    parts = np.split(order, [n_train, n_train + n_val])
    return {name: np.sort(part) for name, part in zip(SPLITS, parts, strict=True)}


def _check_split(split: dict[str, np.ndarray], n_usable: int, target: str) -> None:
    sizes = {name: len(part) for name, part in split.items()}
    if sizes["train"] < 2 or sizes["val"] < 1 or sizes["test"] < 1:
        raise InputError(
            f"too few frames with '{target}' labels to train: {n_usable} usable gives "
            f"train/val/test {sizes['train']}/{sizes['val']}/{sizes['test']} "
            "(need at least 2/1/1)"
        )


def fit(
    graphs: GraphSet,
    y: np.ndarray,
    split: dict[str, np.ndarray],
    config: TrainConfig,
    progress: Progress | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``graphs`` (already on the target device) with targets ``y``
    (per frame, target units) and a given split; no files are read or written."""
    _check_split(split, sum(len(p) for p in split.values()), config.target)
    device = graphs.device
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    mean, std = float(y[split["train"]].mean()), float(y[split["train"]].std())
    std = std if std > 0 else 1.0
    y_std = torch.as_tensor((y - mean) / std, dtype=torch.float32, device=device)
    model = build_model(**config.model_options()).to(device)
    train = torch.as_tensor(split["train"], dtype=torch.long, device=device)
    train_nodes = graphs.batch(train).x
    model.fit_inputs(train_nodes)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=0.5, patience=max(config.patience // 5, 2), min_lr=config.lr * 1e-3
    )
    best, best_state, best_epoch, since = float("inf"), copy.deepcopy(model.state_dict()), 0, 0
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "lr": []}
    val_truth = y_std[torch.as_tensor(split["val"], device=device)].double().cpu().numpy()
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        total = 0.0
        order = train[torch.randperm(len(train), generator=generator).to(device)]
        for chunk in order.split(config.batch_size):
            pred = model.predict(graphs.batch(chunk))
            loss = torch.nn.functional.mse_loss(pred, y_std[chunk])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(chunk)
        val_loss = float(np.mean((predict(model, graphs, split["val"]) - val_truth) ** 2))
        scheduler.step(val_loss)
        history["train_loss"].append(total / len(train))
        history["val_loss"].append(val_loss)
        history["lr"].append(optimiser.param_groups[0]["lr"])
        if progress is not None:
            progress(epoch, config.max_epochs, total / len(train), val_loss)
        if not np.isfinite(val_loss):  # diverged: keep the best weights so far
            break
        if val_loss < best:
            best, best_epoch, since = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since += 1
            if since >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    metrics = {
        name: regression_metrics(y[part], predict(model, graphs, part) * std + mean)
        for name, part in split.items()
    }
    record = {
        "model": config.model_options(),
        "target": {
            "name": config.target,
            "unit": UNITS.get(config.target, ""),
            "mean": mean,
            "std": std,
            "label_set": config.label_set,
        },
        "training": {
            "config": {
                k: list(v) if isinstance(v, tuple) else v for k, v in config.model_dump().items()
            },
            "split": {name: part.tolist() for name, part in split.items()},
            "epochs": len(history["val_loss"]),
            "best_epoch": best_epoch,
            "device": str(device),
            "history": history,
        },
        "metrics": metrics,
    }
    return TrainResult(model, metrics, record, history)


@dataclass
class Prepared:
    """What training reads from a store: graphs, per-frame targets, the split, the source."""

    graphs: GraphSet
    values: np.ndarray
    split: dict[str, np.ndarray]
    source: dict[str, Any]


def prepare(store_path: str | Path, config: TrainConfig) -> Prepared:
    """Graphs, targets and the seeded split of the usable frames of a store; fills in
    ``config.label_set``. Every input error surfaces here, before any training."""
    with Store.open(store_path) as store:
        config.label_set = pick_label_set(store, config.label_set)
        values, usable = frame_targets(store, config.target, config.label_set)
        frames = np.flatnonzero(usable)
        seed = config.seed if config.split_seed is None else config.split_seed
        split = split_frames(frames, config.fractions, seed)
        _check_split(split, len(frames), config.target)
        graphs = store_graphs(store, config.cutoff)
        source = {"store": str(Path(store_path).resolve()), "commit": store.commit}
    return Prepared(graphs, values, split, source)


def train(
    store_path: str | Path,
    config: TrainConfig,
    out: str | Path | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train on the ``ok`` frames of a store and write the checkpoint to ``out``."""
    device = torch.device(resolve_device(config.device))
    data = prepare(store_path, config)
    start = time.perf_counter()
    result = fit(data.graphs.to(device), data.values, data.split, config, progress)
    result.record["training"].update(data.source, seconds=round(time.perf_counter() - start, 3))
    if out is not None:
        save_checkpoint(out, result.model, result.record)
    return result
