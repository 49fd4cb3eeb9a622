"""``curate filter``: drop frames that break stated rules, saying why for each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath
from curate.cli.output import emit

from curate.core.errors import InputError
from curate.curation.settings import FilterSettings


def window(text: str | None) -> tuple[float, float] | None:
    """``LO:HI`` (eV/atom) → (LO, HI)."""
    if text is None:
        return None
    lo, _, hi = text.partition(":")
    try:
        return float(lo), float(hi)
    except ValueError:
        raise InputError(f"--energy-window needs LO:HI in eV/atom, got '{text}'") from None


def command(
    store: StorePath,
    out: Annotated[
        Path | None, typer.Option(help="Store to create with the frames kept (not with --dry-run).")
    ] = None,
    label_set: Annotated[
        str | None, typer.Option(help=FilterSettings.describe("label_set"))
    ] = None,
    contact_fraction: Annotated[
        float | None,
        typer.Option(help=FilterSettings.describe("contact_fraction") + " 0 turns it off."),
    ] = None,
    max_force: Annotated[
        float | None, typer.Option(help=FilterSettings.describe("max_force"))
    ] = None,
    energy_window: Annotated[
        str | None, typer.Option(help="Keep energies per atom in LO:HI (eV/atom).")
    ] = None,
    kt_multiple: Annotated[
        float | None, typer.Option(help=FilterSettings.describe("kt_multiple"))
    ] = None,
    min_band_gap: Annotated[
        float | None, typer.Option(help=FilterSettings.describe("min_band_gap"))
    ] = None,
    keep_unlabelled: Annotated[bool, typer.Option(help="Keep frames without an ok label.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be dropped.")] = False,
    json_: Json = False,
) -> None:
    """Apply the rules to every frame of STORE and write the frames that pass to OUT, with a
    reason for each dropped one in the record. STORE is not changed."""
    from curate.curation.filters import filter_frames
    from curate.store import Store
    from curate.store.transfer import write_subset

    if out is None and not dry_run:
        raise InputError("curate filter: give --out for the frames kept, or --dry-run")
    settings = FilterSettings.build(
        "curate filter",
        label_set=label_set,
        contact_fraction=contact_fraction or None,
        max_force=max_force,
        energy_window=window(energy_window),
        kt_multiple=kt_multiple,
        min_band_gap=min_band_gap,
        require_labels=not keep_unlabelled,
    )
    if contact_fraction == 0:  # the rule turned off
        settings = settings.model_copy(update={"contact_fraction": None})
    with Store.open(store) as source:
        verdict = filter_frames(source, settings)
        keep = verdict.keep
        payload = {
            "store": str(store),
            "out": None if dry_run else str(out),
            "frames": source.n_frames,
            "kept": int(keep.sum()),
            "dropped": int((~keep).sum()),
            "counts": verdict.counts(),
            "rules": verdict.applied,
            "dropped_frames": verdict.dropped(),
        }
        if not dry_run:
            record = {
                "step": "filter",
                "summary": f"{payload['dropped']} of {payload['frames']} frames dropped",
                "rules": verdict.applied,
                "dropped": verdict.dropped(),
            }
            write_subset(source, out, keep.nonzero()[0], record)

    def render(console):
        from rich.table import Table

        where = "would drop" if dry_run else "dropped"
        console.print(f"{where} {payload['dropped']} of {payload['frames']} frames")
        if payload["counts"]:
            table = Table("rule", "frames")
            for rule, count in payload["counts"].items():
                table.add_row(rule, str(count))
            console.print(table)
        for entry in payload["dropped_frames"][:10]:
            console.print(f"  frame {entry['frame']}: {'; '.join(entry['reasons'])}")
        if payload["dropped"] > 10:
            console.print(f"  ... and {payload['dropped'] - 10} more (--json lists all)")
        if not dry_run:
            console.print(f"kept {payload['kept']} frames in {out}")

    emit(payload, json_, render)
