"""Calculator specs and the labeller contract, run over every installed backend."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from curate.calculators import build_calculator, parse_kwargs, parse_spec, require_backend
from curate.core.errors import InputError
from curate.core.labels import Status
from curate.labelling.worker import compute_labels, label_frames
from curate.systems.builtin import build_system


def copper():
    atoms = bulk("Cu", cubic=True)
    atoms.rattle(0.05, seed=1)
    return atoms


def ag3sbr():
    atoms = build_system("Ag3SBr", supercell=1)[0]
    atoms.rattle(0.05, seed=1)
    return atoms


BACKENDS = {
    "emt": copper,
    "ase:ase.calculators.lj.LennardJones": copper,
    "chgnet": ag3sbr,
}


@pytest.mark.parametrize("text", sorted(BACKENDS))
def test_labeller_contract(text):
    """Energy, forces and stress of every backend agree with ASE's finite differences of its
    own energy; properties it cannot give (a band gap) are absent, not zero."""
    spec = parse_spec(text)
    calc = build_calculator(spec)
    atoms = BACKENDS[text]()
    values = compute_labels(calc, atoms)
    assert set(values) == {"energy", "forces", "stress"}
    assert values["forces"].shape == (len(atoms), 3) and values["stress"].shape == (6,)
    probe = atoms.copy()
    probe.calc = calc
    # Steps of 1e-3 (Å, strain): the machine-learned backends compute in float32.
    numerical_forces = calculate_numerical_forces(probe, eps=1e-3, force_consistent=False)
    numerical_stress = calculate_numerical_stress(probe, eps=1e-3, force_consistent=False)
    assert np.allclose(values["forces"], numerical_forces, atol=2e-3)
    assert np.allclose(values["stress"], numerical_stress, atol=1e-4)
    result = label_frames(spec, [(7, atoms)])[0]
    assert result.frame == 7 and result.status == Status.OK
    assert result.values["energy"] == pytest.approx(values["energy"], rel=1e-9)
    assert result.wall_s > 0 and result.host


def test_physics_failures_are_per_frame():
    spec = parse_spec("ase:calculators_for_tests.FailingEMT")
    good, bad = copper(), copper()
    bad.positions[0, 0] = -0.1
    results = label_frames(spec, [(0, good), (1, bad), (2, good)])
    assert [r.status for r in results] == [Status.OK, Status.FAILED_PHYSICS, Status.OK]
    assert results[1].error == "RuntimeError: SCF not converged after 100 iterations"
    assert results[1].values == {}


def test_spec_parsing():
    assert parse_spec("chgnet").text == "chgnet"
    spec = parse_spec("ase:ase.calculators.emt.EMT", '{"asap_cutoff": true}')
    assert spec.kwargs == {"asap_cutoff": True} and spec.default_label_set == "emt"
    assert parse_spec("emt") != parse_spec("emt", {"asap_cutoff": True})
    assert parse_spec("emt").param_hash() != parse_spec("emt", {"asap_cutoff": True}).param_hash()
    import pickle

    assert pickle.loads(pickle.dumps(spec)) == spec


def test_kwargs_from_yaml_and_files(tmp_path):
    assert parse_kwargs("xc: PBE\nkpts: [2, 2, 2]") == {"xc": "PBE", "kpts": [2, 2, 2]}
    path = tmp_path / "calc.yaml"
    path.write_text("mode: pw\necut: 400\n")
    assert parse_kwargs(str(path)) == {"mode": "pw", "ecut": 400}
    with pytest.raises(InputError, match="must be a mapping"):
        parse_kwargs("[1, 2]")
    with pytest.raises(InputError, match="no such keyword-argument file"):
        parse_kwargs(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("vasp", "unknown calculator spec"),
        ("mace:/no/such/model.model", "no MACE model file"),
        ("ase:no_such_package.Calc", "cannot import no_such_package"),
        ("ase:ase.calculators.emt.NoSuchClass", "has no calculator class"),
    ],
)
def test_bad_specs(text, message):
    with pytest.raises(InputError, match=message):
        require_backend(parse_spec(text))


@pytest.mark.skipif(importlib.util.find_spec("gpaw") is not None, reason="gpaw is installed")
def test_missing_backend_names_the_extra():
    with pytest.raises(InputError, match=r"pip install 'curate\[dft\]'"):
        require_backend(parse_spec("gpaw"))


def test_a_constructor_that_refuses_its_arguments_is_an_input_error():
    with pytest.raises(InputError, match=r"cannot build 'ase:ase\.calculators\.mixing\."):
        build_calculator(parse_spec("ase:ase.calculators.mixing.SumCalculator", {"x": 1}))


def test_chgnet_first_order_gradients_give_chgnets_own_results():
    """The labelling calculator takes forces and stress in one first-order backward pass;
    CHGNet's own calculator takes two, each building a differentiable graph. Same energy, forces
    and stress up to float32 summation order, and CHGNet is left as it was after every call."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator
    from chgnet.model.model import BatchedGraph

    from curate.calculators.chgnet import InferenceCHGNet

    model = CHGNet.load(verbose=False)
    frames = [ag3sbr() for _ in range(2)]
    frames[1].rattle(0.1, seed=4)
    assert isinstance(build_calculator(parse_spec("chgnet")), InferenceCHGNet)
    for atoms in frames:
        ours, theirs = atoms.copy(), atoms.copy()
        ours.calc = InferenceCHGNet(model=model, use_device="cpu")
        theirs.calc = CHGNetCalculator(model=model, use_device="cpu")
        assert ours.get_potential_energy() == pytest.approx(theirs.get_potential_energy(), 1e-7)
        assert np.allclose(ours.get_forces(), theirs.get_forces(), atol=1e-3, rtol=0)
        assert np.allclose(ours.get_stress(), theirs.get_stress(), atol=1e-5, rtol=0)
        assert torch.autograd.grad.__name__ == "grad"  # put back after every call
        assert isinstance(BatchedGraph.__dict__["from_graphs"], classmethod)
