"""``curate active``: the active-learning loop of MACE committees on a labelled store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.hpo import parse_list
from curate.cli.options import Json, StorePath, given, setting
from curate.cli.output import emit, log

from curate.potentials.settings import ActiveSettings, MACESettings


def command(
    store: StorePath,
    out: Annotated[Path, typer.Option(help="Folder for rounds, committees and active.json.")],
    system: Annotated[str | None, setting(ActiveSettings, "system")] = None,
    temperatures: Annotated[str | None, setting(ActiveSettings, "temperatures")] = None,
    budget: Annotated[int | None, setting(ActiveSettings, "budget")] = None,
    batch: Annotated[int | None, setting(ActiveSettings, "batch")] = None,
    committee: Annotated[int | None, setting(ActiveSettings, "committee")] = None,
    target_error: Annotated[float | None, setting(ActiveSettings, "target_error")] = None,
    upper_error: Annotated[float | None, setting(ActiveSettings, "upper_error")] = None,
    probe: Annotated[int | None, setting(ActiveSettings, "probe")] = None,
    stop_fraction: Annotated[float | None, setting(ActiveSettings, "stop_fraction")] = None,
    starts: Annotated[int | None, setting(ActiveSettings, "starts")] = None,
    md_frames: Annotated[int | None, setting(ActiveSettings, "md_frames")] = None,
    stride: Annotated[int | None, setting(ActiveSettings, "stride")] = None,
    max_rounds: Annotated[int | None, setting(ActiveSettings, "max_rounds")] = None,
    oracle: Annotated[
        str, typer.Option(help="Calculator that labels (default chgnet).")
    ] = "chgnet",
    epochs: Annotated[int | None, setting(MACESettings, "epochs")] = None,
    channels: Annotated[int | None, setting(MACESettings, "channels")] = None,
    seed: Annotated[int | None, setting(ActiveSettings, "seed")] = None,
    workers: Annotated[int | None, typer.Option(help="Dask workers for labelling.")] = None,
    json_: Json = False,
) -> None:
    """Train a MACE committee on STORE's oracle labels, explore with committee MD, calibrate the
    disagreement on labelled probe frames, label a batch of uncertain and new frames, and repeat
    until the budget is spent or fresh MD stays below --target-error. Re-run the same command to
    resume a killed loop in the round and phase it was in."""
    from curate.calculators import parse_spec
    from curate.potentials.active import run_active

    mace = {k: v for k, v in {"epochs": epochs, "channels": channels}.items() if v is not None}
    chosen = parse_list(temperatures, float, "--temperatures")
    values = locals() | {"temperatures": tuple(chosen) if chosen is not None else None}
    settings = ActiveSettings.build("curate active", **given(ActiveSettings, values))
    result = run_active(
        store, out, parse_spec(oracle), settings, {"workers": workers}, lambda m: log(m)
    )

    def render(console):
        from rich.table import Table

        table = Table("round", "candidates", "above target", "selected", "spent", "scale s")
        for r in result["rounds"]:
            table.add_row(
                str(r["round"]),
                str(r.get("candidates", "")),
                f"{r.get('fraction_above_target', float('nan')):.0%}",
                str(r.get("selected", "")),
                str(r.get("spent", "")),
                f"{r.get('calibration', {}).get('scale', float('nan')):.3g}",
            )
        console.print(table)
        console.print(f"finished: {result['finished']}")

    emit(result, json_, render)
