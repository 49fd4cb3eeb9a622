"""``curate import``: frames (and any labels they carry) from an ASE-readable file into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import AllowClose, Json, MinDistance, OutStore
from curate.cli.output import emit, log


def command(
    file: Annotated[
        Path,
        typer.Argument(
            help="extxyz or any ASE-readable file (CIF, POSCAR, ...), an ASE database (.db), "
            "a DeePMD system folder, or H5MD (.h5)."
        ),
    ],
    out: OutStore,
    label_set: Annotated[
        str | None,
        typer.Option(
            help="Label set for labels found in the file (default: the file's own, "
            "else 'imported')."
        ),
    ] = None,
    format: Annotated[
        str, typer.Option(help="auto (from the name or contents), extxyz, ase-db, deepmd, h5md.")
    ] = "auto",
    min_distance: MinDistance = 0.5,
    allow_close: AllowClose = False,
    json_: Json = False,
) -> None:
    """Append every frame of FILE to the store OUT, keeping energies, forces and stresses."""
    from curate.store.extxyz import import_structures

    result = import_structures(file, out, label_set, min_distance, allow_close, format)
    if result.n_close:
        log(f"warning: {result.n_close} frames have atoms closer than {min_distance} Å")
    payload = {
        "store": str(out),
        "read": result.n_read,
        "added": result.n_added,
        "duplicates": result.n_duplicates,
        "label_set": result.label_set,
        "labelled": result.n_labelled,
        "close_frames": result.n_close,
    }

    def render(console):
        labelled = (
            f", {result.n_labelled} labelled into '{result.label_set}'" if result.label_set else ""
        )
        console.print(
            f"added {result.n_added} of {result.n_read} frames to {out} "
            f"({result.n_duplicates} duplicates skipped{labelled})"
        )

    emit(payload, json_, render)
