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
    from curate.samplers.engines.md import run_md

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
    assert np.mean(temperatures) == pytest.approx(500, rel=0.10)


def test_several_temperatures_split_the_frames():
    from curate.samplers.registry import get_sampler

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


def test_md_that_blows_up_stops_with_a_clear_message_and_keeps_its_frames(
    cli, tmp_path, copper_file
):
    store_path = tmp_path / "S.zarr"
    result = cli(
        "sample",
        "--system",
        copper_file,
        "--scheme",
        "aimd",
        "--calculator",
        "emt",
        "-n",
        "200",
        "--temperature",
        "3000",
        "--timestep",
        "30",
        "--equilibration",
        "0",
        "--stride",
        "1",
        "--out",
        store_path,
    )
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "blew up" in message and "kept the" in message and "\n" not in message
    kept = int(message.split("kept the ")[1].split()[0])
    assert 0 < kept < 200
    store = Store.open(store_path)
    assert store.n_frames == kept == store.status_counts("emt")["ok"]


def tiny_mace(path, seed: int):
    """A MACE model with random weights (Cu only), saved whole as mace_run_train does."""
    import mace  # noqa: F401  (first: it lets e3nn load its pickled constants)
    import torch
    from e3nn import o3
    from mace import modules

    torch.manual_seed(seed)
    model = modules.ScaleShiftMACE(
        r_max=4.0,
        num_bessel=4,
        num_polynomial_cutoff=5,
        max_ell=1,
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        num_interactions=1,
        num_elements=1,
        hidden_irreps=o3.Irreps("8x0e"),
        MLP_irreps=o3.Irreps("8x0e"),
        gate=torch.nn.functional.silu,
        atomic_energies=np.array([-3.0]),
        avg_num_neighbors=12.0,
        atomic_numbers=[29],
        correlation=2,
        atomic_inter_scale=0.05,
        atomic_inter_shift=0.0,
    ).double()
    torch.save(model, path)
    return f"mace:{path}"


def test_mlip_md_with_a_mace_committee_stores_force_disagreement(cli, tmp_path, copper_file):
    models = [tiny_mace(tmp_path / f"m{k}.model", seed=k) for k in range(2)]
    store_path = tmp_path / "S.zarr"
    args = ["sample", "--system", copper_file, "--scheme", "mlip-md", "-n", "4"]
    args += ["--temperature", "300", "--equilibration", "4", "--stride", "3", "--timestep", "2"]
    args += ["--mlip", models[0], "--mlip", models[1], "--seed", "5", "--out", store_path]
    assert cli.json(*args)["added"] == 4
    store = Store.open(store_path)
    assert store.label_sets() == []  # left for the oracle
    provenance = store.provenance()
    assert [p.params["committee"] for p in provenance] == [models] * 4
    assert all(p.params["calculator"] == models[0] for p in provenance)
    disagreement = [p.params["force_disagreement"] for p in provenance]
    assert all(
        d > p.params["force_disagreement_mean"] > 0
        for d, p in zip(disagreement, provenance, strict=True)
    )
    # Recompute one frame's disagreement independently with MACE's own calculator.
    from mace.calculators import MACECalculator

    frame = store.atoms([2])[0]
    forces = []
    for model in models:
        frame.calc = MACECalculator(model_paths=model[5:], device="cpu", default_dtype="float64")
        forces.append(frame.get_forces())
    deviation = np.array(forces) - np.mean(forces, axis=0)
    expected = np.sqrt((deviation**2).sum(axis=-1).mean(axis=0)).max()
    assert disagreement[2] == pytest.approx(expected, rel=1e-6)
    assert cli.json(*args)["duplicates"] == 4
