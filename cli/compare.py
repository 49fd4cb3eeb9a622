"""``curate compare``: learning curves that score the samplers of a labelled store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.hpo import parse_list
from curate.cli.options import (
    Cluster,
    ClusterCores,
    ClusterMemory,
    Json,
    Queue,
    Scheduler,
    StorePath,
    Walltime,
    Workers,
    cluster_options,
)
from curate.cli.output import emit, stderr
from curate.cli.train import LabelSet

from curate.compare.settings import CompareSettings

describe = CompareSettings.describe


def command(
    store: StorePath,
    out: Annotated[Path, typer.Option(help="Folder for report.html/.json, PNGs, CSVs, cells/.")],
    target: Annotated[
        list[str] | None,
        typer.Option(
            help=f"{CompareSettings.model_fields['targets'].description} Repeat for several."
        ),
    ] = None,
    sizes: Annotated[str | None, typer.Option(help=describe("sizes"))] = None,
    seeds: Annotated[int | None, typer.Option(help=describe("seeds"))] = None,
    model: Annotated[str | None, typer.Option(help=describe("model"))] = None,
    reference: Annotated[
        Path | None,
        typer.Option(help="Common reference store every model is also tested on (e.g. MD)."),
    ] = None,
    label_set: LabelSet = None,
    test_fraction: Annotated[float | None, typer.Option(help=describe("test_fraction"))] = None,
    val_fraction: Annotated[float | None, typer.Option(help=describe("val_fraction"))] = None,
    hidden: Annotated[int | None, typer.Option(help=describe("hidden"))] = None,
    lr: Annotated[float | None, typer.Option(help=describe("lr"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=describe("batch_size"))] = None,
    max_epochs: Annotated[int | None, typer.Option(help=describe("max_epochs"))] = None,
    patience: Annotated[int | None, typer.Option(help=describe("patience"))] = None,
    cutoff: Annotated[float | None, typer.Option(help=describe("cutoff"))] = None,
    min_band_gap: Annotated[float | None, typer.Option(help=describe("min_band_gap"))] = None,
    combined: Annotated[
        bool | None, typer.Option("--combined/--no-combined", help=describe("combined"))
    ] = None,
    order: Annotated[str | None, typer.Option(help=describe("order"))] = None,
    diversity: Annotated[
        bool, typer.Option(help="Compute each scheme's diversity metrics beside its errors.")
    ] = True,
    workers: Workers = None,
    scheduler: Scheduler = None,
    cluster: Cluster = None,
    cluster_cores: ClusterCores = None,
    cluster_memory: ClusterMemory = None,
    walltime: Walltime = None,
    queue: Queue = None,
    json_: Json = False,
) -> None:
    """Train a model on nested subsets of each scheme's frames (several seeds), test it on every
    scheme's held-out split, their union and REFERENCE, and report learning curves against
    training size and oracle cost, the cross-test matrix and the diversity metrics beside the
    errors. Trained cells are cached in OUT: a re-run or a larger grid trains only what is new."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from curate.compare.run import check_inputs, compare

    size_list = parse_list(sizes, int, "--sizes")
    settings = CompareSettings.build(
        "compare",
        targets=tuple(target) if target else None,
        sizes=None if size_list is None else tuple(size_list),
        seeds=seeds,
        model=model,
        label_set=label_set,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        hidden=hidden,
        lr=lr,
        batch_size=batch_size,
        max_epochs=max_epochs,
        patience=patience,
        cutoff=cutoff,
        min_band_gap=min_band_gap,
        combined=combined,
        order=order,
    )
    options = cluster_options(workers, locals())
    check_inputs(store, settings, reference)
    columns = (TextColumn("models"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr) as bar:
        task = bar.add_task("compare", total=None)
        report = compare(
            store,
            settings,
            out,
            reference=reference,
            with_diversity=diversity,
            client_options=options,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )

    def render(console):
        from rich.table import Table

        for name, ranked in report["rankings"].items():
            table = Table(
                "scheme", "largest size", "MAE", "± std", "R²", "curve area", "frames to goal",
                "calls to goal", f"MAE at {ranked['budget_calls']:.0f} calls",
                title=f"{name} on the {ranked['test_set']} test set",
            )  # fmt: skip
            for scheme, r in ranked["schemes"].items():
                table.add_row(
                    scheme,
                    str(r["final_size"]),
                    *(_fmt(r[k]) for k in ("final_mae", "final_mae_std", "final_r2")),
                    *(
                        _fmt(r[k])
                        for k in (
                            "curve_area_mae",
                            "size_to_goal",
                            "calls_to_goal",
                            "mae_at_budget",
                        )
                    ),
                )
            console.print(table)
        console.print(f"report: {Path(out) / 'report.html'}")

    emit(report, json_, render)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"
