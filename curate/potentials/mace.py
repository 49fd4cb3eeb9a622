"""Train MACE potentials, or a committee of them that differ only in seed, on a store's labels.

The ok frames of a label set are split once (seeded) into training and validation frames and
written as extended XYZ with MACE's ``REF_*`` keys; each member is then one ``mace_run_train`` run
in its own process (it reconfigures the root logger and torch's global dtype), on the same two
files, with seed ``seed + k``. Members run one after another, or in parallel on Dask workers (one
member per worker, each with its share of the cores).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from curate.core.devices import resolve_device
from curate.core.errors import InputError
from curate.potentials.settings import MACESettings
from curate.store.label_sets import pick_label_set

COMMITTEE_FILE = "committee.json"
FORMAT = "curate-mace-committee"


@dataclass
class TrainingData:
    """The two extxyz files every member trains on, and where their frames come from."""

    train_file: Path
    valid_file: Path
    train_frames: np.ndarray
    valid_frames: np.ndarray
    store: str
    store_commit: int
    label_set: str
    calculator: str


def prepare_data(
    store_path: str | Path,
    folder: str | Path,
    label_set: str | None = None,
    valid_fraction: float = 0.1,
    seed: int = 0,
) -> TrainingData:
    """Export the ok frames of ``label_set`` (energy and forces needed) and split them, seeded,
    into ``train.xyz`` and ``valid.xyz`` under ``folder``. Input errors surface here."""
    from curate.store import Store

    with Store.open(store_path) as store:
        return _prepare(store, Path(store_path), Path(folder), label_set, valid_fraction, seed)


def _prepare(
    store, store_path: Path, folder: Path, label_set: str | None, valid_fraction: float, seed: int
) -> TrainingData:
    from curate.core.labels import Status
    from curate.store.extxyz import export_extxyz

    label_set = pick_label_set(store, label_set)
    info = store.label_set_info(label_set)
    missing = {"energy", "forces"} - set(info["properties"])
    if missing:
        raise InputError(f"label set '{label_set}' has no {' or '.join(sorted(missing))} labels")
    labels = store.labels(label_set)
    ok = np.flatnonzero(labels.status == Status.OK)
    finite = np.isfinite(labels["energy"][ok])
    if not finite.all():
        raise InputError(f"label set '{label_set}' has ok frames without an energy")
    if len(ok) < 2:
        raise InputError(
            f"label set '{label_set}' has {len(ok)} ok frame(s); MACE needs at least 2 "
            "(training and validation)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    n_valid = min(len(ok) - 1, max(1, round(valid_fraction * len(ok))))
    order = np.random.default_rng(seed).permutation(len(ok))
    valid, train = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    files = {"train": folder / "train.xyz", "valid": folder / "valid.xyz"}
    for name, rows in (("train", train), ("valid", valid)):
        export_extxyz(store, files[name], label_set, indices=ok[rows])
    return TrainingData(
        train_file=files["train"],
        valid_file=files["valid"],
        train_frames=ok[train],
        valid_frames=ok[valid],
        store=str(store_path.resolve()),
        store_commit=store.commit,
        label_set=label_set,
        calculator=str(info["calculator"]),
    )


def mace_arguments(
    settings: MACESettings,
    name: str,
    seed: int,
    train_file: Path,
    valid_file: Path,
    folder: Path,
    device: str,
    n_train: int,
) -> list[str]:
    """The ``mace_run_train`` command line of one member (the batch never exceeds the training
    frames: MACE drops the last incomplete batch)."""
    s = settings
    args = {
        "name": name,
        "seed": seed,
        "train_file": train_file,
        "valid_file": valid_file,
        "energy_key": "REF_energy",
        "forces_key": "REF_forces",
        "stress_key": "REF_stress",
        "model": "MACE",
        "num_channels": s.channels,
        "max_L": s.max_l,
        "num_interactions": s.interactions,
        "correlation": s.correlation,
        "r_max": s.r_max,
        "batch_size": min(s.batch_size, n_train),
        "valid_batch_size": min(s.batch_size, n_train),
        "max_num_epochs": s.epochs,
        "lr": s.lr,
        "energy_weight": s.energy_weight,
        "forces_weight": s.forces_weight,
        "E0s": "average",
        "default_dtype": s.dtype,
        "device": device,
        "plot": "False",
        "work_dir": folder,
        "model_dir": folder,
        "log_dir": folder / "logs",
        "results_dir": folder / "results",
        "checkpoints_dir": folder / "checkpoints",
    }
    if s.patience is not None:
        args["patience"] = s.patience
    return [part for key, value in args.items() for part in (f"--{key}", str(value))] + list(
        s.extra_args
    )


def mace_executable() -> list[str]:
    """``mace_run_train`` beside this Python, else the module it runs."""
    script = Path(sys.executable).parent / "mace_run_train"
    if script.is_file():
        return [str(script)]
    found = shutil.which("mace_run_train")
    return [found] if found else [sys.executable, "-m", "mace.cli.run_train"]


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def parse_error_table(log: str) -> dict[str, dict[str, float]]:
    """The final TRAIN/VALID error table of a MACE log as ``{"train": {column: value}, ...}``
    (MACE's own columns and units, e.g. ``RMSE F / meV / A``)."""
    start = log.rfind("Error-table on TRAIN and VALID")
    if start < 0:
        return {}
    rows = []
    for line in log[start:].splitlines()[1:]:
        if line.startswith("+"):
            continue
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    if len(rows) < 2:
        return {}
    header, table = rows[0], {}
    for row in rows[1:]:
        name = row[0].split("_")[0] if row[0].endswith("_Default") else row[0]
        table[name] = {k: _number(v) for k, v in zip(header[1:], row[1:], strict=False)}
    return table


def eval_records(results: Path) -> list[dict[str, Any]]:
    """Every validation record MACE wrote to its results files (per-epoch JSON lines), in order."""
    records = []
    for path in sorted(results.glob("*_train.txt")):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("mode") == "eval":
                records.append(record)
    return records


def last_eval(results: Path) -> dict[str, Any]:
    """The last validation record MACE wrote to its results files."""
    last = (eval_records(results) or [{}])[-1]
    return {k: _number(v) if isinstance(v, str) else v for k, v in last.items() if k != "mode"}


def train_member(args: list[str], folder: str | Path, threads: int | None = None) -> dict[str, Any]:
    """Run one ``mace_run_train`` (with ``threads`` CPU threads: the Dask worker's share when
    None) in ``folder``; its model path, wall time and metrics."""
    from curate.core.cluster import local_cores, thread_env

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    threads = threads or int(os.environ.get("CURATE_TORCH_THREADS", 0)) or local_cores()
    env = {**os.environ, **thread_env(threads)}
    name = args[args.index("--name") + 1]
    start = time.perf_counter()
    done = subprocess.run(
        [*mace_executable(), *args], cwd=folder, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    model = folder / f"{name}.model"
    if done.returncode != 0 or not model.is_file():
        tail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = tail[-1].strip() if tail else f"exit code {done.returncode}"
        raise InputError(f"mace_run_train failed for {name}: {reason}")
    logs = sorted(p for p in (folder / "logs").glob("*.log") if not p.stem.endswith("_debug"))
    log = "\n".join(p.read_text() for p in logs)
    return {
        "model": str(model),
        "seconds": seconds,
        "threads": threads,
        "errors": parse_error_table(log),
        "valid_last_epoch": last_eval(folder / "results"),
    }


@dataclass
class Committee:
    """Trained members (model files), the settings, the data provenance and the metrics written
    to ``committee.json``."""

    models: list[Path]
    record: dict[str, Any]


def train_committee(
    store_path: str | Path,
    out: str | Path,
    n_members: int = 4,
    settings: MACESettings | None = None,
    label_set: str | None = None,
    seed: int = 0,
    workers: int | None = 1,
    client_options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Committee:
    """Train ``n_members`` MACE models (seeds ``seed`` … ``seed + n − 1``) on the same split of
    ``store_path``'s labels; write ``out/member-K.model`` and ``out/committee.json``.

    ``workers`` 1 trains them one after another with every core; more trains that many at once
    on a local Dask cluster (or on ``client_options["scheduler"]``), one member per worker; None
    is one per core on a CPU and one at a time on a GPU. ``progress(done, total)`` is first
    called with 0 once the data are written."""
    from curate.core.cluster import local_cores

    settings = settings or MACESettings()
    if n_members < 1:
        raise InputError(f"a committee needs at least one member, got {n_members}")
    device = resolve_device(settings.device)
    out = Path(out)
    work = out.resolve()  # mace_run_train runs in its own folder: absolute paths only
    data = prepare_data(store_path, work / "data", label_set, settings.valid_fraction, seed)
    seeds = [seed + k for k in range(n_members)]
    names = [f"member-{k}" for k in range(n_members)]
    jobs = [
        (
            mace_arguments(
                settings,
                name,
                s,
                data.train_file,
                data.valid_file,
                work / "runs" / name,
                device,
                len(data.train_frames),
            ),
            work / "runs" / name,
        )
        for name, s in zip(names, seeds, strict=True)
    ]
    options = dict(client_options or {})
    if workers is None:
        workers = 1 if device.startswith("cuda") else local_cores()
    parallel = min(workers, n_members)
    start = time.perf_counter()
    outcomes: dict[int, dict[str, Any]] = {}
    if progress is not None:
        progress(0, n_members)
    if (
        parallel <= 1
        and not options.get("scheduler")
        and options.get("cluster", "local") == "local"
    ):
        for k, (args, folder) in enumerate(jobs):
            outcomes[k] = train_member(args, folder, local_cores())
            if progress is not None:
                progress(k + 1, n_members)
    else:
        from distributed import as_completed

        from curate.core.cluster import dask_client

        if options.get("workers") is None:
            options["workers"] = parallel
        with dask_client(**options) as client:
            futures = {
                client.submit(train_member, args, folder, pure=False): k
                for k, (args, folder) in enumerate(jobs)
            }
            for done, future in enumerate(as_completed(futures), start=1):
                outcomes[futures[future]] = future.result()
                if progress is not None:
                    progress(done, n_members)
    seconds = time.perf_counter() - start
    models = []
    members = []
    for k, name in enumerate(names):
        outcome = outcomes[k]
        model = out / f"{name}.model"
        shutil.copyfile(outcome["model"], model)
        models.append(model)
        members.append(
            {
                "model": model.name,
                "seed": seeds[k],
                "seconds": round(outcome["seconds"], 2),
                "threads": outcome["threads"],
                "errors": outcome["errors"],
                "valid_last_epoch": outcome["valid_last_epoch"],
            }
        )
    record = {
        "format": FORMAT,
        "version": 1,
        "store": data.store,
        "store_commit": data.store_commit,
        "label_set": data.label_set,
        "calculator": data.calculator,
        "split": {
            "seed": seed,
            "valid_fraction": settings.valid_fraction,
            "train_frames": data.train_frames.tolist(),
            "valid_frames": data.valid_frames.tolist(),
        },
        "settings": settings.model_dump() | {"hidden_irreps": settings.hidden_irreps},
        "device": device,
        "workers": parallel if parallel > 1 or options.get("scheduler") else 1,
        "seconds": round(seconds, 2),
        "versions": {p: version(p) for p in ("mace-torch", "torch")},
        "mace_command": ["mace_run_train", *jobs[0][0]],
        "members": members,
    }
    (out / COMMITTEE_FILE).write_text(json.dumps(record, indent=1, default=str) + "\n")
    return Committee(models, record)


def committee_specs(folder: str | Path) -> list[str]:
    """Calculator specs (``mace:PATH``) of the members of a committee folder."""
    folder = Path(folder)
    path = folder / COMMITTEE_FILE
    if not path.is_file():
        raise InputError(f"no {COMMITTEE_FILE} in {folder}")
    record = json.loads(path.read_text())
    return [f"mace:{(folder / m['model']).resolve()}" for m in record["members"]]
