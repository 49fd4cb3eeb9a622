"""``curate label``: label a store's frames with any calculator, in parallel on Dask."""

from __future__ import annotations

from typing import Annotated

import typer
from curate.cli.options import Json, StorePath, given, setting
from curate.cli.output import emit, stderr

from curate.labelling.settings import LabelSettings

PARTIAL_FAILURE = 3
"""Exit code when some frames failed (their messages are in the store)."""


def command(
    store: StorePath,
    calculator: Annotated[
        str, typer.Option(help="chgnet, emt, cp2k, gpaw, mace:PATH or ase:module.Class.")
    ] = "chgnet",
    kwargs: Annotated[
        str | None,
        typer.Option(help="Calculator keyword arguments: inline JSON/YAML or a .json/.yaml file."),
    ] = None,
    label_set: Annotated[str | None, setting(LabelSettings, "label_set")] = None,
    workers: Annotated[int | None, setting(LabelSettings, "workers")] = None,
    scheduler: Annotated[str | None, setting(LabelSettings, "scheduler")] = None,
    cluster: Annotated[str | None, setting(LabelSettings, "cluster")] = None,
    cluster_cores: Annotated[int | None, setting(LabelSettings, "cluster_cores")] = None,
    cluster_memory: Annotated[str | None, setting(LabelSettings, "cluster_memory")] = None,
    walltime: Annotated[str | None, setting(LabelSettings, "walltime")] = None,
    queue: Annotated[str | None, setting(LabelSettings, "queue")] = None,
    retry_failed: Annotated[
        bool, typer.Option(help="Also retry frames whose calculation failed before.")
    ] = False,
    batch_size: Annotated[int | None, setting(LabelSettings, "batch_size")] = None,
    reuse: Annotated[list[str] | None, setting(LabelSettings, "reuse")] = None,
    json_: Json = False,
) -> None:
    """Label every frame of STORE not yet labelled ok; re-running continues where it stopped.

    Exit code 3 when some frames failed: their messages are in the store, and --retry-failed
    tries them again.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from curate.calculators import parse_spec
    from curate.labelling.run import label_store

    settings = LabelSettings.build("curate label", **given(LabelSettings, locals()))
    spec = parse_spec(calculator, kwargs)
    options = settings.client_options(settings.workers)
    columns = (
        TextColumn("labelling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    bar = Progress(*columns, console=stderr, transient=False)
    tasks = []

    def progress(done, total, summary):
        # The bar appears once the workers are up, so an error before that stays one line.
        if not tasks:
            bar.start()
            tasks.append(bar.add_task("label", total=total, status=""))
        status = f"ok {summary.counts.get('ok', 0)}  failed {summary.n_failed}"
        bar.update(tasks[0], completed=done, total=total, status=status)

    try:
        summary = label_store(
            store,
            spec,
            label_set=settings.label_set,
            retry_failed=settings.retry_failed,
            batch_size=settings.batch_size,
            client_options=options,
            progress=progress,
            reuse_from=settings.reuse or (),
        )
    finally:
        if tasks:
            bar.stop()
    counts = summary.counts
    payload = {
        "store": str(store),
        "label_set": summary.label_set,
        "calculator": summary.calculator,
        "submitted": summary.submitted,
        "skipped": summary.skipped,
        "reused": summary.reused,
        "ok": counts["ok"],
        "failed": summary.n_failed,
        "failed_physics": counts["failed-physics"],
        "failed_infra": counts["failed-infra"],
        "pending": counts["pending"],
        "wall_s": round(summary.wall_s, 3),
        "frames_per_s": round(summary.frames_per_s, 3),
        "steady_frames_per_s": round(summary.steady_frames_per_s, 3),
    }

    def render(console):
        reused = f", {summary.reused} taken from --reuse" if summary.reused else ""
        console.print(
            f"{summary.label_set}: labelled {summary.submitted} frames "
            f"({summary.skipped} already done{reused}) in {summary.wall_s:.1f} s, "
            f"{summary.frames_per_s:.2f} frames/s; store now ok {counts['ok']}, "
            f"failed {summary.n_failed}, pending {counts['pending']}"
        )

    emit(payload, json_, render)
    if summary.n_failed:
        raise typer.Exit(PARTIAL_FAILURE)
