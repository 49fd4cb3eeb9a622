"""``curate explain``: GNNExplainer edge importance of a model, by bond type."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath
from curate.cli.output import emit, stderr
from curate.cli.train import Threads, set_threads


def command(
    model: Annotated[Path, typer.Argument(help="Model file written by curate train.")],
    store: StorePath,
    out: Annotated[Path, typer.Option(help="Folder for importance.json and importance.png.")],
    compare: Annotated[
        Path | None, typer.Option(help="A second model file to explain on the same frames.")
    ] = None,
    frames: Annotated[int, typer.Option(help="Frames to explain (a seeded random choice).")] = 50,
    split: Annotated[
        str | None,
        typer.Option(help="Choose from this part (train, val, test) of the model's own store."),
    ] = None,
    epochs: Annotated[int, typer.Option(help="GNNExplainer optimisation steps per frame.")] = 100,
    threshold: Annotated[
        float, typer.Option(help="Importance above which an edge counts as significant.")
    ] = 0.86,
    top: Annotated[int, typer.Option(help="Most important edges to list.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the frame choice and the explainer.")] = 0,
    threads: Threads = None,
    json_: Json = False,
) -> None:
    """Run GNNExplainer over frames of STORE and aggregate edge importance by bond type:
    density plots per bond type, the top edges, and mean importance per bond type as JSON."""
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from curate.models.explain import bond_summary, density_plot, explain_model, top_edges

    set_threads(threads)
    paths = {"model": model} | ({"compare": compare} if compare is not None else {})
    explained, payload = {}, {"store": str(store), "threshold": threshold, "models": {}}
    for role, path in paths.items():
        columns = (TextColumn(f"explaining {path.name}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=stderr) as bar:
            task = bar.add_task("explain", total=frames)

            def progress(done: int, total: int, task=task, bar=bar) -> None:
                bar.update(task, completed=done)

            record, edges = explain_model(path, store, frames, split, epochs, seed, progress)
        label = f"{path.name} ({record['model']['name']}, {record['target']['name']})"
        explained[label] = edges
        payload["models"][role] = {
            "file": str(path),
            "architecture": record["model"]["name"],
            "target": record["target"]["name"],
            "frames": sorted({int(f) for f in edges.frame}),
            "bond_types": bond_summary(edges, threshold),
            "top_edges": top_edges(edges, top),
        }
    out.mkdir(parents=True, exist_ok=True)
    payload["files"] = {"json": str(out / "importance.json"), "plot": str(out / "importance.png")}
    density_plot(explained, out / "importance.png", threshold)
    (out / "importance.json").write_text(json.dumps(payload, indent=1) + "\n")

    def render(console):
        from rich.table import Table

        for role, entry in payload["models"].items():
            table = Table("bond", "edges", "mean", "median", f"> {threshold:g}")
            for bond, s in entry["bond_types"].items():
                table.add_row(
                    bond,
                    str(s["n_edges"]),
                    f"{s['mean']:.3f}",
                    f"{s['median']:.3f}",
                    f"{s['significant_fraction']:.1%}",
                )
            console.print(f"{role}: {entry['file']} ({entry['architecture']}, {entry['target']})")
            console.print(table)
        console.print(f"wrote {out}/importance.json and importance.png")

    emit(payload, json_, render)
