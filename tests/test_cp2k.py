"""CP2K as a labeller, against CP2K itself: a 5-atom Ag3SBr cell at a 200 Ry cutoff (seconds)."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from curate.calculators import parse_spec, require_backend
from curate.calculators.backends import forget_calculator
from curate.core.errors import InputError
from curate.core.labels import Status
from curate.labelling.worker import compute_labels, label_frames
from curate.systems.builtin import build_system

pytestmark = pytest.mark.skipif(
    shutil.which("cp2k_shell") is None or shutil.which("cp2k.psmp") is None,
    reason="CP2K is not installed (make test installs Debian's cp2k where it runs as root)",
)
FAST = {"cutoff": 200}
"""Ry; the default 300 costs more and checks nothing more here."""


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def cell():
    atoms, _ = build_system("Ag3SBr", supercell=1)
    atoms.positions[0] += (0.04, -0.03, 0.02)  # off the symmetric sites: forces and a shifted gap
    return atoms


def test_labels_match_what_cp2k_psmp_prints_for_the_same_input(cell):
    spec = parse_spec("cp2k", FAST)
    from curate.calculators.backends import cached_calculator

    calc = cached_calculator(spec)
    labels = compute_labels(calc, cell)
    assert set(labels) == {"energy", "forces", "stress", "band_gap", "vbm", "cbm"}
    assert labels["cbm"] - labels["vbm"] == pytest.approx(labels["band_gap"], abs=1e-9)
    assert np.abs(labels["forces"].sum(axis=0)).max() < 1e-3  # momentum conserved
    printed = subprocess.run(
        ["cp2k.psmp", "-i", "cp2k.inp"], cwd=calc.folder, capture_output=True, text=True
    ).stdout
    forget_calculator(spec)
    gap = float(re.findall(r"MO\| Band gap:\s+\S+ a\.u\.\s+(\S+) eV", printed)[-1])
    energy = float(re.findall(r"ENERGY\| Total FORCE_EVAL .*:\s+(\S+)", printed)[-1])
    assert labels["band_gap"] == pytest.approx(gap, abs=1e-6)
    assert labels["energy"] / 27.211386 == pytest.approx(energy, rel=1e-6)


def shells() -> set[int]:
    """Pids of the cp2k_shell processes running under this test process."""
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True) if p.name() == "cp2k_shell"}


def test_an_scf_that_does_not_converge_is_a_physics_failure_with_cp2ks_message(
    cell, tmp_path, monkeypatch
):
    import tempfile

    # Scratch folders under a deep path (CP2K takes no input string over 80 characters)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spec = parse_spec("cp2k", {**FAST, "max_scf": 2})
    before = shells()
    results = label_frames(spec, [(0, cell), (1, cell)])
    # Each failure closes its shell before the next frame starts one: at most one stays open
    # (a dropped shell would go on polling a core for the rest of the run).
    assert len(shells() - before) <= 1
    forget_calculator(spec)
    assert shells() == before
    assert not list(tmp_path.glob("curate-cp2k-*"))  # closed calculators leave no scratch
    for result in results:
        assert result.status is Status.FAILED_PHYSICS
        assert "SCF run NOT converged in 2 steps" in result.error
        assert result.values == {}


def test_bad_keyword_arguments_are_refused_on_the_client():
    with pytest.raises(InputError, match="cutoff"):
        require_backend(parse_spec("cp2k", {"cutoff": -1}))
    with pytest.raises(InputError, match="basiss"):
        require_backend(parse_spec("cp2k", {"basiss": "DZVP"}))


def test_curate_label_with_cp2k_labels_a_store_and_resumes(cli, tmp_path):
    """Through Dask like any backend: labels with band edges, cost per frame, and a re-run that
    has nothing left to do."""
    from curate.store import Store

    store = tmp_path / "S.zarr"
    sample = ["sample", "--system", "Ag3SBr", "--supercell", "1", "--scheme", "random"]
    cli.json(*sample, "--amplitude", "0.05", "-n", "2", "--seed", "3", "--out", store)
    label = ["label", store, "--calculator", "cp2k", "--kwargs", '{"cutoff": 200}']
    first = cli.json(*label, "--workers", "1")
    assert (first["submitted"], first["ok"], first["failed"]) == (2, 2, 0)
    labels = Store.open(store).labels("cp2k")
    assert np.all(labels["band_gap"] > 0) and np.all(labels.wall_s > 0)
    # CP2K computes in its shell, a child of the worker, on one thread: its CPU time is the cost
    assert np.all(labels.cpu_s > 0.5 * labels.wall_s)
    again = cli.json(*label, "--workers", "1")
    assert (again["submitted"], again["skipped"]) == (0, 2)
