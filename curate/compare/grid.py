"""Learning curves that score samplers.

Each scheme of a labelled store gets a fixed, seeded held-out test split; the rest is its pool.
For every seed the pool is shuffled once and the training subsets are its nested prefixes (the
first 20 frames, the first 40, …; with ``order="chosen"`` the pool keeps store order, so that the
subsets are the first frames a selection chose and only the initial weights and the validation
split vary with the seed); a share of each subset stops training early (validation), the
rest is fitted. Every model is tested on its own scheme's test split, on every other scheme's
(the paper's cross-test), on their union (each distinct frame once), and on a common reference
set when given, never on a frame it was fitted on: when schemes share frames (selections from
one pool do), a test frame whose content uid is among a model's training or validation frames
is left out of that model's scores. The grid of
(scheme, target, size, seed) runs on Dask workers, sharing one copy of the graphs; each cell's
predictions are cached under the output folder, keyed by everything that decides them, so a
re-run or an extended grid trains only what is new.

What a cell trains comes from the family of ``settings.model`` (:mod:`curate.compare.family`):
a property GNN per target, or one potential for all its targets. A scheme whose pool is smaller
than a size stops its curve at the largest size it can give (an active-learning set is usually
smaller than the static sets it is compared with).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curate.compare.family import Cell, Fit, ModelFamily
from curate.compare.settings import CompareSettings
from curate.core.errors import InputError
from curate.core.files import write_json
from curate.core.identity import cache_key
from curate.store import Store
from curate.store.label_sets import pick_label_set

CELL_FORMAT = "curate-compare-cell-1"
COMBINED = "combined"
REFERENCE = "reference"

Progress = Callable[[int, int], None]
"""progress(cells done, cells in all)."""


@dataclass
class Plan:
    """The store's frames as the grid sees them."""

    label_set: str
    values: dict[str, np.ndarray]  # target → per-frame values
    tests: dict[str, np.ndarray]  # scheme → held-out frames
    pools: dict[str, np.ndarray]  # scheme → frames training subsets come from
    dropped: dict[str, int]  # scheme → frames without every target
    closed: dict[str, int]  # scheme → frames left out for a gap at most settings.min_band_gap
    family: ModelFamily  # what trains the cells and reads their predictions
    uids: np.ndarray  # content uid of every frame of the store
    val_fraction: float  # share of each training subset used for early stopping
    shuffled: bool = True  # False: training subsets are prefixes of each pool in store order

    @property
    def schemes(self) -> list[str]:
        return sorted(self.tests)

    @property
    def test_union(self) -> np.ndarray:
        return union_of(self.tests)

    def sizes(self, scheme: str, sizes: tuple[int, ...]) -> list[int]:
        """The training sizes the scheme's pool can give."""
        return [n for n in sizes if n <= len(self.pools[scheme])]

    def subset(self, cell: Cell, val_fraction: float) -> dict[str, np.ndarray]:
        """Train and validation frames of a cell (nested in size for one seed)."""
        pool = self.pools[cell.scheme]
        if self.shuffled:
            pool = np.random.default_rng([cell.seed, 1]).permutation(pool)
        chosen = pool[: cell.size]
        n_val = max(1, round(val_fraction * cell.size))
        val = np.random.default_rng([cell.seed, cell.size]).choice(chosen, n_val, replace=False)
        train = np.setdiff1d(chosen, val)
        return {"train": train, "val": np.sort(val), "test": self.tests[cell.scheme]}

    def fitted_uids(self, cell: Cell) -> np.ndarray:
        """Content uids of the frames a cell's model was fitted on (training and validation)."""
        split = self.subset(cell, self.val_fraction)
        return self.uids[np.concatenate([split["train"], split["val"]])]


def union_of(tests: dict[str, np.ndarray]) -> np.ndarray:
    """Every frame of the test splits, once each, sorted."""
    return np.unique(np.concatenate(list(tests.values())))


def grid_targets(settings: CompareSettings) -> tuple[str, ...]:
    """Targets the plan loads: the asked ones, and those the models train on too."""
    trained_on = [t for fit in settings.family.fits(settings.targets) for t in fit.trained_on]
    return tuple(dict.fromkeys((*settings.targets, *trained_on)))


def load_targets(
    store: Store, targets: tuple[str, ...], label_set: str, family: ModelFamily
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-frame truths of each target and the frames that have every one."""
    values, usable = {}, np.ones(store.n_frames, dtype=bool)
    for target in targets:
        values[target], ok = family.target_values(store, target, label_set)
        usable &= ok
    return values, usable


def closed_gaps(store: Store, label_set: str, settings: CompareSettings) -> np.ndarray:
    """Frames whose band gap is at most ``settings.min_band_gap`` (or unknown, when a minimum
    is asked for); none without one."""
    if settings.min_band_gap is None:
        return np.zeros(store.n_frames, dtype=bool)
    labels = store.labels(label_set)
    if "band_gap" not in labels.values:
        raise InputError(f"min_band_gap needs band gaps; label set '{label_set}' has none")
    return ~(labels.values["band_gap"] > settings.min_band_gap)


def plan(store: Store, settings: CompareSettings) -> Plan:
    """Label set, targets and each scheme's test split and pool; a smallest size some pool
    cannot give is refused with one line."""
    label_set = pick_label_set(store, settings.label_set)
    values, usable = load_targets(store, grid_targets(settings), label_set, settings.family)
    closed = closed_gaps(store, label_set, settings) & usable
    schemes = store.categorical("scheme")
    tests, pools, dropped, n_closed = {}, {}, {}, {}
    for k, scheme in enumerate(sorted(set(schemes.tolist()))):
        members = np.flatnonzero(schemes == scheme)
        frames = members[usable[members] & ~closed[members]]
        n_closed[scheme] = int(closed[members].sum())
        dropped[scheme] = len(members) - len(frames) - n_closed[scheme]
        if not len(frames):
            continue
        n_test = max(1, round(settings.test_fraction * len(frames)))
        if settings.order == "chosen":  # train on the first chosen, test on the last
            tests[scheme], pools[scheme] = frames[len(frames) - n_test :], frames[:-n_test]
        else:
            order = np.random.default_rng([settings.split_seed, k]).permutation(frames)
            tests[scheme], pools[scheme] = np.sort(order[:n_test]), order[n_test:]
    if len(tests) < 1:
        raise InputError(
            f"no frame of {store.path} has ok labels for {', '.join(settings.targets)}"
        )
    if settings.combined:
        add_combined(tests, pools, dropped, n_closed)
    short = {s: len(p) for s, p in pools.items() if len(p) < min(settings.sizes)}
    if short:
        have = ", ".join(f"{s} {n}" for s, n in sorted(short.items()))
        raise InputError(
            f"training size {min(settings.sizes)} is larger than the frames left for training "
            f"after the test split ({have}); lower --sizes or label more frames"
        )
    return Plan(
        label_set,
        values,
        tests,
        pools,
        dropped,
        n_closed,
        settings.family,
        store.uids(),
        settings.val_fraction,
        shuffled=settings.order == "shuffled",
    )


def add_combined(
    tests: dict[str, np.ndarray],
    pools: dict[str, np.ndarray],
    dropped: dict[str, int],
    closed: dict[str, int],
) -> None:
    """The combined set as one more scheme: every pool taken in turns (so that its first frames
    come from every scheme in equal shares when pools keep their order), tested on the union of
    the schemes' test splits."""
    if COMBINED in tests:
        raise InputError(f"a scheme is named '{COMBINED}': rename it to compare a combined set")
    if len(tests) < 2:
        raise InputError("a combined set needs at least two schemes")
    longest = max(len(p) for p in pools.values())
    turns = [p[k] for k in range(longest) for p in pools.values() if k < len(p)]
    pools[COMBINED] = np.asarray(turns, dtype=np.int64)
    tests[COMBINED] = union_of(tests)
    dropped[COMBINED] = sum(dropped.values())
    closed[COMBINED] = sum(closed.values())


def cell_key(
    cell: Cell,
    config: dict[str, Any],
    uids: dict[str, np.ndarray],
    truths: list[np.ndarray],
) -> str:
    """Hash of everything that decides a cell's predictions: its settings (as the family
    describes them), the content uids of its train/val/test-union/reference frames and the
    labels it trains on."""
    described = {"format": CELL_FORMAT, "cell": dataclasses.asdict(cell), "config": config}
    names = sorted(uids)
    arrays = [np.asarray(uids[name], dtype=np.uint64) for name in names]
    arrays += [np.asarray(truth, dtype=np.float64) for truth in truths]
    return cache_key(described, names, arrays=arrays, size=16)


@dataclass
class Reference:
    """The common reference set: per-target truths (NaN where unusable), and what the family's
    workers predict its frames from (graphs, frames)."""

    path: Path
    label_set: str
    values: dict[str, np.ndarray]
    uids: np.ndarray
    data: Any = None


def load_reference(path: Path, settings: CompareSettings, label_set: str) -> Reference:
    """Targets and the family's inputs of the reference store, from the label set named like
    the compared store's when it has one (frames with a closed gap left out like the store's)."""
    family = settings.family
    with Store.open(path) as store:
        name = pick_label_set(store, None, prefer=label_set)
        values, kept = {}, ~closed_gaps(store, name, settings)
        for target in settings.targets:
            v, ok = load_targets(store, (target,), name, family)
            ok &= kept
            values[target] = np.where(
                ok.reshape(-1, *[1] * (v[target].ndim - 1)), v[target], np.nan
            )
        if not any(np.isfinite(v).any() for v in values.values()):
            raise InputError(f"reference {path} has no ok labels for {', '.join(settings.targets)}")
        return Reference(path, name, values, store.uids(), family.reference_data(store, settings))


def plan_fits(
    grid: Plan, settings: CompareSettings, shared_uids: dict[str, np.ndarray]
) -> list[Fit]:
    """Every model of the grid: the family's models of each scheme, size and seed (one per
    target, or one for every target)."""
    fits = []
    for model in grid.family.fits(settings.targets):
        for scheme in grid.schemes:
            for size in grid.sizes(scheme, settings.sizes):
                for seed in range(settings.seeds):
                    cell = Cell(scheme, model.name, size, seed)
                    split = grid.subset(cell, settings.val_fraction)
                    config = grid.family.train_settings(settings, model.name, seed, grid.label_set)
                    fitted = np.concatenate([split["train"], split["val"]])
                    cell_uids = {
                        **shared_uids,
                        "train": grid.uids[split["train"]],
                        "val": grid.uids[split["val"]],
                    }
                    truths = [grid.values[t][fitted] for t in model.trained_on]
                    key = cell_key(cell, grid.family.cache_description(config), cell_uids, truths)
                    cells = [Cell(scheme, t, size, seed) for t in model.answers]
                    fits.append(Fit(cells, key, split, config))
    return fits


def by_cell(fit: Fit, outcome: dict[str, Any]) -> dict[Cell, dict[str, Any]]:
    """A fit's outcome as each of its cells sees it (an outcome per target taken apart)."""
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
        evaluate_on = grid.test_union
        shared_uids = {"tests": grid.uids[evaluate_on]}
        if reference is not None:
            shared_uids["reference"] = reference.uids
        fits = plan_fits(grid, settings, shared_uids)
        results: dict[Cell, dict[str, Any]] = {}
        todo = []
        for fit in fits:
            cached = cache_dir / f"{fit.key}.json"
            if cached.exists():
                results |= by_cell(fit, json.loads(cached.read_text()))
            else:
                todo.append(fit)
        if todo:
            for fit in todo:
                grid.family.prepare(store, cache_dir / fit.key, fit, grid.label_set)
            inputs = grid.family.worker_inputs(store, evaluate_on, grid.values, settings)
            inputs["reference"] = reference.data if reference is not None else None
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
    """Fan the fits out on Dask, the family's inputs scattered once to every worker; write each
    result to the cache as it arrives."""
    from distributed import as_completed

    from curate.core.cluster import dask_client

    with dask_client(**(client_options or {})) as client:
        client.wait_for_workers(1)  # a jobqueue cluster's first job may still be queued
        names = list(inputs)
        scattered = client.scatter([inputs[name] for name in names], broadcast=True)
        shared = dict(zip(names, scattered, strict=True))
        futures = {}
        for fit in todo:
            function, args = grid.family.task(fit, shared, cache_dir / fit.key, evaluate_on)
            futures[client.submit(function, *args, pure=False)] = fit
        for future in as_completed(futures):
            fit = futures[future]
            outcome = future.result()
            outcome["cell"] = dataclasses.asdict(fit.cells[0])
            write_json(cache_dir / f"{fit.key}.json", outcome, indent=None)
            results |= by_cell(fit, outcome)
            future.release()
            tick()
