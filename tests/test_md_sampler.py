"""The AIMD scheme: thermal MD frames that arrive labelled by the MD calculator."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write

from curate.store import Store


@pytest.fixture
def copper_file(tmp_path):
    path = tmp_path / "Cu.cif"
    write(path, bulk("Cu", cubic=True))
    return path


def test_aimd_frames_carry_their_md_labels(cli, tmp_path, copper_file):
    store_path = tmp_path / "S.zarr"
    args = [
        "sample",
        "--system",
        copper_file,
        "--supercell",
        "2",
        "--scheme",
        "aimd",
        "--calculator",
        "emt",
        "-n",
        "12",
        "--temperature",
        "600",
        "--stride",
        "5",
        "--equilibration",
        "40",
        "--timestep",
        "2",
        "--seed",
        "3",
        "--out",
        store_path,
    ]
    report = cli.json(*args)
    assert report["added"] == 12
    store = Store.open(store_path)
    assert store.label_sets() == ["emt"] and store.status_counts("emt")["ok"] == 12
    labels = store.labels("emt")
    frames = store.atoms()
    for i, atoms in enumerate(frames):
        atoms.calc = EMT()
        assert labels["energy"][i] == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
        rows = slice(labels.atom_ptr[i], labels.atom_ptr[i + 1])
        assert np.allclose(labels["forces"][rows], atoms.get_forces(), atol=1e-10)
    steps = [p.params["step"] for p in store.provenance()]
    assert steps == [40 + 5 * (i + 1) for i in range(12)]  # trajectory order
    assert store.provenance([0])[0].params["cost"]["md_calls"] == 1 + 40 + 5 * 12
    # The frames move: hot MD, not the ideal lattice.
    u = np.array([f.positions for f in frames]) - bulk("Cu", cubic=True).repeat(2).positions
    assert 0.02 < np.sqrt((u**2).mean()) < 0.5
    # Re-running with the same seed adds nothing; labelling it again costs nothing.
    assert cli.json(*args)["duplicates"] == 12
    assert cli.json("label", store_path, "--calculator", "emt", "--workers", "1")["submitted"] == 0


def test_a_frame_temperature_matches_the_thermostat(tmp_path):
    from curate.calculators import parse_spec
    from curate.md import run_md

    atoms = bulk("Cu", cubic=True).repeat(3)
    trajectory = run_md(
        atoms,
        parse_spec("emt"),
        500.0,
        n_frames=40,
        stride=5,
        equilibration=200,
        timestep_fs=4.0,
        seed=1,
    )
    temperatures = [f.get_temperature() for f in trajectory.frames]
    assert np.mean(temperatures) == pytest.approx(500, rel=0.15)


def test_several_temperatures_split_the_frames():
    from curate.samplers import get_sampler

    params = {
        "temperature": "300,900",
        "calculator": "emt",
        "equilibration": 20,
        "stride": 4,
        "timestep": 2,
    }
    frames, provenance = get_sampler("aimd", params).sample(
        bulk("Cu", cubic=True).repeat(2), 7, seed=1
    )
    assert [p.temperature for p in provenance] == [300.0] * 4 + [900.0] * 3
    assert [p.params["run"] for p in provenance] == [0] * 4 + [1] * 3
    hot = np.mean([f.get_temperature() for f in frames[4:]])
    cold = np.mean([f.get_temperature() for f in frames[:4]])
    assert hot > cold
