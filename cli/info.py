"""``curate info``: what a store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.output import emit


def command(
    store: Annotated[Path, typer.Argument(help="A curate store (.zarr).")],
    json_: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Frames per scheme and system, and the state of every label set."""
    from curate.store import Store

    with Store.open(store) as opened:
        payload = opened.summary()

    def render(console):
        from rich.table import Table

        console.print(
            f"{payload['store']}: {payload['n_frames']} frames, {payload['n_atoms']} atoms "
            f"(schema {payload['format']} {payload['schema_version']}, commit {payload['commit']})"
        )
        table = Table("scheme", "frames")
        for scheme, count in sorted(payload["schemes"].items()):
            table.add_row(scheme, str(count))
        console.print(table)
        if payload["label_sets"]:
            labels = Table("label set", "calculator", "properties", "ok", "failed", "pending")
            for name, entry in payload["label_sets"].items():
                counts = entry["counts"]
                labels.add_row(
                    name,
                    entry["calculator"],
                    ", ".join(entry["properties"]),
                    str(counts["ok"]),
                    str(counts["failed"]),
                    str(counts["pending"]),
                )
            console.print(labels)

    emit(payload, json_, render)
