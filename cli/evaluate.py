"""``curate evaluate``: a model file's errors on a store or an extxyz file, with a parity plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json
from curate.cli.output import emit
from curate.cli.train import Threads, set_threads


def command(
    model: Annotated[Path, typer.Argument(help="Model file written by curate train.")],
    data: Annotated[
        Path, typer.Argument(help="A store (.zarr) or an extxyz file with REF_energy/… fields.")
    ],
    label_set: Annotated[
        str | None,
        typer.Option(help="Label set of a store (default: the model's, or the only one)."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Parity plot PNG (default: MODEL-DATA.png beside MODEL).")
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(help="Only this part (train, val, test) of the model's own training store."),
    ] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    threads: Threads = None,
    json_: Json = False,
) -> None:
    """MAE, RMSE and R² of MODEL on every ok frame of DATA, and a density-coloured parity plot."""
    from curate.core.devices import resolve_device
    from curate.models.evaluate import evaluate

    set_threads(threads)
    plot = plot or model.with_name(f"{model.stem}-{data.stem}.png")
    payload = evaluate(model, data, label_set, plot, resolve_device(device), split)
    m = payload["metrics"]

    def render(console):
        console.print(
            f"{payload['architecture']} on {data} ({m['n']} frames, {payload['target']}): "
            f"MAE {m['mae']:.4g} {payload['unit']}, RMSE {m['rmse']:.4g} {payload['unit']}, "
            f"R² {m['r2']:.3f}; parity plot {plot}"
        )

    emit(payload, json_, render)
