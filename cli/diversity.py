"""``curate diversity``: what a store's sets cover, how redundant and how physical they are."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath, given, setting
from curate.cli.output import emit

from curate.metrics.settings import DescriptorSettings, DiversitySettings


def command(
    store: StorePath,
    by: Annotated[str, typer.Option(help="Group frames by scheme, system or all.")] = "scheme",
    reference: Annotated[
        Path | None,
        typer.Option(help="Store whose environments each group should cover (e.g. thermal MD)."),
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(help="Frames per size-matched subset (default: the smallest group)."),
    ] = None,
    repeats: Annotated[int | None, setting(DiversitySettings, "repeats")] = None,
    seed: Annotated[int | None, setting(DiversitySettings, "seed")] = None,
    labels: Annotated[
        str | None,
        typer.Option(help="Label set for energies (default: the one with most ok energies)."),
    ] = None,
    bandwidth: Annotated[float | None, setting(DiversitySettings, "bandwidth")] = None,
    k: Annotated[int | None, setting(DescriptorSettings, "k")] = None,
    cutoff: Annotated[float | None, setting(DescriptorSettings, "cutoff")] = None,
    q: Annotated[float | None, setting(DiversitySettings, "q")] = None,
    contact: Annotated[float | None, setting(DiversitySettings, "contact_fraction")] = None,
    kt: Annotated[float | None, setting(DiversitySettings, "kt_multiple")] = None,
    temperature: Annotated[float | None, setting(DiversitySettings, "temperature")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Folder for the PCA map (diversity_pca.png).")
    ] = None,
    json_: Json = False,
) -> None:
    """Entropy, diversity, Vendi score, coverage, correlation and physicality of each group."""
    from curate.metrics.diversity import diversity_report

    descriptor = {k: v for k, v in {"k": k, "cutoff": cutoff}.items() if v is not None}
    values = locals() | {"contact_fraction": contact, "kt_multiple": kt}
    settings = DiversitySettings.build("curate diversity", **given(DiversitySettings, values))
    payload = diversity_report(store, by, reference, size, labels, settings, plot)

    def render(console):
        from rich.table import Table

        groups = payload["groups"]
        covered = "reference" in payload
        console.print(f"{payload['store']}: {payload['n_frames']} frames by {payload['by']}")
        spread_table = Table(
            "group",
            "frames",
            "H (nats)",
            "D",
            "Vendi",
            "NN sim.",
            "ESS",
            *(["coverage"] if covered else []),
            title="diversity and redundancy",
        )
        physical = Table(
            "group",
            "d_min (Å)",
            "d_min p5 (Å)",
            "close contacts",
            "E − E_ref (meV/atom)",
            f"> {kt:g} kT",
            title="physicality",
        )
        for name, g in groups.items():
            spread_table.add_row(
                name,
                str(g["n_frames"]),
                number(g["entropy"], 2),
                number(g["diversity"], 2),
                number(g["vendi"], 1),
                number(g["nn_similarity"], 3),
                number((g["autocorrelation"] or {}).get("ess"), 1),
                *([percent(g["coverage"]["fraction"])] if covered else []),
            )
            distances = g["min_distance"] or {}
            energy = g["energy"] or {}
            above = energy.get("above_reference", {}).get("mean")
            physical.add_row(
                name,
                number(distances.get("min"), 2),
                number(distances.get("p05"), 2),
                percent(g["close_contact_fraction"]),
                number(None if above is None else 1000 * above, 1),
                percent(energy.get("beyond_kT_fraction")),
            )
        console.print(spread_table)
        console.print(physical)
        size = payload["matched_size"]
        if size is not None:
            matched = Table(
                "group",
                "H (nats)",
                "D",
                "Vendi",
                *(["coverage"] if covered else []),
                title=f"size-matched: {size} frames, mean ± std over "
                f"{payload['settings']['repeats']} seeded draws",
            )
            for name, g in groups.items():
                m = g["matched"]
                matched.add_row(
                    name,
                    spread(m["entropy"], 2),
                    spread(m["diversity"], 2),
                    spread(m["vendi"], 1),
                    *([spread(m["coverage"], 3)] if covered else []),
                )
            console.print(matched)
        references = payload["energy_reference"]
        for system, ref in references.items():
            console.print(
                f"energy reference {system or '-'}: {ref['kind']} "
                f"({ref['energy_per_atom']:.4f} eV/atom, label set {payload['label_set']})"
            )
        if "plot" in payload:
            console.print(f"PCA map: {payload['plot']['pca_map']}")

    emit(payload, json_, render)


def number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def spread(stat: dict, digits: int) -> str:
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
