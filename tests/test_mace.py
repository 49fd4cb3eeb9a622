"""Our extxyz trains MACE with the field's own tool, and the model it writes labels frames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces

from curate.calculators import build_calculator, parse_spec
from curate.labelling.run import label_store
from curate.labelling.worker import compute_labels
from curate.samplers.registry import get_sampler
from curate.store import Store
from curate.store.extxyz import export_extxyz

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mace_model(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny MACE model trained for one epoch by mace_run_train on an EMT-labelled export."""
    work = tmp_path_factory.mktemp("mace")
    frames, provenance = get_sampler("random", {"amplitude": 0.15}).sample(
        bulk("Cu", cubic=True).repeat(2), 20, seed=0, system="Cu"
    )
    with Store.create(work / "Cu.zarr") as store:
        store.append(frames, provenance)
    label_store(work / "Cu.zarr", parse_spec("emt"), client_options={"workers": 1})
    export_extxyz(Store.open(work / "Cu.zarr"), work / "Cu.xyz", "emt")
    train = Path(sys.executable).parent / "mace_run_train"
    subprocess.run(
        [
            train,
            "--name",
            "tiny",
            "--train_file",
            work / "Cu.xyz",
            "--valid_fraction",
            "0.2",
            "--energy_key",
            "REF_energy",
            "--forces_key",
            "REF_forces",
            "--stress_key",
            "REF_stress",
            "--model",
            "MACE",
            "--hidden_irreps",
            "8x0e",
            "--max_L",
            "0",
            "--r_max",
            "4.0",
            "--batch_size",
            "4",
            "--max_num_epochs",
            "1",
            "--device",
            "cpu",
            "--E0s",
            "average",
            "--default_dtype",
            "float64",
            "--seed",
            "1",
            "--results_dir",
            work / "results",
            "--checkpoints_dir",
            work / "checkpoints",
            "--model_dir",
            work,
            "--log_dir",
            work / "logs",
        ],
        check=True,
        capture_output=True,
        cwd=work,
    )
    return work / "tiny.model", work / "Cu.zarr"


def test_mace_run_train_reads_our_export(mace_model):
    model, _ = mace_model
    assert model.is_file() and model.stat().st_size > 0


def test_mace_backend_follows_the_labeller_contract(mace_model):
    model, _ = mace_model
    calc = build_calculator(parse_spec(f"mace:{model}"))
    atoms = bulk("Cu", cubic=True)
    atoms.rattle(0.05, seed=2)
    values = compute_labels(calc, atoms)
    assert set(values) == {"energy", "forces", "stress"}
    atoms.calc = calc
    numerical = calculate_numerical_forces(atoms, eps=1e-4, force_consistent=False)
    assert np.allclose(values["forces"], numerical, atol=1e-5)


def test_label_a_store_with_the_trained_model(mace_model):
    model, store = mace_model
    summary = label_store(store, parse_spec(f"mace:{model}"), client_options={"workers": 1})
    assert summary.label_set == "mace-tiny" and summary.counts["ok"] == 20
