"""``curate check``: read every chunk of a store and name what is damaged."""

from __future__ import annotations

import typer
from curate.cli.options import Json, StorePath
from curate.cli.output import emit

DAMAGED = 2
"""Exit code when any chunk is damaged (the same as for any input curate cannot use)."""


def command(store: StorePath, json_: Json = False) -> None:
    """Read every committed chunk of STORE, verifying its checksum, and list the damaged arrays
    with the frames they hold; exit code 2 when there are any."""
    from curate.store import Store
    from curate.store.check import check_store

    with Store.open(store) as opened:
        damage, chunks = check_store(opened)
        payload = {
            "store": str(store),
            "n_frames": opened.n_frames,
            "chunks_read": chunks,
            "damaged": [d.as_dict() for d in damage],
        }

    def render(console):
        if not damage:
            console.print(f"{store}: {chunks} chunks read, none damaged")
            return
        from rich.table import Table

        table = Table("array", "rows", "frames", "why")
        for d in damage:
            frames = "unknown" if d.frames is None else f"{d.frames[0]}–{d.frames[1]}"
            table.add_row(d.array, f"{d.rows[0]}–{d.rows[1] - 1}", frames, d.reason)
        console.print(f"{store}: {len(damage)} of {chunks} chunks damaged")
        console.print(table)

    emit(payload, json_, render)
    if damage:
        raise typer.Exit(DAMAGED)
