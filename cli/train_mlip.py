"""``curate train-mlip``: train a MACE potential, or a committee of them, on a store's labels."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import (
    Cluster,
    ClusterCores,
    ClusterMemory,
    Json,
    Queue,
    Scheduler,
    StorePath,
    Walltime,
    cluster_options,
    given,
    setting,
)
from curate.cli.output import emit, stderr
from curate.cli.train import LabelSet

from curate.potentials.settings import MACESettings


@contextlib.contextmanager
def member_progress() -> Iterator[Callable[[int, int], None]]:
    """A members-trained bar that appears once the data are ready, so that input errors stay
    the only line on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("MACE members"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar = Progress(*columns, console=stderr)
    tasks = []

    def progress(done: int, total: int) -> None:
        if not tasks:
            bar.start()
            tasks.append(bar.add_task("train", total=total))
        bar.update(tasks[0], completed=done)

    try:
        yield progress
    finally:
        if tasks:
            bar.stop()


def command(
    store: StorePath,
    out: Annotated[Path, typer.Option(help="Folder for member-K.model and committee.json.")],
    committee: Annotated[int, typer.Option(help="Members (models differing only in seed).")] = 4,
    label_set: LabelSet = None,
    channels: Annotated[int | None, setting(MACESettings, "channels")] = None,
    max_l: Annotated[int | None, setting(MACESettings, "max_l")] = None,
    interactions: Annotated[int | None, setting(MACESettings, "interactions")] = None,
    correlation: Annotated[int | None, setting(MACESettings, "correlation")] = None,
    r_max: Annotated[float | None, setting(MACESettings, "r_max")] = None,
    epochs: Annotated[int | None, setting(MACESettings, "epochs")] = None,
    batch_size: Annotated[int | None, setting(MACESettings, "batch_size")] = None,
    lr: Annotated[float | None, setting(MACESettings, "lr")] = None,
    forces_weight: Annotated[float | None, setting(MACESettings, "forces_weight")] = None,
    energy_weight: Annotated[float | None, setting(MACESettings, "energy_weight")] = None,
    valid_fraction: Annotated[float | None, setting(MACESettings, "valid_fraction")] = None,
    dtype: Annotated[str | None, setting(MACESettings, "dtype")] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the split; member K trains with seed + K.")
    ] = 0,
    device: Annotated[str | None, setting(MACESettings, "device")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Members trained at once on Dask (default: one per core on CPU)."),
    ] = None,
    scheduler: Scheduler = None,
    cluster: Cluster = None,
    cluster_cores: ClusterCores = None,
    cluster_memory: ClusterMemory = None,
    walltime: Walltime = None,
    queue: Queue = None,
    json_: Json = False,
) -> None:
    """Train a committee of MACE models on the ok frames of STORE with mace_run_train; write
    each member and a committee.json (settings, seeds, store commit, split, metrics)."""
    from curate.core.errors import InputError
    from curate.potentials.mace import train_committee

    if committee < 1:
        raise InputError(f"--committee must be at least 1, got {committee}")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    settings = MACESettings.build("curate train-mlip", **given(MACESettings, locals()))
    options = cluster_options(workers, locals())
    with member_progress() as progress:
        result = train_committee(
            store,
            out,
            committee,
            settings,
            label_set,
            seed,
            workers,
            options,
            progress,
        )
    record = result.record
    payload = {
        "store": str(store),
        "out": str(out),
        "committee": str(out / "committee.json"),
        "models": [str(m) for m in result.models],
        **{k: record[k] for k in ("label_set", "store_commit", "device", "workers", "seconds")},
        "n_train": len(record["split"]["train_frames"]),
        "n_valid": len(record["split"]["valid_frames"]),
        "members": record["members"],
    }

    def render(console):
        from rich.table import Table

        console.print(
            f"{committee} MACE model(s) on {payload['n_train']} + {payload['n_valid']} frames "
            f"of '{record['label_set']}' in {record['seconds']:.1f} s on {record['device']} "
            f"({record['workers']} at once); wrote {out}/"
        )
        table = Table(
            "member", "seed", "seconds", "valid RMSE F (meV/Å)", "valid RMSE E (meV/atom)"
        )
        for m in record["members"]:
            last = m["valid_last_epoch"]
            rmse_f = last.get("rmse_f")
            rmse_e = last.get("rmse_e_per_atom")
            table.add_row(
                m["model"],
                str(m["seed"]),
                f"{m['seconds']:.1f}",
                "" if rmse_f is None else f"{1000 * rmse_f:.1f}",
                "" if rmse_e is None else f"{1000 * rmse_e:.2f}",
            )
        console.print(table)

    emit(payload, json_, render)
