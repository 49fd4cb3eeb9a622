"""Learning curves that score samplers.

Each scheme of a labelled store gets a fixed, seeded held-out test split; the rest is its pool.
For every seed the pool is shuffled once and the training subsets are its nested prefixes (the
first 20 frames, the first 40, …); a share of each subset stops training early (validation), the
rest is fitted. Every model is tested on its own scheme's test split, on every other scheme's
(the paper's cross-test), on their union, and on a common reference set when given. The grid of
(scheme, target, size, seed) runs on Dask workers, sharing one copy of the graphs; each cell's
predictions are cached under the output folder, keyed by everything that decides them, so a
re-run or an extended grid trains only what is new.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import InputError
from curate.evaluation import frame_targets, predict
from curate.graphs import DEFAULT_CUTOFF, GraphSet, store_graphs
from curate.labelling import pick_label_set
from curate.models import DEFAULT_MODEL, MODELS
from curate.store import Store
from curate.training import TrainConfig, fit

CELL_FORMAT = "curate-compare-cell-1"
COMBINED = "combined"
REFERENCE = "reference"

Progress = Callable[[int, int], None]
"""progress(cells done, cells in all)."""


@dataclass(frozen=True)
class CompareSettings:
    """The grid and how each cell trains (defaults suit learning curves on small subsets)."""

    targets: tuple[str, ...] = ("energy_per_atom",)
    sizes: tuple[int, ...] = (50, 100, 200, 400)
    seeds: int = 5
    model: str = DEFAULT_MODEL
    label_set: str | None = None
    test_fraction: float = 0.2
    val_fraction: float = 0.2
    hidden: int | None = None
    dropout: float | None = None
    lr: float = 3e-3
    batch_size: int = 8
    max_epochs: int = 300
    patience: int = 50
    cutoff: float = DEFAULT_CUTOFF
    split_seed: int = 0

    def __post_init__(self) -> None:
        if not self.targets:
            raise InputError("give at least one --target")
        if not self.sizes or min(self.sizes) < 3:
            raise InputError(f"training sizes must be at least 3 frames, got {self.sizes}")
        if self.seeds < 1:
            raise InputError(f"--seeds must be at least 1, got {self.seeds}")
        if self.model not in MODELS:
            raise InputError(f"unknown model '{self.model}' (models: {', '.join(MODELS)})")
        for name in ("test_fraction", "val_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise InputError(f"{name} must lie between 0 and 1, got {getattr(self, name)}")
        object.__setattr__(self, "sizes", tuple(sorted(set(self.sizes))))

    def train_config(self, target: str, seed: int, label_set: str) -> TrainConfig:
        """The training configuration of one cell."""
        return TrainConfig(
            target=target,
            model=self.model,
            label_set=label_set,
            hidden=self.hidden,
            dropout=self.dropout,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=seed,
            cutoff=self.cutoff,
            device="cpu",
        )


@dataclass(frozen=True)
class Cell:
    """One training run of the grid."""

    scheme: str
    target: str
    size: int
    seed: int


@dataclass
class Plan:
    """The store's frames as the grid sees them."""

    label_set: str
    values: dict[str, np.ndarray]  # target → per-frame values
    tests: dict[str, np.ndarray]  # scheme → held-out frames
    pools: dict[str, np.ndarray]  # scheme → frames training subsets come from
    dropped: dict[str, int]  # scheme → frames without every target

    @property
    def schemes(self) -> list[str]:
        return sorted(self.tests)

    @property
    def test_union(self) -> np.ndarray:
        return np.sort(np.concatenate(list(self.tests.values())))

    def subset(self, cell: Cell, val_fraction: float) -> dict[str, np.ndarray]:
        """Train and validation frames of a cell (nested in size for one seed)."""
        pool = np.random.default_rng([cell.seed, 1]).permutation(self.pools[cell.scheme])
        chosen = pool[: cell.size]
        n_val = max(1, round(val_fraction * cell.size))
        val = np.random.default_rng([cell.seed, cell.size]).choice(chosen, n_val, replace=False)
        train = np.setdiff1d(chosen, val)
        return {"train": train, "val": np.sort(val), "test": self.tests[cell.scheme]}


def plan(store: Store, settings: CompareSettings) -> Plan:
    """Label set, targets and each scheme's test split and pool; sizes the pools cannot give
    are refused with one line."""
    label_set = pick_label_set(store, settings.label_set)
    values, usable = {}, np.ones(store.n_frames, dtype=bool)
    for target in settings.targets:
        values[target], ok = frame_targets(store, target, label_set)
        usable &= ok
    schemes = store.categorical("scheme")
    tests, pools, dropped = {}, {}, {}
    for k, scheme in enumerate(sorted(set(schemes.tolist()))):
        members = np.flatnonzero(schemes == scheme)
        frames = members[usable[members]]
        dropped[scheme] = len(members) - len(frames)
        if not len(frames):
            continue
        order = np.random.default_rng([settings.split_seed, k]).permutation(frames)
        n_test = max(1, round(settings.test_fraction * len(frames)))
        tests[scheme], pools[scheme] = np.sort(order[:n_test]), order[n_test:]
    if len(tests) < 1:
        raise InputError(
            f"no frame of {store.path} has ok labels for {', '.join(settings.targets)}"
        )
    short = {s: len(p) for s, p in pools.items() if len(p) < max(settings.sizes)}
    if short:
        have = ", ".join(f"{s} {n}" for s, n in sorted(short.items()))
        raise InputError(
            f"training size {max(settings.sizes)} is larger than the frames left for training "
            f"after the test split ({have}); lower --sizes or label more frames"
        )
    return Plan(label_set, values, tests, pools, dropped)


def cell_key(
    cell: Cell, config: TrainConfig, uids: dict[str, np.ndarray], truth: np.ndarray
) -> str:
    """Hash of everything that decides a cell's predictions: its settings, the content uids of
    its train/val/test-union/reference frames and the labels it trains on."""
    h = hashlib.blake2b(digest_size=16)
    described = {"format": CELL_FORMAT, "cell": dataclasses.asdict(cell)}
    described["config"] = dataclasses.asdict(config)
    h.update(json.dumps(described, sort_keys=True, default=str).encode())
    for name in sorted(uids):
        h.update(name.encode())
        h.update(np.ascontiguousarray(uids[name], dtype=np.uint64).tobytes())
    h.update(np.ascontiguousarray(truth, dtype=np.float64).tobytes())
    return h.hexdigest()


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
    from curate.cluster import apply_worker_threads

    apply_worker_threads()
    start = time.perf_counter()
    result = fit(graphs, values, split, config)
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


@dataclass
class Reference:
    """The common reference set: its graphs and per-target truths (NaN where unusable)."""

    path: Path
    label_set: str
    graphs: GraphSet
    values: dict[str, np.ndarray]
    uids: np.ndarray


def load_reference(path: Path, settings: CompareSettings, label_set: str) -> Reference:
    """Graphs and targets of the reference store, from the label set named like the compared
    store's when it has one."""
    with Store.open(path) as store:
        name = label_set if label_set in store.label_sets() else pick_label_set(store, None)
        values = {}
        for target in settings.targets:
            v, ok = frame_targets(store, target, name)
            values[target] = np.where(ok, v, np.nan)
        if not any(np.isfinite(v).any() for v in values.values()):
            raise InputError(f"reference {path} has no ok labels for {', '.join(settings.targets)}")
        return Reference(path, name, store_graphs(store, settings.cutoff), values, store.uids())


def run_grid(
    store_path: Path,
    settings: CompareSettings,
    cache_dir: Path,
    reference: Reference | None = None,
    client_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[Plan, dict[Cell, dict[str, Any]]]:
    """Train (or read from the cache) every cell; their predictions by cell."""
    with Store.open(store_path) as store:
        grid = plan(store, settings)
        uids = store.uids()
        graphs = store_graphs(store, settings.cutoff)
    cells = [
        Cell(scheme, target, size, seed)
        for target in settings.targets
        for scheme in grid.schemes
        for size in settings.sizes
        for seed in range(settings.seeds)
    ]
    evaluate_on = grid.test_union
    shared_uids = {"tests": uids[evaluate_on]}
    if reference is not None:
        shared_uids["reference"] = reference.uids
    cache_dir.mkdir(parents=True, exist_ok=True)
    results: dict[Cell, dict[str, Any]] = {}
    todo: dict[Cell, tuple[str, dict[str, np.ndarray], TrainConfig]] = {}
    for cell in cells:
        split = grid.subset(cell, settings.val_fraction)
        config = settings.train_config(cell.target, cell.seed, grid.label_set)
        fitted = np.concatenate([split["train"], split["val"]])
        cell_uids = {**shared_uids, "train": uids[split["train"]], "val": uids[split["val"]]}
        key = cell_key(cell, config, cell_uids, grid.values[cell.target][fitted])
        cached = cache_dir / f"{key}.json"
        if cached.exists():
            results[cell] = json.loads(cached.read_text())
        else:
            todo[cell] = (key, split, config)
    if progress is not None:
        progress(len(results), len(cells))
    if todo:
        _train_cells(
            graphs,
            grid,
            todo,
            evaluate_on,
            reference,
            cache_dir,
            results,
            client_options,
            lambda: progress(len(results), len(cells)) if progress else None,
        )
    return grid, results


def _train_cells(
    graphs: GraphSet,
    grid: Plan,
    todo: dict[Cell, tuple[str, dict[str, np.ndarray], TrainConfig]],
    evaluate_on: np.ndarray,
    reference: Reference | None,
    cache_dir: Path,
    results: dict[Cell, dict[str, Any]],
    client_options: dict[str, Any] | None,
    tick: Callable[[], None],
) -> None:
    """Fan the cells out on Dask; write each result to the cache as it arrives."""
    from distributed import as_completed

    from curate.cluster import dask_client

    with dask_client(**(client_options or {})) as client:
        shared_graphs, shared_reference = client.scatter(
            [graphs, reference.graphs if reference else None], broadcast=True
        )
        values = {t: client.scatter(v, broadcast=True) for t, v in grid.values.items()}
        futures = {
            client.submit(
                train_cell,
                shared_graphs,
                values[cell.target],
                split,
                config,
                evaluate_on,
                shared_reference,
                pure=False,
            ): (cell, key)
            for cell, (key, split, config) in todo.items()
        }
        for future in as_completed(futures):
            cell, key = futures[future]
            outcome = future.result()
            outcome["cell"] = dataclasses.asdict(cell)
            tmp = cache_dir / f".{key}.{os.getpid()}.partial"
            tmp.write_text(json.dumps(outcome))
            os.replace(tmp, cache_dir / f"{key}.json")
            results[cell] = outcome
            future.release()
            tick()
