"""``curate active``: the active-learning loop of MACE committees on a labelled store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.hpo import parse_list
from curate.cli.options import Json, StorePath
from curate.cli.output import emit, log


def command(
    store: StorePath,
    out: Annotated[Path, typer.Option(help="Folder for rounds, committees and active.json.")],
    system: Annotated[
        str | None, typer.Option(help="Start MD from frames of this system only.")
    ] = None,
    temperatures: Annotated[str, typer.Option(help="Exploration temperatures (K).")] = "300",
    budget: Annotated[int, typer.Option(help="Oracle labels this loop may spend.")] = 500,
    batch: Annotated[int, typer.Option(help="Frames selected per round.")] = 50,
    committee: Annotated[int, typer.Option(help="MACE models per committee.")] = 4,
    target_error: Annotated[
        float,
        typer.Option(help="Calibrated force error (eV/Å) that makes a frame worth labelling."),
    ] = 0.1,
    upper_error: Annotated[
        float | None, typer.Option(help="Leave out frames beyond this force error (eV/Å).")
    ] = None,
    probe: Annotated[
        int, typer.Option(help="Random candidates labelled per round to calibrate.")
    ] = 5,
    stop_fraction: Annotated[
        float, typer.Option(help="Stop when fewer fresh MD frames than this exceed the target.")
    ] = 0.05,
    starts: Annotated[int, typer.Option(help="Starting frames per temperature.")] = 2,
    md_frames: Annotated[int, typer.Option(help="Candidate frames per MD run.")] = 20,
    stride: Annotated[int, typer.Option(help="MD steps between candidate frames.")] = 10,
    max_rounds: Annotated[int, typer.Option(help="Upper bound on rounds.")] = 10,
    oracle: Annotated[
        str, typer.Option(help="Calculator that labels (default chgnet).")
    ] = "chgnet",
    epochs: Annotated[int, typer.Option(help="MACE training epochs per round.")] = 100,
    channels: Annotated[int, typer.Option(help="MACE channels.")] = 32,
    seed: Annotated[int, typer.Option(help="Seed of starts, MD, probes and committees.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Dask workers for labelling.")] = None,
    json_: Json = False,
) -> None:
    """Train a MACE committee on STORE's oracle labels, explore with committee MD, calibrate the
    disagreement on labelled probe frames, label a batch of uncertain and new frames, and repeat
    until the budget is spent or fresh MD stays below --target-error. Re-run the same command to
    resume a killed loop in the round and phase it was in."""
    from curate.calculators import parse_spec
    from curate.potentials.active import run_active
    from curate.potentials.settings import ActiveSettings

    settings = ActiveSettings.build(
        "curate active",
        temperatures=tuple(parse_list(temperatures, float, "--temperatures") or ()),
        budget=budget,
        batch=batch,
        committee=committee,
        target_error=target_error,
        upper_error=upper_error,
        probe=probe,
        stop_fraction=stop_fraction,
        starts=starts,
        md_frames=md_frames,
        stride=stride,
        max_rounds=max_rounds,
        system=system,
        seed=seed,
        mace={"epochs": epochs, "channels": channels},
    )
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
