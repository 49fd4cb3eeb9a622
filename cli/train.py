"""``curate train``: fit a property GNN to a store's labels and write a model file."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath
from curate.cli.output import emit, stderr

Target = Annotated[
    str,
    typer.Option(
        help="energy_per_atom, hydrostatic_stress (GPa), band_gap, vbm, cbm or any per-frame "
        "label in the store."
    ),
]
LabelSet = Annotated[str | None, typer.Option(help="Label set to learn (default: the only one).")]
Split = Annotated[str, typer.Option(help="Train/validation/test fractions.")]
Seed = Annotated[int, typer.Option(help="Seed of the split, the initial weights and shuffling.")]
MaxEpochs = Annotated[int, typer.Option(help="Upper bound on epochs.")]
Patience = Annotated[
    int, typer.Option(help="Stop after this many epochs without a better validation loss.")
]
BatchSize = Annotated[int, typer.Option(help="Graphs per optimiser step.")]
Cutoff = Annotated[float, typer.Option(help="Graph radius in Å.")]
Device = Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")]
Threads = Annotated[
    int | None, typer.Option(help="CPU threads for torch (default: torch's, one per core).")
]


def parse_split(text: str) -> tuple[float, float, float]:
    """``0.7,0.15,0.15`` → three floats."""
    from curate.core.errors import InputError

    message = f"--split takes three fractions like 0.7,0.15,0.15, got '{text}'"
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise InputError(message) from None
    if len(parts) != 3:
        raise InputError(message)
    return parts


def set_threads(threads: int | None) -> None:
    """Give torch ``threads`` CPU threads, if asked."""
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, threads))


@contextlib.contextmanager
def epoch_progress(label: str) -> Iterator[Callable[[int, int, float, float], None]]:
    """A training progress callback whose bar appears with the first epoch, so that errors
    found while loading stay the only line on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    bar = Progress(*columns, console=stderr)
    tasks = []

    def progress(epoch: int, total: int, train_loss: float, val_loss: float) -> None:
        if not tasks:
            bar.start()
            tasks.append(bar.add_task("train", total=total, status=""))
        status = f"loss {train_loss:.4f}  val {val_loss:.4f}"
        bar.update(tasks[0], completed=epoch, status=status)

    try:
        yield progress
    finally:
        if tasks:  # stopping a bar that never started prints an empty line
            bar.stop()


def command(
    store: StorePath,
    out: Annotated[Path, typer.Option(help="Model file to write (.pt).")],
    target: Target = "energy_per_atom",
    model: Annotated[
        str, typer.Option(help="schnet (default) or the paper's paper-1 … paper-6.")
    ] = "schnet",
    label_set: LabelSet = None,
    hidden: Annotated[
        int | None, typer.Option(help="Hidden channels (schnet 32, paper-N 64).")
    ] = None,
    dropout: Annotated[float | None, typer.Option(help="Dropout (schnet 0, paper-N 0.2).")] = None,
    lr: Annotated[float, typer.Option(help="Adam learning rate (halved on plateaus).")] = 1e-3,
    weight_decay: Annotated[float, typer.Option(help="Adam weight decay.")] = 0.0,
    output_activation: Annotated[
        str, typer.Option(help="linear (default), sigmoid or softplus on the output.")
    ] = "linear",
    batch_size: BatchSize = 32,
    max_epochs: MaxEpochs = 500,
    patience: Patience = 50,
    split: Split = "0.7,0.15,0.15",
    seed: Seed = 0,
    split_seed: Annotated[
        int | None, typer.Option(help="Seed of the split alone (default: --seed).")
    ] = None,
    cutoff: Cutoff = 5.5,
    device: Device = "auto",
    threads: Threads = None,
    json_: Json = False,
) -> None:
    """Train a property model on the ok frames of STORE; report MAE/RMSE/R² per split."""
    from curate.models.settings import TrainConfig
    from curate.models.train import train

    set_threads(threads)
    config = TrainConfig.build(
        "curate train",
        target=target,
        model=model,
        label_set=label_set,
        hidden=hidden,
        dropout=dropout,
        output=output_activation,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        max_epochs=max_epochs,
        patience=patience,
        fractions=parse_split(split),
        seed=seed,
        split_seed=split_seed,
        cutoff=cutoff,
        device=device,
    )
    with epoch_progress(f"training {model}") as progress:
        result = train(store, config, out=out, progress=progress)
    record = result.record
    payload = training_payload(record) | {"store": str(store), "out": str(out)}

    def render(console):
        from rich.table import Table

        console.print(
            f"{model} on {target} ({record['target']['label_set']}): best epoch "
            f"{payload['best_epoch']} of {payload['epochs']}, {payload['seconds']:.1f} s on "
            f"{payload['device']}; wrote {out}"
        )
        console.print(metrics_table(Table, payload["metrics"], payload["unit"]))

    emit(payload, json_, render)


def training_payload(record: dict) -> dict:
    """What train and hpo report about one trained model."""
    training = record["training"]
    return {
        "model": record["model"]["name"],
        "target": record["target"]["name"],
        "unit": record["target"]["unit"],
        "label_set": record["target"]["label_set"],
        "options": record["model"],
        "lr": training["config"]["lr"],
        "seed": training["config"]["seed"],
        "sizes": {name: len(part) for name, part in training["split"].items()},
        "epochs": training["epochs"],
        "best_epoch": training["best_epoch"],
        "seconds": training.get("seconds"),
        "device": training["device"],
        "metrics": record["metrics"],
    }


def metrics_table(table_class, metrics: dict, unit: str):
    """A rich table of MAE/RMSE/R² per split."""
    table = table_class("split", "frames", f"MAE ({unit})", f"RMSE ({unit})", "R²")
    for name, m in metrics.items():
        table.add_row(name, str(m["n"]), f"{m['mae']:.4g}", f"{m['rmse']:.4g}", f"{m['r2']:.3f}")
    return table
