"""Options several commands share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

Json = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
StorePath = Annotated[Path, typer.Argument(help="A curate store (.zarr).")]
OutStore = Annotated[Path, typer.Option(help="Store to create or append to (.zarr).")]
Supercell = Annotated[
    int | None, typer.Option(help="Repetitions per axis (built-ins: 2 → 40 atoms; files: 1).")
]
BrFraction = Annotated[float, typer.Option(help="Ag3SBrI: Br share of the halide sites.")]
OccupationSeed = Annotated[int, typer.Option(help="Ag3SBrI: seed of the Br/I occupation.")]
MinDistance = Annotated[float, typer.Option(help="Refuse frames with atoms closer than this (Å).")]
AllowClose = Annotated[
    bool, typer.Option(help="Keep frames with close atoms, with a warning, instead.")
]
Workers = Annotated[int | None, typer.Option(help="Dask workers (default: one per core).")]
Scheduler = Annotated[
    str | None, typer.Option(help="Address of an existing Dask scheduler to use.")
]


def setting(model: type, name: str, *flags: str) -> Any:
    """A typer option for field ``name`` of a stage's settings ``model``: its help is the field's
    description with the default, and the option itself defaults to None, so that the model's
    default applies (one default, in one place)."""
    return typer.Option(*flags, help=model.describe(name), show_default=False)


def given(model: type, values: dict[str, Any]) -> dict[str, Any]:
    """The command's option values (its ``locals()``) that are fields of ``model``."""
    return {name: value for name, value in values.items() if name in model.model_fields}


def _cluster_option(name: str) -> Any:
    from curate.labelling.settings import ClusterSettings

    return setting(ClusterSettings, name)


Cluster = Annotated[str | None, _cluster_option("cluster")]
ClusterCores = Annotated[int | None, _cluster_option("cluster_cores")]
ClusterMemory = Annotated[str | None, _cluster_option("cluster_memory")]
Walltime = Annotated[str | None, _cluster_option("walltime")]
Queue = Annotated[str | None, _cluster_option("queue")]


def cluster_options(workers: int | None, values: dict[str, Any]) -> dict[str, Any]:
    """Options of :func:`curate.core.cluster.dask_client` from a command's cluster options (its
    ``locals()``), checked by :class:`~curate.labelling.settings.ClusterSettings`."""
    from curate.labelling.settings import ClusterSettings

    settings = ClusterSettings.build("curate", **given(ClusterSettings, values))
    return settings.client_options(workers)
