"""``curate hpo``: a hyperparameter search over the property models, trials on Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, Scheduler, StorePath, Workers
from curate.cli.output import emit, stderr
from curate.cli.train import (
    BatchSize,
    Cutoff,
    LabelSet,
    Seed,
    Split,
    Target,
    parse_split,
)


def parse_list(text: str | None, kind: type, option: str) -> list | None:
    """``a,b,c`` → a list of ``kind``; None stays None."""
    from curate.core.errors import InputError

    if text is None:
        return None
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{option} takes a comma-separated list, got '{text}'") from None


def command(
    store: StorePath,
    out: Annotated[Path, typer.Option(help="Folder for trials.json/.csv, violins.png, best.pt.")],
    target: Target = "energy_per_atom",
    label_set: LabelSet = None,
    models: Annotated[
        str | None, typer.Option(help="Architectures to search (default paper-1 … paper-6).")
    ] = None,
    lr: Annotated[
        str | None, typer.Option(help="Learning rates (default 1e-2,1e-3,1e-4,1e-5,1e-6).")
    ] = None,
    hidden: Annotated[
        str | None, typer.Option(help="Hidden channels (default 32,64,128,256).")
    ] = None,
    dropout: Annotated[str | None, typer.Option(help="Dropouts (default 0,0.2,0.4,0.6).")] = None,
    max_trials: Annotated[
        int | None, typer.Option(help="Train a seeded random subset of this many trials.")
    ] = None,
    max_epochs: Annotated[int, typer.Option(help="Upper bound on epochs of each trial.")] = 300,
    patience: Annotated[
        int,
        typer.Option(help="Stop a trial after this many epochs without a better validation loss."),
    ] = 30,
    batch_size: BatchSize = 32,
    split: Split = "0.7,0.15,0.15",
    seed: Seed = 0,
    cutoff: Cutoff = 5.5,
    workers: Workers = None,
    scheduler: Scheduler = None,
    metric: Annotated[
        str, typer.Option(help="Column the violin plots show (test_mae, val_r2, …).")
    ] = "test_mae",
    json_: Json = False,
) -> None:
    """Train every combination of the searched hyperparameters on the same split of STORE;
    rank trials by validation MAE, save the best model, and plot each hyperparameter's effect."""
    import csv
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from curate.core.errors import InputError
    from curate.models.checkpoint import save_checkpoint
    from curate.models.hpo import PAPER_SPACE, search, trial_grid, violin_plot
    from curate.models.networks import build_model
    from curate.models.settings import TrainConfig

    chosen = {
        "model": parse_list(models, str, "--models"),
        "lr": parse_list(lr, float, "--lr"),
        "hidden": parse_list(hidden, int, "--hidden"),
        "dropout": parse_list(dropout, float, "--dropout"),
    }
    space = {k: v if v is not None else PAPER_SPACE[k] for k, v in chosen.items()}
    for name in space["model"]:
        build_model(name)  # unknown names fail here, before any worker starts
    trials = trial_grid(space, max_trials, seed)
    base = TrainConfig.build(
        "curate hpo",
        target=target,
        label_set=label_set,
        batch_size=batch_size,
        max_epochs=max_epochs,
        patience=patience,
        fractions=parse_split(split),
        seed=seed,
        cutoff=cutoff,
        device="cpu",
    )
    columns = (
        TextColumn("trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr) as bar:
        task = bar.add_task("hpo", total=len(trials))
        result = search(
            store,
            base,
            trials,
            {"workers": workers, "scheduler": scheduler},
            lambda done, total: bar.update(task, completed=done),
        )
    rows = result.rows
    if metric not in rows[0]:
        raise InputError(f"unknown --metric '{metric}' (columns: {', '.join(rows[0])})")
    out.mkdir(parents=True, exist_ok=True)
    unit = result.best_record["target"]["unit"]
    files = {k: out / v for k, v in (("json", "trials.json"), ("csv", "trials.csv"))}
    files |= {"plot": out / "violins.png", "best": out / "best.pt"}
    files["json"].write_text(json.dumps({"space": space, "trials": rows}, indent=1) + "\n")
    with open(files["csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    violin_plot(rows, space, files["plot"], metric, unit)
    model = build_model(**result.best_record["model"])
    model.load_state_dict(result.best_state)
    save_checkpoint(files["best"], model, result.best_record)
    payload = {
        "store": str(store),
        "target": target,
        "unit": unit,
        "n_trials": len(rows),
        "best": rows[0],
        "files": {k: str(v) for k, v in files.items()},
        "trials": rows,
    }

    def render(console):
        from rich.table import Table

        table = Table(*space, "val MAE", "test MAE", "test R²", "epochs")
        for row in rows[:10]:
            table.add_row(
                *(f"{row[k]:g}" if isinstance(row[k], float) else str(row[k]) for k in space),
                f"{row['val_mae']:.4g}",
                f"{row['test_mae']:.4g}",
                f"{row['test_r2']:.3f}",
                str(row["epochs"]),
            )
        console.print(f"{len(rows)} trials on {target} ({unit}), best first; wrote {out}/")
        console.print(table)

    emit(payload, json_, render)
