"""``curate run``: a whole campaign from a YAML recipe, resumable step by step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json
from curate.cli.output import emit, stderr


def command(
    recipe: Annotated[
        str,
        typer.Argument(
            help="Recipe file, or a bundled recipe: quickstart, curation, bandgap or paper."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Campaign folder (created; run again to resume).")],
    workers: Annotated[
        int | None, typer.Option(help="Dask workers, instead of the recipe's.")
    ] = None,
    force_step: Annotated[
        list[str] | None,
        typer.Option(
            "--force-step",
            help="Run this step again even if done (and the steps after it that use it); "
            "repeatable.",
        ),
    ] = None,
    json_: Json = False,
) -> None:
    """Sample, label, measure diversity and compare learning curves as RECIPE says, into OUT.

    Finished steps are recorded in OUT/steps.json: running the same command again skips them,
    and runs again only the steps whose recipe section (or a step they use) changed.
    """
    from curate.pipelines.runner import ConsoleReporter, run_recipe

    summary = run_recipe(
        recipe,
        out,
        workers=workers,
        force=tuple(force_step or ()),
        reporter=ConsoleReporter(stderr),
    )

    def render(console):
        from rich.table import Table

        table = Table("step", "status", "seconds", title=f"recipe {summary['recipe']}")
        for step in summary["steps"]:
            table.add_row(step["name"], step["status"], f"{step['seconds']:.1f}")
        console.print(table)
        for name, path in summary["files"].items():
            console.print(f"{name}: {path}")

    emit(summary, json_, render)
