"""Learning curves that score samplers.

Each scheme of a labelled store gets a fixed, seeded held-out test split; the rest is its pool.
For every seed the pool is shuffled once and the training subsets are its nested prefixes (the
first 20 frames, the first 40, …); a share of each subset stops training early (validation), the
rest is fitted. Every model is tested on its own scheme's test split, on every other scheme's
(the paper's cross-test), on their union, and on a common reference set when given. The grid of
(scheme, target, size, seed) runs on Dask workers, sharing one copy of the graphs; each cell's
predictions are cached under the output folder, keyed by everything that decides them, so a
re-run or an extended grid trains only what is new.

With ``model="mace"`` a cell is a MACE potential (:mod:`curate.compare.mace_cells`) scored on
energy per atom, forces and stress; one potential serves all its targets. A scheme whose pool is
smaller than a size stops its curve at the largest size it can give (an active-learning set is
usually smaller than the static sets it is compared with).
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
from ase import Atoms

from curate.compare.mace_cells import (
    DEFAULT_MLIP_TARGETS,
    MLIP_TARGETS,
    TRAINED_ON,
    is_mlip,
    mace_settings,
    target_values,
    train_mlip_cell,
)
from curate.core.errors import InputError
from curate.models.evaluate import frame_targets, predict
from curate.models.graphs import DEFAULT_CUTOFF, GraphSet, store_graphs
from curate.models.networks import DEFAULT_MODEL, MODELS
from curate.models.train import TrainConfig
from curate.models.train import fit as fit_model
from curate.potentials.mace import MACESettings
from curate.store import Store
from curate.store.label_sets import pick_label_set

CELL_FORMAT = "curate-compare-cell-1"
COMBINED = "combined"
REFERENCE = "reference"
GNN_DEFAULTS = {"lr": 3e-3, "max_epochs": 300, "patience": 50}
"""Training options of property-model cells when none is given."""
MACE_DEFAULTS = {"lr": 0.01, "max_epochs": 60, "patience": 15}
"""Training options of MACE cells when none is given (about 3 min for 40 Ag3SBr frames on one
CPU thread)."""
ALL_TARGETS = "*"
"""The target of a MACE fit: one potential predicts every target."""

Progress = Callable[[int, int], None]
"""progress(cells done, cells in all)."""


@dataclass(frozen=True)
class CompareSettings:
    """The grid and how each cell trains (defaults suit learning curves on small subsets)."""

    targets: tuple[str, ...] = ()
    """Empty: energy per atom for property models; energy, forces and stress for MACE."""
    sizes: tuple[int, ...] = (50, 100, 200, 400)
    seeds: int = 5
    model: str = DEFAULT_MODEL
    label_set: str | None = None
    test_fraction: float = 0.2
    val_fraction: float = 0.2
    hidden: int | None = None
    dropout: float | None = None
    lr: float | None = None
    """None: 3e-3 for property models, 0.01 for MACE."""
    batch_size: int = 8
    max_epochs: int | None = None
    """None: 300 for property models, 60 for MACE."""
    patience: int | None = None
    """None: 50 for property models, 15 for MACE."""
    cutoff: float = DEFAULT_CUTOFF
    split_seed: int = 0

    def __post_init__(self) -> None:
        if not self.targets:
            default = DEFAULT_MLIP_TARGETS if is_mlip(self.model) else ("energy_per_atom",)
            object.__setattr__(self, "targets", default)
        if not self.sizes or min(self.sizes) < 3:
            raise InputError(f"training sizes must be at least 3 frames, got {self.sizes}")
        if self.seeds < 1:
            raise InputError(f"--seeds must be at least 1, got {self.seeds}")
        if self.model not in MODELS and not is_mlip(self.model):
            raise InputError(f"unknown model '{self.model}' (models: {', '.join(MODELS)}, mace)")
        unknown = [t for t in self.targets if is_mlip(self.model) and t not in MLIP_TARGETS]
        if unknown:
            raise InputError(
                f"a MACE potential predicts {', '.join(MLIP_TARGETS)}, not {', '.join(unknown)}; "
                "use a property model (--model schnet) for other targets"
            )
        for name in ("test_fraction", "val_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise InputError(f"{name} must lie between 0 and 1, got {getattr(self, name)}")
        object.__setattr__(self, "sizes", tuple(sorted(set(self.sizes))))
        for name, value in (MACE_DEFAULTS if self.mlip else GNN_DEFAULTS).items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    @property
    def mlip(self) -> bool:
        return is_mlip(self.model)

    def train_config(self, target: str, seed: int, label_set: str) -> TrainConfig | MACESettings:
        """The training configuration of one cell (MACE settings for a potential)."""
        if self.mlip:
            return mace_settings(
                self.hidden, self.max_epochs, self.lr, self.batch_size, self.patience
            )
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

    def sizes(self, scheme: str, sizes: tuple[int, ...]) -> list[int]:
        """The training sizes the scheme's pool can give."""
        return [n for n in sizes if n <= len(self.pools[scheme])]

    def subset(self, cell: Cell, val_fraction: float) -> dict[str, np.ndarray]:
        """Train and validation frames of a cell (nested in size for one seed)."""
        pool = np.random.default_rng([cell.seed, 1]).permutation(self.pools[cell.scheme])
        chosen = pool[: cell.size]
        n_val = max(1, round(val_fraction * cell.size))
        val = np.random.default_rng([cell.seed, cell.size]).choice(chosen, n_val, replace=False)
        train = np.setdiff1d(chosen, val)
        return {"train": train, "val": np.sort(val), "test": self.tests[cell.scheme]}


def grid_targets(settings: CompareSettings) -> tuple[str, ...]:
    """Targets the plan loads: the asked ones, and for MACE what it trains on too."""
    extra = TRAINED_ON if settings.mlip else ()
    return tuple(dict.fromkeys((*settings.targets, *extra)))


def load_targets(
    store: Store, targets: tuple[str, ...], label_set: str, mlip: bool
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-frame truths of each target and the frames that have every one."""
    values, usable = {}, np.ones(store.n_frames, dtype=bool)
    for target in targets:
        values[target], ok = (target_values if mlip else frame_targets)(store, target, label_set)
        usable &= ok
    return values, usable


def plan(store: Store, settings: CompareSettings) -> Plan:
    """Label set, targets and each scheme's test split and pool; a smallest size some pool
    cannot give is refused with one line."""
    label_set = pick_label_set(store, settings.label_set)
    values, usable = load_targets(store, grid_targets(settings), label_set, settings.mlip)
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
    short = {s: len(p) for s, p in pools.items() if len(p) < min(settings.sizes)}
    if short:
        have = ", ".join(f"{s} {n}" for s, n in sorted(short.items()))
        raise InputError(
            f"training size {min(settings.sizes)} is larger than the frames left for training "
            f"after the test split ({have}); lower --sizes or label more frames"
        )
    return Plan(label_set, values, tests, pools, dropped)


def cell_key(
    cell: Cell,
    config: TrainConfig | MACESettings,
    uids: dict[str, np.ndarray],
    truths: list[np.ndarray],
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
    for truth in truths:
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
    from curate.core.cluster import apply_worker_threads

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


@dataclass
class Reference:
    """The common reference set: per-target truths (NaN where unusable), and its graphs for
    property models or its frames for potentials."""

    path: Path
    label_set: str
    values: dict[str, np.ndarray]
    uids: np.ndarray
    graphs: GraphSet | None = None
    frames: list[Atoms] | None = None


def load_reference(path: Path, settings: CompareSettings, label_set: str) -> Reference:
    """Targets and graphs (or frames) of the reference store, from the label set named like the
    compared store's when it has one."""
    with Store.open(path) as store:
        name = label_set if label_set in store.label_sets() else pick_label_set(store, None)
        values = {}
        for target in settings.targets:
            v, ok = load_targets(store, (target,), name, settings.mlip)
            values[target] = np.where(
                ok.reshape(-1, *[1] * (v[target].ndim - 1)), v[target], np.nan
            )
        if not any(np.isfinite(v).any() for v in values.values()):
            raise InputError(f"reference {path} has no ok labels for {', '.join(settings.targets)}")
        if settings.mlip:
            return Reference(path, name, values, store.uids(), frames=store.atoms())
        return Reference(
            path, name, values, store.uids(), graphs=store_graphs(store, settings.cutoff)
        )


@dataclass
class Fit:
    """One model to train: the grid cells it answers, its cache key, frames and settings."""

    cells: list[Cell]
    key: str
    split: dict[str, np.ndarray]
    config: TrainConfig | MACESettings


def plan_fits(
    grid: Plan, settings: CompareSettings, uids: np.ndarray, shared_uids: dict[str, np.ndarray]
) -> list[Fit]:
    """Every model of the grid (one per cell; one per scheme, size and seed for MACE, which
    predicts every target at once)."""
    fits = []
    for target in [ALL_TARGETS] if settings.mlip else settings.targets:
        for scheme in grid.schemes:
            for size in grid.sizes(scheme, settings.sizes):
                for seed in range(settings.seeds):
                    cell = Cell(scheme, target, size, seed)
                    split = grid.subset(cell, settings.val_fraction)
                    config = settings.train_config(target, seed, grid.label_set)
                    fitted = np.concatenate([split["train"], split["val"]])
                    cell_uids = {
                        **shared_uids,
                        "train": uids[split["train"]],
                        "val": uids[split["val"]],
                    }
                    decided_by = TRAINED_ON if settings.mlip else (target,)
                    truths = [grid.values[t][fitted] for t in decided_by]
                    key = cell_key(cell, config, cell_uids, truths)
                    cells = (
                        [Cell(scheme, t, size, seed) for t in settings.targets]
                        if settings.mlip
                        else [cell]
                    )
                    fits.append(Fit(cells, key, split, config))
    return fits


def by_cell(fit: Fit, outcome: dict[str, Any]) -> dict[Cell, dict[str, Any]]:
    """A fit's outcome as each of its cells sees it (a potential's targets taken apart)."""
    if "targets" not in outcome:
        return {fit.cells[0]: outcome}
    common = {k: v for k, v in outcome.items() if k not in ("targets", "cell")}
    return {cell: {**common, **outcome["targets"][cell.target]} for cell in fit.cells}


def run_grid(
    store_path: Path,
    settings: CompareSettings,
    cache_dir: Path,
    reference: Reference | None = None,
    client_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[Plan, dict[Cell, dict[str, Any]]]:
    """Train (or read from the cache) every cell; their predictions by cell."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(store_path) as store:
        grid = plan(store, settings)
        uids = store.uids()
        evaluate_on = grid.test_union
        shared_uids = {"tests": uids[evaluate_on]}
        if reference is not None:
            shared_uids["reference"] = reference.uids
        fits = plan_fits(grid, settings, uids, shared_uids)
        results: dict[Cell, dict[str, Any]] = {}
        todo = []
        for fit in fits:
            cached = cache_dir / f"{fit.key}.json"
            if cached.exists():
                results |= by_cell(fit, json.loads(cached.read_text()))
            else:
                todo.append(fit)
        if todo and settings.mlip:
            for fit in todo:
                write_fit_data(store, cache_dir / fit.key, fit.split, grid.label_set)
            inputs = {"frames": store.atoms(evaluate_on), "reference": reference}
        elif todo:
            inputs = {"graphs": store_graphs(store, settings.cutoff), "reference": reference}
    n_cells = sum(len(f.cells) for f in fits)
    if progress is not None:
        progress(len(results), n_cells)
    if todo:
        _train_fits(
            grid,
            todo,
            evaluate_on,
            inputs,
            cache_dir,
            results,
            client_options,
            lambda: progress(len(results), n_cells) if progress else None,
        )
    return grid, results


def write_fit_data(store: Store, folder: Path, split: dict[str, np.ndarray], label_set: str):
    """A MACE fit's training and validation frames as extxyz with ``REF_*`` labels."""
    from curate.store.extxyz import export_extxyz

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("train", "val"):
        path = folder / ("valid.xyz" if name == "val" else "train.xyz")
        export_extxyz(store, path, label_set, indices=split[name])


def _submit(client, fit: Fit, grid: Plan, shared: dict[str, Any], cache_dir: Path, evaluate_on):
    """One fit as a Dask task on the scattered inputs."""
    if isinstance(fit.config, MACESettings):
        return client.submit(
            train_mlip_cell,
            str(cache_dir / fit.key),
            fit.config,
            fit.cells[0].seed,
            len(fit.split["train"]),
            shared["frames"],
            shared["reference"],
            pure=False,
        )
    return client.submit(
        train_cell,
        shared["graphs"],
        shared["values"][fit.cells[0].target],
        fit.split,
        fit.config,
        evaluate_on,
        shared["reference"],
        pure=False,
    )


def _train_fits(
    grid: Plan,
    todo: list[Fit],
    evaluate_on: np.ndarray,
    inputs: dict[str, Any],
    cache_dir: Path,
    results: dict[Cell, dict[str, Any]],
    client_options: dict[str, Any] | None,
    tick: Callable[[], None],
) -> None:
    """Fan the fits out on Dask; write each result to the cache as it arrives."""
    from distributed import as_completed

    from curate.core.cluster import dask_client

    reference = inputs["reference"]
    with dask_client(**(client_options or {})) as client:
        if "graphs" in inputs:
            shared = dict(
                zip(
                    ("graphs", "reference"),
                    client.scatter(
                        [inputs["graphs"], reference.graphs if reference else None], broadcast=True
                    ),
                    strict=True,
                )
            )
            shared["values"] = {
                t: client.scatter(v, broadcast=True) for t, v in grid.values.items()
            }
        else:
            shared = dict(
                zip(
                    ("frames", "reference"),
                    client.scatter(
                        [inputs["frames"], reference.frames if reference else None], broadcast=True
                    ),
                    strict=True,
                )
            )
        futures = {_submit(client, fit, grid, shared, cache_dir, evaluate_on): fit for fit in todo}
        for future in as_completed(futures):
            fit = futures[future]
            outcome = future.result()
            outcome["cell"] = dataclasses.asdict(fit.cells[0])
            tmp = cache_dir / f".{fit.key}.{os.getpid()}.partial"
            tmp.write_text(json.dumps(outcome))
            os.replace(tmp, cache_dir / f"{fit.key}.json")
            results |= by_cell(fit, outcome)
            future.release()
            tick()
