"""``curate dedupe``: drop near-duplicate frames, keeping the first of each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath
from curate.cli.output import emit

from curate.core.errors import InputError
from curate.curation.settings import DedupeSettings


def command(
    store: StorePath,
    out: Annotated[
        Path | None, typer.Option(help="Store to create with the frames kept (not with --dry-run).")
    ] = None,
    by: Annotated[str | None, typer.Option(help=DedupeSettings.describe("by"))] = None,
    tolerance: Annotated[
        float | None, typer.Option(help=DedupeSettings.describe("tolerance"))
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be dropped.")] = False,
    json_: Json = False,
) -> None:
    """Find frames of STORE within the tolerance of an earlier frame and write the rest to OUT.
    STORE is not changed."""
    from curate.curation.dedupe import near_duplicates
    from curate.store import Store
    from curate.store.transfer import write_subset

    if out is None and not dry_run:
        raise InputError("curate dedupe: give --out for the frames kept, or --dry-run")
    settings = DedupeSettings.build("curate dedupe", by=by, tolerance=tolerance)
    with Store.open(store) as source:
        found = near_duplicates(source, settings)
        dropped = [
            {
                "frame": int(i),
                "duplicate_of": int(found.duplicate_of[i]),
                "distance": float(found.distance[i]),
            }
            for i in (~found.keep).nonzero()[0]
        ]
        payload = {
            "store": str(store),
            "out": None if dry_run else str(out),
            "by": settings.by,
            "tolerance": settings.limit,
            "frames": source.n_frames,
            "kept": int(found.keep.sum()),
            "dropped": len(dropped),
            "duplicates": dropped,
        }
        if not dry_run:
            record = {
                "step": "dedupe",
                "summary": f"{len(dropped)} within {settings.limit} ({settings.by})",
                "settings": settings.model_dump(mode="json"),
                "dropped": dropped,
            }
            write_subset(source, out, found.keep.nonzero()[0], record)

    def render(console):
        unit = "Å" if settings.by == "rmsd" else "Å⁻¹"
        where = "would drop" if dry_run else "dropped"
        console.print(
            f"{where} {len(dropped)} of {payload['frames']} frames within {settings.limit} {unit} "
            f"({settings.by}) of an earlier one"
        )
        if not dry_run:
            console.print(f"kept {payload['kept']} frames in {out}")

    emit(payload, json_, render)
