"""Labelling and campaigns on a real SLURM scheduler (a single-node cluster started for these
tests): results equal a local run's, a cancelled job or a walltime that runs out loses nothing,
a refused job is one line."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from slurm_cluster import jobs, slurm_cluster, unavailable

from curate.calculators import parse_spec
from curate.core.labels import Status
from curate.labelling.run import label_store
from curate.samplers.registry import get_sampler
from curate.store import Store

TESTS = Path(__file__).parent
pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))
JOB = ["--cluster", "slurm", "--cluster-memory", "1GB", "--walltime", "00:10:00"]
"""A worker job of one core, 1 GB and ten minutes."""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    import dask

    saved = {k: os.environ.get(k) for k in ("SLURM_CONF", "PYTHONPATH")}
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as env:
        os.environ["SLURM_CONF"] = env["SLURM_CONF"]
        os.environ["PYTHONPATH"] = str(TESTS)  # sbatch passes it on: workers import test modules
        logs = tmp_path_factory.mktemp("slurm-logs")  # job output files, out of the checkout
        settings = {"jobqueue.slurm.interface": "lo", "jobqueue.slurm.log-directory": str(logs)}
        with dask.config.set(settings):
            yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def copper(path: Path, n: int) -> Path:
    frames, provenance = get_sampler("random", {"amplitude": 0.15}).sample(
        bulk("Cu", cubic=True).repeat(2), n, seed=0, system="Cu"
    )
    with Store.create(path) as store:
        store.append(frames, provenance)
    return path


def test_labels_from_slurm_workers_equal_a_local_run(slurm, cli, tmp_path):
    on_slurm, local = copper(tmp_path / "slurm.zarr", 16), copper(tmp_path / "local.zarr", 16)
    report = cli.json("label", on_slurm, "--calculator", "emt", "--workers", "2", *JOB)
    assert (report["ok"], report["failed"]) == (16, 0)
    cli.json("label", local, "--calculator", "emt", "--workers", "1")
    a, b = Store.open(on_slurm).labels("emt"), Store.open(local).labels("emt")
    for prop in ("energy", "forces", "stress"):  # to roundoff: EMT keeps a neighbour list
        assert np.allclose(a[prop], b[prop], rtol=1e-12, atol=1e-12), prop


def slow_labelling(store: Path, delay: float, **options) -> tuple[threading.Thread, dict]:
    """``label_store`` with SlowEMT on SLURM in a thread; its summary lands in the dict."""
    spec = parse_spec("ase:calculators_for_tests.SlowEMT", {"delay": delay})
    out: dict = {}
    client = {"cluster": "slurm", "cluster_memory": "1GB", **options}

    def run() -> None:
        out["summary"] = label_store(store, spec, batch_size=2, client_options=client)

    return threading.Thread(target=run), out


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_a_cancelled_worker_job_loses_nothing(slurm, tmp_path):
    store = copper(tmp_path / "S.zarr", 40)
    thread, out = slow_labelling(store, 0.3, workers=2, walltime="00:10:00")
    thread.start()
    wait_for(lambda: len(jobs(slurm, "running")) == 2)
    time.sleep(4)  # both workers busy with a batch
    victim = jobs(slurm, "running")[0][0]
    subprocess.run(["scancel", victim], env=slurm, check=True)
    thread.join(timeout=300)
    labels = Store.open(store).labels("slowemt")
    assert (labels.status == Status.OK).all() and out["summary"].counts["ok"] == 40
    assert len(jobs(slurm)) >= 3  # the cancelled job was replaced


def test_workers_retire_before_their_walltime_and_new_jobs_take_over(slurm, tmp_path, monkeypatch):
    import curate.core.cluster

    # A two-minute job whose worker retires after about 20 s (the margin is 5 min in use).
    monkeypatch.setattr(curate.core.cluster, "DRAIN_MARGIN_S", 100)
    monkeypatch.setattr(curate.core.cluster, "STAGGER_S", 1)
    store = copper(tmp_path / "S.zarr", 60)
    before = {job for job, _ in jobs(slurm)}
    thread, _ = slow_labelling(store, 0.6, workers=1, walltime="00:02:00")
    thread.start()
    thread.join(timeout=400)
    labels = Store.open(store).labels("slowemt")
    assert (labels.status == Status.OK).all()
    used = [(job, state) for job, state in jobs(slurm) if job not in before]
    assert len(used) >= 2, used  # the first worker left on its own and a second job finished
    assert all(state != "TIMEOUT" for _, state in used), used


def test_a_campaign_labels_and_compares_on_slurm(slurm, cli, tmp_path):
    bulk("Cu", "fcc", a=3.61, cubic=True).write(tmp_path / "Cu.cif")
    recipe = {
        "name": "slurm",
        "system": "Cu.cif",
        "supercell": 2,
        "oracle": "emt",
        "workers": 2,
        "dask": {"cluster": "slurm", "cluster_memory": "1GB", "walltime": "00:10:00"},
        "sets": [
            {"scheme": "random", "n": 12, "seed": 1, "params": {"amplitude": "0.05:0.2"}},
            {"scheme": "mc-rattle", "n": 12, "seed": 2},
        ],
        "diversity": {"enabled": False},
        "compare": {
            "targets": ["energy_per_atom"],
            "sizes": [4],
            "seeds": 1,
            "hidden": 8,
            "max_epochs": 3,
            "patience": 2,
            "cutoff": 4.0,
        },
    }
    (tmp_path / "slurm.yaml").write_text(json.dumps(recipe))
    result = cli("run", tmp_path / "slurm.yaml", "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    assert Store.open(tmp_path / "run" / "sets.zarr").status_counts("emt")["ok"] == 24
    assert (tmp_path / "run" / "report.html").is_file()


def test_a_job_the_scheduler_refuses_is_one_line(slurm, cli, tmp_path):
    store = copper(tmp_path / "S.zarr", 2)
    result = cli("label", store, "--calculator", "emt", *JOB, "--queue", "nope")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert "SLURM refuses the worker job" in lines[0] and "partition" in lines[0].lower()
    assert Store.open(store).label_sets() == []
