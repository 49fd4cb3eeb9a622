"""Dask clients for labelling: a local cluster sized to the machine, an existing scheduler, or
SLURM/PBS workers through dask-jobqueue."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from typing import Literal

from curate.core.errors import InputError

ClusterKind = Literal["local", "slurm", "pbs"]
WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ": {},
}
"""Dask settings for labelling workers: see :func:`thread_env`."""
DRAIN_MARGIN_S = 300
"""Jobqueue workers retire this long before their walltime ends, handing their tasks back."""
STAGGER_S = 60
"""Jobqueue workers' lifetimes are spread by up to this much, so they do not all leave at once."""


def local_cores() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def thread_env(threads: int) -> dict[str, str]:
    """Environment for worker processes: math libraries kept to ``threads`` threads each.

    Passed as the workers' ``env`` (set in each worker before torch is imported), while Dask's
    ``pre-spawn-environ`` is emptied: its default ``MALLOC_TRIM_THRESHOLD_=65536`` made CHGNet
    take 0.153 s per 40-atom frame instead of 0.095 s on one thread here, as torch's allocations
    kept going back to the OS. (Dask lets the parent's environment override that setting and
    writes it into the parent, so it cannot carry per-cluster values.)
    """
    n = str(max(1, threads))
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "CURATE_TORCH_THREADS": n,
    }


def apply_worker_threads() -> None:
    """In a worker process, hold torch and the BLAS libraries to the threads :func:`thread_env`
    granted. The environment alone is not enough for BLAS: the worker has loaded numpy's
    OpenBLAS (with one thread per core) before the variables are set, and a multi-threaded
    OpenBLAS called from torch's OpenMP threads oversubscribes the cores and warns."""
    threads = os.environ.get("CURATE_TORCH_THREADS")
    if threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(int(threads))
        threadpool_limits(int(threads), user_api="blas")


def walltime_seconds(walltime: str) -> int:
    """Seconds in a ``[D-]HH:MM:SS`` walltime (the form SLURM and PBS both read the same way)."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d{2}):(\d{2})", walltime)
    if not match:
        raise InputError(f"walltime must look like HH:MM:SS, got '{walltime}'")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def jobqueue_cluster(
    kind: Literal["slurm", "pbs"],
    cores: int,
    memory: str,
    walltime: str,
    queue: str | None = None,
):
    """A dask-jobqueue cluster (no job submitted yet: :func:`start_jobs`) whose workers leave
    gracefully before the walltime, in ``queue`` (a SLURM partition or PBS queue) if given.
    Account, interface and the rest come from dask's jobqueue config
    (``~/.config/dask/jobqueue.yaml``). The scheduler must be reachable from the compute nodes;
    its dashboard listens on 127.0.0.1 only."""
    try:
        import dask_jobqueue
    except ImportError:
        raise InputError(
            f"--cluster {kind} needs dask-jobqueue: pip install 'curate[cluster]'"
        ) from None
    lifetime = walltime_seconds(walltime) - DRAIN_MARGIN_S
    if lifetime <= STAGGER_S:
        raise InputError(f"walltime {walltime} leaves no time to work after the drain margin")
    # One task at a time per job, with every core of the job for the calculator.
    common = {
        "cores": 1,
        "processes": 1,
        "memory": memory,
        "walltime": walltime,
        "job_script_prologue": [
            f'export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON="{thread_env(cores)}"'
        ],
        "worker_extra_args": ["--lifetime", f"{lifetime}s", "--lifetime-stagger", f"{STAGGER_S}s"],
        "scheduler_options": {"dashboard_address": "127.0.0.1:0"},
    }
    if queue is not None:
        common["queue"] = queue
    if kind == "slurm":
        return dask_jobqueue.SLURMCluster(job_cpu=cores, **common)
    return dask_jobqueue.PBSCluster(resource_spec=f"select=1:ncpus={cores}:mem={memory}", **common)


def start_jobs(cluster, kind: Literal["slurm", "pbs"], workers: int) -> None:
    """Scale a jobqueue cluster adaptively between one job and ``workers``. A SLURM job the
    scheduler would refuse (an unknown partition, a walltime over its limit) is one InputError
    with SLURM's reason, before any job is submitted."""
    if kind == "slurm" and (refused := slurm_refusal(cluster.job_script())):
        raise InputError(f"SLURM refuses the worker job: {refused}")
    cluster.adapt(minimum=1, maximum=workers)


def slurm_refusal(script: str) -> str | None:
    """What ``sbatch --test-only`` says is wrong with a job script (None when SLURM would take
    it); InputError when there is no sbatch to ask."""
    import subprocess

    try:
        done = subprocess.run(
            ["sbatch", "--test-only"], input=script, capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError:
        raise InputError("--cluster slurm needs SLURM's sbatch on PATH") from None
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return lines[-1].removeprefix("sbatch: error: ") if lines else f"exit {done.returncode}"


@contextlib.contextmanager
def dask_client(
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: ClusterKind = "local",
    cluster_cores: int = 1,
    cluster_memory: str = "4GB",
    walltime: str = "01:00:00",
    queue: str | None = None,
) -> Iterator:
    """A connected ``distributed.Client``; clusters it started are closed on exit."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    if cluster == "local":
        # The scheduler and nannies log through this process's root logger, which MACE (loaded
        # by the active-learning loop) opens to INFO: keep them to errors, as silence_logs does.
        logging.getLogger("distributed").setLevel(logging.ERROR)
        n = workers or local_cores()
        with dask.config.set(WORKER_CONFIG):
            made = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
                env=thread_env(local_cores() // n),
            )
    else:
        made = jobqueue_cluster(cluster, cluster_cores, cluster_memory, walltime, queue)
        try:
            start_jobs(made, cluster, workers or 1)
        except BaseException:
            made.close()
            raise
    with made, Client(made) as client:
        yield client
