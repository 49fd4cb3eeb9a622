"""``curate compare``: learning curves that score the samplers of a labelled store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.hpo import parse_list
from curate.cli.options import Json, Scheduler, StorePath, Workers
from curate.cli.output import emit, stderr
from curate.cli.train import BatchSize, Cutoff, LabelSet


def command(
    store: StorePath,
    out: Annotated[Path, typer.Option(help="Folder for report.html/.json, PNGs, CSVs, cells/.")],
    target: Annotated[
        list[str] | None,
        typer.Option(
            help="Target to learn; repeat for several (default energy_per_atom; for mace "
            "energy_per_atom, forces and stress)."
        ),
    ] = None,
    sizes: Annotated[str, typer.Option(help="Training sizes (nested subsets).")] = "50,100,200,400",
    seeds: Annotated[int, typer.Option(help="Seeds per size: subsets and initial weights.")] = 5,
    model: Annotated[
        str,
        typer.Option(
            help="schnet (default), paper-1 … paper-6, or mace (a MACE potential per cell, "
            "scored on energy, forces and stress)."
        ),
    ] = "schnet",
    reference: Annotated[
        Path | None,
        typer.Option(help="Common reference store every model is also tested on (e.g. MD)."),
    ] = None,
    label_set: LabelSet = None,
    test_fraction: Annotated[float, typer.Option(help="Held-out share of each scheme.")] = 0.2,
    val_fraction: Annotated[
        float, typer.Option(help="Share of each training subset used for early stopping.")
    ] = 0.2,
    hidden: Annotated[
        int | None, typer.Option(help="Hidden channels (model default; MACE channels).")
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help="Learning rate (default 3e-3; MACE 0.01).")
    ] = None,
    batch_size: BatchSize = 8,
    max_epochs: Annotated[
        int | None, typer.Option(help="Upper bound on epochs (default 300; MACE 60).")
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(
            help="Stop after this many epochs without a better validation loss "
            "(default 50; MACE 15)."
        ),
    ] = None,
    cutoff: Cutoff = 5.5,
    diversity: Annotated[
        bool, typer.Option(help="Compute each scheme's diversity metrics beside its errors.")
    ] = True,
    workers: Workers = None,
    scheduler: Scheduler = None,
    json_: Json = False,
) -> None:
    """Train a model on nested subsets of each scheme's frames (several seeds), test it on every
    scheme's held-out split, their union and REFERENCE, and report learning curves against
    training size and oracle cost, the cross-test matrix and the diversity metrics beside the
    errors. Trained cells are cached in OUT: a re-run or a larger grid trains only what is new."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from curate.compare.run import CompareSettings, check_inputs, compare

    settings = CompareSettings(
        targets=tuple(target or ()),
        sizes=tuple(parse_list(sizes, int, "--sizes") or ()),
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
    )
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
            client_options={"workers": workers, "scheduler": scheduler},
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
