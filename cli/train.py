"""``curate train``: fit a property GNN to a store's labels and write a model file."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath, given, setting
from curate.cli.output import emit, stderr

from curate.models.settings import TrainConfig

Target = Annotated[str | None, setting(TrainConfig, "target")]
LabelSet = Annotated[str | None, setting(TrainConfig, "label_set")]
Split = Annotated[str | None, setting(TrainConfig, "fractions", "--split")]
Seed = Annotated[int | None, setting(TrainConfig, "seed")]
MaxEpochs = Annotated[int | None, setting(TrainConfig, "max_epochs")]
Patience = Annotated[int | None, setting(TrainConfig, "patience")]
BatchSize = Annotated[int | None, setting(TrainConfig, "batch_size")]
Cutoff = Annotated[float | None, setting(TrainConfig, "cutoff")]
Device = Annotated[str | None, setting(TrainConfig, "device")]
Threads = Annotated[
    int | None, typer.Option(help="CPU threads for torch (default: torch's, one per core).")
]


def parse_split(text: str | None) -> tuple[float, float, float] | None:
    """``0.7,0.15,0.15`` → three floats; None stays None."""
    from curate.core.errors import InputError

    if text is None:
        return None
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
    target: Target = None,
    model: Annotated[str | None, setting(TrainConfig, "model")] = None,
    label_set: LabelSet = None,
    hidden: Annotated[int | None, setting(TrainConfig, "hidden")] = None,
    dropout: Annotated[float | None, setting(TrainConfig, "dropout")] = None,
    lr: Annotated[float | None, setting(TrainConfig, "lr")] = None,
    weight_decay: Annotated[float | None, setting(TrainConfig, "weight_decay")] = None,
    output_activation: Annotated[str | None, setting(TrainConfig, "output")] = None,
    batch_size: BatchSize = None,
    max_epochs: MaxEpochs = None,
    patience: Patience = None,
    split: Split = None,
    seed: Seed = None,
    split_seed: Annotated[int | None, setting(TrainConfig, "split_seed")] = None,
    cutoff: Cutoff = None,
    device: Device = None,
    threads: Threads = None,
    json_: Json = False,
) -> None:
    """Train a property model on the ok frames of STORE; report MAE/RMSE/R² per split."""
    from curate.models.train import train

    set_threads(threads)
    config = TrainConfig.build(
        "curate train",
        **given(TrainConfig, locals()),
        output=output_activation,
        fractions=parse_split(split),
    )
    with epoch_progress(f"training {config.model}") as progress:
        result = train(store, config, out=out, progress=progress)
    record = result.record
    payload = training_payload(record) | {"store": str(store), "out": str(out)}

    def render(console):
        from rich.table import Table

        console.print(
            f"{config.model} on {config.target} ({record['target']['label_set']}): best epoch "
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
