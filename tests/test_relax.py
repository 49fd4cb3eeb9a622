"""Relaxation with the oracle: equilibria agree with an equation-of-state fit, and are cached."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from ase.io import write

import curate.systems.relax
from curate.calculators import parse_spec
from curate.core.errors import InputError
from curate.systems.builtin import build_system, lattice_constant, reference_cell
from curate.systems.relax import relaxed_system


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))


def test_emt_relaxation_matches_an_equation_of_state_fit(tmp_path):
    strained = bulk("Cu", cubic=True, a=3.70)
    write(tmp_path / "Cu.cif", strained)
    atoms, system = build_system(tmp_path / "Cu.cif")
    relaxed = relaxed_system(atoms, system, parse_spec("emt"))
    volumes, energies = [], []
    for a in np.linspace(3.55, 3.66, 9):
        probe = bulk("Cu", cubic=True, a=a)
        probe.calc = EMT()
        volumes.append(probe.get_volume())
        energies.append(probe.get_potential_energy())
    v0, _, _ = EquationOfState(volumes, energies).fit()
    assert relaxed.cell.lengths() == pytest.approx([v0 ** (1 / 3)] * 3, abs=2e-3)
    assert relaxed.info["relaxed_with"] == "emt"


def test_chgnet_keeps_the_shipped_ag3sbr_lattice():
    atoms, system = build_system("Ag3SBr", supercell=1)
    relaxed = relaxed_system(atoms, system, parse_spec("chgnet"))
    assert relaxed.cell.lengths()[0] == pytest.approx(
        lattice_constant(reference_cell("Br")), abs=2e-3
    )
    assert np.allclose(
        relaxed.get_all_distances(mic=True), atoms.get_all_distances(mic=True), atol=5e-3
    )


def test_relaxed_structures_are_cached(tmp_path, monkeypatch):
    write(tmp_path / "Cu.cif", bulk("Cu", cubic=True, a=3.7))
    atoms, system = build_system(tmp_path / "Cu.cif")
    first = relaxed_system(atoms, system, parse_spec("emt"))

    def no_calculator(spec):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(curate.systems.relax, "cached_calculator", no_calculator)
    again = relaxed_system(atoms, system, parse_spec("emt"))
    assert np.array_equal(again.positions, first.positions)
    assert np.array_equal(again.cell.array, first.cell.array)


def test_sample_from_the_relaxed_system(cli, tmp_path):
    write(tmp_path / "Cu.cif", bulk("Cu", cubic=True, a=3.7))
    cli.json(
        "sample",
        "--system",
        tmp_path / "Cu.cif",
        "--relax",
        "emt",
        "-n",
        "2",
        "--amplitude",
        "0.01",
        "--out",
        tmp_path / "S.zarr",
    )
    from curate.store import Store

    store = Store.open(tmp_path / "S.zarr")
    assert store.provenance([0])[0].params["system"]["relaxed_with"] == "emt"
    assert store.arrays().cell[0, 0, 0] < 3.65


def test_a_calculator_that_cannot_relax_the_system_is_an_input_error():
    atoms, system = build_system("Ag3SBr", supercell=1)
    with pytest.raises(InputError, match="relaxation with emt failed"):
        relaxed_system(atoms, system, parse_spec("emt"))
