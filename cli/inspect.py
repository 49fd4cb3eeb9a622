"""``curate inspect``: how thermal and how physical a store's frames are, group by group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath
from curate.cli.output import emit, log


def command(
    store: StorePath,
    by: Annotated[str, typer.Option(help="Group frames by scheme or system.")] = "scheme",
    label_set: Annotated[
        str | None,
        typer.Option(help="Label set for energies and pressure (default: the only one)."),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(help="Reference store (MD at the same temperature and calculator)."),
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Write PNG figures into this folder.")] = None,
    json_: Json = False,
) -> None:
    """Displacements (vs phonopy's analytic values), close contacts, pair distances, energy,
    pressure and band gaps (with the share of closed gaps) of each group, against a reference
    store."""
    from curate.metrics.inspection import CLOSED_GAP, inspect_store, plot_reports

    reports = inspect_store(store, by, label_set, reference)
    payload = {"store": str(store), "by": by, "groups": {r.name: r.summary for r in reports}}
    if plot is not None:
        payload["figures"] = [str(p) for p in plot_reports(reports, plot)]
        log(f"wrote {len(payload['figures'])} figures to {plot}")

    def render(console):
        from rich.table import Table

        species = list(reports[0].summary["rms"])
        gaps = any("band_gap" in r.summary for r in reports)
        table = Table(
            "group",
            "frames",
            *(f"RMS {s} (Å)" for s in species),
            "shortest (Å)",
            "< 2 Å",
            "E/atom (eV)",
            "σ E/atom",
            "P (GPa)",
            "ΔE vs ref",
            *(("gap (eV)", f"gap ≤ {CLOSED_GAP:g}") if gaps else ()),
        )
        for r in reports:
            s = r.summary
            labels = s.get("labels", {})
            versus = s.get("versus_reference", {})
            gap = s.get("band_gap")
            gap_cells = (
                (f"{gap['mean']:.3f} ± {gap['std']:.3f}", f"{gap['closed_fraction']:.0%}")
                if gap
                else ("-", "-")
            )
            table.add_row(
                r.name,
                str(s["n_frames"]),
                *(f"{s['rms'].get(x, float('nan')):.3f}" for x in species),
                f"{s['shortest_distance']['min']:.2f}",
                f"{s['close_fraction']['2']:.1%}",
                f"{labels['energy_per_atom_mean']:.4f}" if labels else "-",
                f"{labels['energy_per_atom_std']:.4f}" if labels else "-",
                f"{labels['pressure_mean']:.2f}" if "pressure_mean" in labels else "-",
                f"{versus['energy_offset']:+.4f}" if "energy_offset" in versus else "-",
                *(gap_cells if gaps else ()),
            )
        console.print(table)

    emit(payload, json_, render)
