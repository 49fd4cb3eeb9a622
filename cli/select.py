"""``curate select``: choose N frames of a pool into a new store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import Json, StorePath
from curate.cli.output import emit

from curate.curation.settings import METHODS, SelectSettings

NewStore = Annotated[Path, typer.Option(help="Store to create (.zarr); must not exist.")]


def command(
    store: StorePath,
    n: Annotated[int, typer.Option("--n", "-n", help=SelectSettings.describe("n"))],
    method: Annotated[str, typer.Option(help=f"One of: {', '.join(METHODS)}.")],
    out: NewStore,
    descriptor: Annotated[
        str | None, typer.Option(help=SelectSettings.describe("descriptor"))
    ] = None,
    label_set: Annotated[
        str | None, typer.Option(help=SelectSettings.describe("label_set"))
    ] = None,
    committee: Annotated[
        str | None,
        typer.Option(
            help="uncertainty: a MACE committee folder (curate train-mlip), or comma-separated "
            "calculator specs."
        ),
    ] = None,
    by: Annotated[str | None, typer.Option(help=SelectSettings.describe("by"))] = None,
    seed: Annotated[int | None, typer.Option(help=SelectSettings.describe("seed"))] = None,
    json_: Json = False,
) -> None:
    """Choose N frames of STORE (labelled or not) and write them, with their labels and
    provenance and a record of the choice, to the new store OUT. STORE is not changed."""
    from curate.curation.selectors import select_frames
    from curate.store import Store
    from curate.store.transfer import write_subset

    settings = SelectSettings.build(
        "curate select",
        method=method,
        n=n,
        descriptor=descriptor,
        label_set=label_set,
        committee=tuple(committee.split(",")) if committee else None,
        by=by,
        seed=seed,
    )
    with Store.open(store) as source:
        choice = select_frames(source, settings)
        record = {
            "step": "select",
            "summary": f"{settings.method}, {settings.n} frames",
            "settings": settings.model_dump(mode="json"),
            "details": choice.details,
        }
        counts = write_subset(source, out, choice.indices, record)
        pool = source.n_frames
    payload = {
        "store": str(store),
        "out": str(out),
        "method": settings.method,
        "n": settings.n,
        "pool": pool,
        "indices": choice.indices.tolist(),
        "labels_copied": counts["labels"],
        "details": choice.details,
    }
    emit(
        payload,
        json_,
        lambda c: c.print(
            f"chose {settings.n} of {pool} frames by {settings.method} into {out} "
            f"({counts['labels']} labels kept)"
        ),
    )
