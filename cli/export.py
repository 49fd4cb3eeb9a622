"""``curate export``: frames and labels out of a store, for MACE and other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath
from curate.cli.output import emit

from curate.core.errors import InputError


def command(
    store: StorePath,
    out: Annotated[Path, typer.Option(help="File to write.")],
    format: Annotated[
        str,
        typer.Option(
            help="extxyz, ase-db (SQLite), deepmd (deepmd/npy systems, a folder) or h5md: "
            "frames and one label set; zip: the whole store, readable in place by every "
            "curate command."
        ),
    ] = "extxyz",
    label_set: Annotated[
        str | None, typer.Option(help="Label set to export (default: the only one, if any).")
    ] = None,
    all_frames: Annotated[
        bool, typer.Option(help="Also write frames the label set has no ok labels for.")
    ] = False,
    json_: Json = False,
) -> None:
    """Write a store's frames, with REF_energy/REF_forces/REF_stress labels, to a file."""
    from curate.store import Store
    from curate.store.extxyz import export_extxyz
    from curate.store.formats import WRITE_FORMATS

    if format not in WRITE_FORMATS:
        raise InputError(f"unknown format '{format}' (known: {', '.join(WRITE_FORMATS)})")
    if format == "zip":
        from curate.store.archive import zip_store

        with Store.open(store) as opened:
            zip_store(opened, out)
            payload = {"store": str(store), "out": str(out), "format": format}
            payload["n_frames"] = opened.n_frames
        emit(payload, json_, lambda c: c.print(f"wrote {payload['n_frames']} frames to {out}"))
        return
    with Store.open(store) as opened:
        names = opened.label_sets()
        if label_set is None and len(names) > 1:
            raise InputError(
                f"{store} has several label sets ({', '.join(names)}): pick --label-set"
            )
        chosen = label_set if label_set is not None else (names[0] if names else None)
        if format == "extxyz":
            count = export_extxyz(opened, out, chosen, labelled_only=not all_frames)
        else:
            from curate.store.formats import export_frames

            count = export_frames(opened, out, format, chosen, labelled_only=not all_frames)
    payload = {
        "store": str(store),
        "out": str(out),
        "format": format,
        "label_set": chosen,
        "n_frames": count,
    }
    emit(payload, json_, lambda c: c.print(f"wrote {count} frames to {out}"))
