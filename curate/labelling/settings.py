"""Settings of a labelling run (``curate label``, the label steps of a recipe): where the work
runs (a local Dask cluster, an existing scheduler, SLURM/PBS jobs) and how it is cut. Light to
import."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from curate.core.settings import Settings, require_counts


class ClusterSettings(Settings):
    """Where Dask work runs: a local cluster (default), an existing scheduler, or SLURM/PBS jobs
    through dask-jobqueue (``curate[cluster]``)."""

    scheduler: str | None = Field(None, description="Address of an existing Dask scheduler.")
    cluster: Literal["local", "slurm", "pbs"] = Field(
        "local", description="local, slurm or pbs (slurm/pbs need curate[cluster])."
    )
    cluster_cores: int = Field(1, ge=1, description="slurm/pbs: cores per job.")
    cluster_memory: str = Field("4GB", description="slurm/pbs: memory per job.")
    walltime: str = Field(
        "01:00:00", description="slurm/pbs: job walltime; workers drain 5 min before it."
    )
    queue: str | None = Field(
        None, description="slurm/pbs: partition or queue (default: dask's jobqueue config)."
    )

    def client_options(self, workers: int | None) -> dict[str, Any]:
        """Keyword arguments of :func:`curate.core.cluster.dask_client`."""
        return {"workers": workers, **self.model_dump(include=set(ClusterSettings.model_fields))}


class LabelSettings(ClusterSettings):
    """A labelling run: the cluster, its size and how frames are cut into tasks."""

    workers: int | None = Field(
        None, description="Dask workers (default: one per core; jobqueue: jobs)."
    )
    label_set: str | None = Field(None, description="Label set name (default from the calculator).")
    retry_failed: bool = Field(False, description="Also retry frames whose calculation failed.")
    batch_size: int | None = Field(
        None, description="Frames per Dask task (default: 16+ tasks per worker, ≤ 8 frames)."
    )
    reuse: list[str] | None = Field(
        None,
        description="Stores (or zipped stores) whose labels of the same frames, made with the "
        "same calculator and settings, are taken instead of computed; repeat for more.",
    )

    @model_validator(mode="after")
    def _check(self) -> LabelSettings:
        require_counts({"--workers": self.workers, "--batch-size": self.batch_size})
        return self
