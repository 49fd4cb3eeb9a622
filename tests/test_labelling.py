"""curate label on Dask: labels equal ASE's own, failures recorded, killed runs and killed
workers lose nothing, bad input changes nothing."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read

from curate.calculators import parse_spec
from curate.core.labels import Status
from curate.labelling.run import label_store
from curate.samplers.registry import get_sampler
from curate.store import Store

TESTS = Path(__file__).parent


@pytest.fixture
def copper_store(tmp_path: Path) -> Path:
    """24 rattled 32-atom Cu frames (EMT knows copper)."""
    frames, provenance = get_sampler("random", {"amplitude": 0.15}).sample(
        bulk("Cu", cubic=True).repeat(2), 24, seed=0, system="Cu"
    )
    path = tmp_path / "Cu.zarr"
    with Store.create(path) as store:
        store.append(frames, provenance)
    return path


def direct_emt(frames):
    """Energy, forces and stress from ASE's EMT called frame by frame."""
    out = []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = EMT()
        out.append((atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()))
    return out


def test_labels_equal_ase_on_the_exported_frames(cli, copper_store, tmp_path):
    report = cli.json(
        "label", copper_store, "--calculator", "ase:ase.calculators.emt.EMT", "--workers", "2"
    )
    assert (report["submitted"], report["ok"], report["failed"]) == (24, 24, 0)
    info = cli.json("info", copper_store)["label_sets"]["emt"]
    assert info["calculator"] == "ase:ase.calculators.emt.EMT" and info["counts"]["ok"] == 24
    cli.json("export", copper_store, "--format", "extxyz", "--out", tmp_path / "Cu.xyz")
    exported = read(tmp_path / "Cu.xyz", ":")
    for atoms, (energy, forces, stress) in zip(exported, direct_emt(exported), strict=True):
        assert atoms.info["REF_energy"] == pytest.approx(energy, rel=1e-12)
        assert np.allclose(atoms.arrays["REF_forces"], forces, rtol=1e-12, atol=1e-12)
        assert np.allclose(atoms.info["REF_stress"], stress, rtol=1e-12, atol=1e-12)
    labels = Store.open(copper_store).labels("emt")
    assert (labels.wall_s > 0).all() and (labels.host != "").all()
    # A re-run has nothing left to do.
    again = cli.json(
        "label", copper_store, "--calculator", "ase:ase.calculators.emt.EMT", "--workers", "1"
    )
    assert (again["submitted"], again["skipped"], again["ok"]) == (0, 24, 24)


def test_failed_frames_are_recorded_and_retried_on_request(cli, copper_store, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    args = (
        "label",
        copper_store,
        "--calculator",
        "ase:calculators_for_tests.FailingEMT",
        "--workers",
        "2",
        "--json",
    )
    first = cli(*args)
    assert first.exit_code == 3
    report = json.loads(first.stdout)
    frames = Store.open(copper_store).atoms()
    failing = sum(atoms.positions[0, 0] < 0 for atoms in frames)
    assert 0 < failing < 24
    assert report["failed_physics"] == failing and report["ok"] == 24 - failing
    labels = Store.open(copper_store).labels("failingemt")
    bad = labels.status == Status.FAILED_PHYSICS
    assert set(labels.error[bad]) == {"RuntimeError: SCF not converged after 100 iterations"}
    assert np.isnan(labels["energy"][bad]).all() and not np.isnan(labels["energy"][~bad]).any()
    assert json.loads(cli(*args).stdout)["submitted"] == 0  # recorded failures stay put...
    retried = cli(*args, "--retry-failed")  # ...unless asked
    assert retried.exit_code == 3 and json.loads(retried.stdout)["submitted"] == failing


def test_kill_9_mid_run_then_rerun_labels_every_frame_once(copper_store):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    command = [
        sys.executable,
        "-m",
        "curate.cli.app",
        "label",
        str(copper_store),
        "--calculator",
        "ase:calculators_for_tests.SlowEMT",
        "--kwargs",
        "delay: 0.3",
        "--workers",
        "1",
        "--json",
    ]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 60
    done_before = 0
    while time.time() < deadline and done_before < 3:
        time.sleep(0.5)
        store = Store.open(copper_store)
        if "slowemt" in store.label_sets():
            done_before = store.status_counts("slowemt")["ok"]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= done_before < 24
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    report = json.loads(second.stdout)
    store = Store.open(copper_store)
    killed_at = 24 - report["submitted"]
    assert killed_at >= done_before and report["ok"] == 24
    labels = store.labels("slowemt")
    for i, (energy, forces, stress) in enumerate(direct_emt(store.atoms())):
        assert labels["energy"][i] == pytest.approx(energy, rel=1e-12)
        assert np.allclose(labels["forces"][labels.atom_ptr[i] : labels.atom_ptr[i + 1]], forces)
        assert np.allclose(labels["stress"][i], stress)


def test_a_killed_worker_loses_nothing(copper_store, monkeypatch):
    import logging

    from distributed import Client, LocalCluster

    monkeypatch.syspath_prepend(str(TESTS))
    spec = parse_spec("ase:calculators_for_tests.SlowEMT", {"delay": 0.15})
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = list(client.run(os.getpid).values())
        progress = []
        runner = threading.Thread(
            target=lambda: progress.append(
                label_store(
                    copper_store,
                    spec,
                    client_options={"scheduler": cluster.scheduler_address},
                    progress=lambda done, total, summary: progress.append(done),
                )
            )
        )
        runner.start()
        while len(progress) < 4:
            time.sleep(0.05)
        os.kill(pids[0], signal.SIGKILL)
        runner.join(timeout=120)
    summary = progress[-1]
    assert summary.counts["ok"] == 24 and summary.n_failed == 0


def bad_label_args() -> dict[str, tuple[list, str]]:
    cases = {
        "unknown spec": (["--calculator", "vasp"], "unknown calculator spec 'vasp'"),
        "unreachable scheduler": (
            ["--calculator", "emt", "--scheduler", "tcp://127.0.0.1:9"],
            "cannot reach the Dask scheduler",
        ),
        "bad cluster": (["--calculator", "emt", "--cluster", "sge"], "unknown --cluster"),
        "bad kwargs": (["--calculator", "emt", "--kwargs", "[1, 2"], "not JSON or YAML"),
    }
    if importlib.util.find_spec("gpaw") is None:
        cases["missing package"] = (["--calculator", "gpaw"], "pip install 'curate[dft]'")
    return cases


@pytest.mark.parametrize(
    "case",
    ["unknown spec", "unreachable scheduler", "bad cluster", "bad kwargs", "missing package"],
)
def test_bad_label_input_gets_one_line_and_changes_nothing(cli, copper_store, snapshot, case):
    cases = bad_label_args()
    if case not in cases:
        pytest.skip("gpaw is installed")
    args, message = cases[case]
    before = snapshot(copper_store)
    result = cli("label", copper_store, *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert snapshot(copper_store) == before


def test_a_label_set_keeps_its_calculator(cli, copper_store):
    assert cli("label", copper_store, "--calculator", "emt", "--workers", "1").exit_code == 0
    result = cli(
        "label",
        copper_store,
        "--calculator",
        "emt",
        "--kwargs",
        "asap_cutoff: true",
        "--workers",
        "1",
    )
    assert result.exit_code == 2 and "pass --label-set to start another" in result.stderr
    other = cli.json(
        "label",
        copper_store,
        "--calculator",
        "emt",
        "--kwargs",
        "asap_cutoff: true",
        "--label-set",
        "emt-asap",
        "--workers",
        "1",
    )
    assert other["ok"] == 24
    assert sorted(cli.json("info", copper_store)["label_sets"]) == ["emt", "emt-asap"]


@pytest.mark.parametrize("kind, cpu_line", [("slurm", "--cpus-per-task=8"), ("pbs", "ncpus=8")])
def test_jobqueue_workers_drain_before_the_walltime(kind, cpu_line):
    from curate.core.cluster import jobqueue_cluster

    cluster = jobqueue_cluster(kind, cores=8, memory="16GB", walltime="02:00:00")
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert cpu_line in script and "--nthreads 1" in script
    assert "--lifetime 6900s" in script  # 2 h minus the 5 min drain margin
    assert "'OMP_NUM_THREADS': '8'" in script


def test_walltimes_are_parsed_or_refused():
    from curate.core.cluster import walltime_seconds
    from curate.core.errors import InputError

    assert walltime_seconds("1-02:00:00") == 26 * 3600
    assert walltime_seconds("00:30:00") == 1800
    for ambiguous in ("2h", "30:00"):  # SLURM reads MM:SS where PBS reads HH:MM
        with pytest.raises(InputError, match="walltime"):
            walltime_seconds(ambiguous)


def test_labels_of_the_same_frames_are_reused_from_a_zipped_store(cli, copper_store, tmp_path):
    """A store shipped as a zip gives its labels to every frame with the same content uid made
    with the same calculator and settings; the rest is computed, and nothing twice."""
    emt = ["--calculator", "emt", "--workers", "1"]
    cli.json("label", copper_store, *emt)
    shipped = tmp_path / "shipped.zarr.zip"
    cli.json("export", copper_store, "--format", "zip", "--out", shipped)
    assert cli.json("info", shipped)["n_frames"] == 24
    frames, provenance = get_sampler("random", {"amplitude": 0.15}).sample(
        bulk("Cu", cubic=True).repeat(2), 30, seed=0, system="Cu"
    )  # the same 24 frames and 6 more
    fresh = tmp_path / "fresh.zarr"
    with Store.create(fresh) as store:
        store.append(frames, provenance)
    report = cli.json("label", fresh, *emt, "--reuse", shipped)
    assert (report["reused"], report["submitted"], report["ok"]) == (24, 6, 30)
    taken, paid = Store.open(fresh).labels("emt"), Store.open(shipped).labels("emt")
    assert np.array_equal(taken["energy"][:24], paid["energy"])
    assert np.array_equal(taken.wall_s[:24], paid.wall_s)  # the cost as it was paid
    other = tmp_path / "other.zarr"
    with Store.create(other) as store:
        store.append(frames, provenance)
    kwargs = ["--kwargs", '{"asap_cutoff": true}']
    assert cli.json("label", other, *emt, *kwargs, "--reuse", shipped)["reused"] == 0


def test_shipped_physics_failures_are_reused_as_failures_and_retried_on_request(
    cli, copper_store, monkeypatch, tmp_path
):
    """A frame that failed (an SCF that never converged) fails again with the same input: its
    shipped failure is taken, with its message, instead of paying for it twice."""
    monkeypatch.syspath_prepend(str(TESTS))
    failing = ["--calculator", "ase:calculators_for_tests.FailingEMT", "--workers", "1"]
    cli("label", copper_store, *failing)
    shipped = tmp_path / "shipped.zarr.zip"
    cli.json("export", copper_store, "--format", "zip", "--out", shipped)
    paid = Store.open(shipped).labels("failingemt")
    n_failed = int((paid.status == Status.FAILED_PHYSICS).sum())
    fresh = tmp_path / "fresh.zarr"
    with Store.create(fresh) as store:
        source = Store.open(copper_store)
        store.append(source.atoms(), source.provenance())
    report = json.loads(cli("label", fresh, *failing, "--reuse", shipped, "--json").stdout)
    assert (report["reused"], report["submitted"]) == (24, 0)
    taken = Store.open(fresh).labels("failingemt")
    assert np.array_equal(taken.status, paid.status) and list(taken.error) == list(paid.error)
    retried = cli("label", fresh, *failing, "--reuse", shipped, "--retry-failed", "--json")
    assert json.loads(retried.stdout)["submitted"] == n_failed > 0


@pytest.mark.parametrize(
    ("broken", "infinite"), [("energy", False), ("forces", True), ("stress", False)]
)
def test_a_non_finite_label_is_never_ok(cli, copper_store, monkeypatch, broken, infinite):
    """NaN or infinite values from a calculator make the frame a physics failure naming the
    property, and exit code 3."""
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    kwargs = json.dumps({"broken": broken, "infinite": infinite})
    result = cli(
        "label",
        copper_store,
        "--calculator",
        "ase:calculators_for_tests.NonFiniteEMT",
        "--kwargs",
        kwargs,
        "--workers",
        "1",
        "--json",
    )
    assert result.exit_code == 3
    store = Store.open(copper_store)
    labels = store.labels("nonfiniteemt")
    assert (labels.status == Status.FAILED_PHYSICS).all()
    assert all(f"non-finite {broken}" in error for error in labels.error)


def test_cpu_seconds_count_an_oracle_that_computes_in_a_child_process(monkeypatch):
    """A frame's cpu_s includes its calculator's child processes (CP2K computes in one), which
    the worker's own CPU clock does not see."""
    from curate.labelling.worker import label_frames

    monkeypatch.syspath_prepend(str(TESTS))
    spec = parse_spec("ase:calculators_for_tests.ChildProcessEMT", {"busy": 0.3})
    (result,) = label_frames(spec, [(0, bulk("Cu", cubic=True))])
    assert result.status is Status.OK
    assert result.cpu_s >= 0.3
