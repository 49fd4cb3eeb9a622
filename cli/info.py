"""``curate info``: what a store holds."""

from __future__ import annotations

from curate.cli.options import Json, StorePath
from curate.cli.output import emit


def command(
    store: StorePath,
    json_: Json = False,
) -> None:
    """Frames per scheme and system, and the state of every label set."""
    from curate.store import Store

    with Store.open(store) as opened:
        payload = opened.summary()

    def render(console):
        from rich.table import Table

        console.print(
            f"{payload['store']}: {payload['n_frames']} frames, {payload['n_atoms']} atoms "
            f"(schema {payload['format']} {payload['schema_version']}, commit {payload['commit']})",
            soft_wrap=True,  # a long store path stays on one line
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
        for entry in payload["history"]:
            console.print(
                f"made by curate {entry['step']} ({entry.get('summary', '')}) from "
                f"{entry['source']} ({entry['source_frames']} frames)",
                soft_wrap=True,
            )

    emit(payload, json_, render)
