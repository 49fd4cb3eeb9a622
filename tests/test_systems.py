"""Built-in antiperovskites: composition, sites, distances, Vegard lattice, files as systems."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import write

from curate.core.errors import InputError
from curate.systems.builtin import antiperovskite, build_system, lattice_constant, reference_cell


def test_ag3sbr_supercell_composition_and_size():
    atoms, spec = build_system("Ag3SBr")
    assert len(atoms) == 40 and spec.supercell == 2
    assert atoms.symbols.formula.count() == {"Ag": 24, "S": 8, "Br": 8}
    assert np.allclose(atoms.cell.array, np.eye(3) * atoms.cell.lengths()[0])


def test_ideal_distances_follow_the_antiperovskite_sites():
    a = lattice_constant(reference_cell("Br"))
    atoms, _ = build_system("Ag3SBr")
    d = atoms.get_all_distances(mic=True)
    sulfur = np.flatnonzero(atoms.symbols == "S")
    silver = np.flatnonzero(atoms.symbols == "Ag")
    bromine = np.flatnonzero(atoms.symbols == "Br")
    ag_s = d[np.ix_(sulfur, silver)]
    # Every S sits at an octahedral centre: six Ag at a/2, none closer.
    assert np.allclose(np.sort(ag_s, axis=1)[:, :6], a / 2)
    assert np.all(np.sort(ag_s, axis=1)[:, 6] > a / 2 + 1e-6)
    # The halide sits at the corners: a·√3/2 from S, twelve Ag at a/√2.
    assert np.allclose(d[np.ix_(bromine, sulfur)].min(), a * np.sqrt(3) / 2)
    ag_br = np.sort(d[np.ix_(bromine, silver)], axis=1)
    assert np.allclose(ag_br[:, :12], a / np.sqrt(2))


def test_solid_solution_uses_vegard_and_seeded_occupation():
    a_br = lattice_constant(reference_cell("Br"))
    a_i = lattice_constant(reference_cell("I"))
    atoms = antiperovskite(0.25, supercell=2, occupation_seed=3)
    assert np.isclose(atoms.cell.lengths()[0] / 2, 0.25 * a_br + 0.75 * a_i)
    assert (atoms.symbols == "Br").sum() == 2 and (atoms.symbols == "I").sum() == 6
    again = antiperovskite(0.25, supercell=2, occupation_seed=3)
    other = antiperovskite(0.25, supercell=2, occupation_seed=4)
    assert list(atoms.symbols) == list(again.symbols)
    assert list(atoms.symbols) != list(other.symbols)


def test_ag3si_has_a_larger_lattice_than_ag3sbr():
    assert lattice_constant(reference_cell("I")) > lattice_constant(reference_cell("Br"))


@pytest.mark.parametrize("fmt, name", [("cif", "x.cif"), ("vasp", "POSCAR"), ("extxyz", "x.xyz")])
def test_structure_files_are_systems(tmp_path, fmt, name):
    cell, _ = build_system("Ag3SI", supercell=1)
    path = tmp_path / name
    write(path, cell, format=fmt)
    atoms, spec = build_system(path, supercell=2)
    assert len(atoms) == 40 and spec.source == str(path)
    assert atoms.symbols.formula.count() == {"Ag": 24, "S": 8, "I": 8}


def test_unknown_system_is_refused():
    with pytest.raises(InputError, match="unknown system 'Ag3SCl'"):
        build_system("Ag3SCl")


def test_systems_command_lists_and_writes(cli, tmp_path):
    listing = cli.json("systems")["systems"]
    assert [row["name"] for row in listing] == ["Ag3SBr", "Ag3SI", "Ag3SBrI"]
    assert all(row["n_atoms"] == 40 for row in listing)
    out = tmp_path / "Ag3SBrI.cif"
    row = cli.json("systems", "Ag3SBrI", "--br-fraction", "0.75", "--write", out)["systems"][0]
    assert row["formula"] == "Ag24Br6I2S8" and out.exists()
