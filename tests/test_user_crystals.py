"""Crystals a user brings keep their symmetry through relaxation and force-constant fits, and
ill-posed fits are refused before they reach LAPACK."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from curate.core.errors import InputError
from curate.samplers.engines.force_constants import fit_force_constants, snapshots_needed
from curate.samplers.registry import get_sampler
from curate.systems.builtin import build_system
from curate.systems.symmetry import EXACT, space_group, symmetrized


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))


def spring_force_constants(atoms: Atoms, cutoff: float = 4.2) -> np.ndarray:
    """Force constants of central springs between neighbours (translation-invariant and as
    symmetric as the structure they are built on)."""
    i, j, d = neighbor_list("ijD", atoms, cutoff)
    phi = np.zeros((len(atoms), len(atoms), 3, 3))
    for a, b, v in zip(i, j, d, strict=True):
        block = np.outer(v, v) / (v @ v) ** 2 + 0.1 * np.eye(3) / (v @ v)
        phi[a, b] -= block
        phi[a, a] += block
    return phi


def noisy_rock_salt() -> Atoms:
    """Rock salt as a relaxation in float32 leaves it: sites off by ~1e-7 Å, a cell with 1e-8 Å
    shear (spglib still finds Fm-3m at 1e-5 Å)."""
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(2)
    rng = np.random.default_rng(0)
    atoms.positions += rng.normal(scale=1e-7, size=atoms.positions.shape)
    atoms.set_cell(atoms.cell.array + rng.normal(scale=1e-8, size=(3, 3)), scale_atoms=True)
    return atoms


def fit_r2(atoms: Atoms, phi: np.ndarray) -> float:
    u = np.random.default_rng(1).normal(scale=0.05, size=(20, len(atoms), 3))
    forces = -np.einsum("ijab,sjb->sia", phi, u)
    fitted = fit_force_constants(atoms, u, forces).force_constants
    residual = forces + np.einsum("ijab,sjb->sia", fitted, u)
    return 1 - (residual**2).sum() / (forces**2).sum()


def test_a_symmetrised_structure_fits_force_constants_exactly():
    """The renormalisation of rock salt failed because symfc saw a structure symmetric only to
    float noise: now it is refused, and once symmetrised the fit is exact."""
    noisy = noisy_rock_salt()
    assert space_group(noisy, 1e-5) == "Fm-3m (225)" and space_group(noisy, EXACT) == "P1 (1)"
    with pytest.raises(InputError, match="not exactly"):
        fit_r2(noisy, spring_force_constants(noisy))
    exact = symmetrized(noisy)
    assert np.abs(exact.positions - noisy.positions).max() < 1e-5
    assert space_group(exact, EXACT) == "Fm-3m (225)"
    assert fit_r2(exact, spring_force_constants(exact)) == pytest.approx(1, abs=1e-9)


def test_an_underdetermined_fit_is_refused_before_solving():
    """A P1 cell with too few snapshots (which crashed inside LAPACK) gives one clear error."""
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    atoms.rattle(0.01, seed=1)
    atoms = symmetrized(atoms, symprec=1e-5)
    assert space_group(atoms) == "P1 (1)"
    u = np.zeros((10, len(atoms), 3))
    with pytest.raises(InputError, match="10 snapshots give 1920 force components") as caught:
        fit_force_constants(atoms, u, u)
    assert f"at least {snapshots_needed(atoms)} snapshots" in str(caught.value)


def test_too_few_renormalisation_snapshots_are_refused():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    atoms.rattle(0.01, seed=1)
    atoms = symmetrized(atoms, symprec=1e-5)
    params = {"temperature": 300.0, "calculator": "emt", "imaginary": "renormalize"}
    with pytest.raises(InputError, match="md_snapshots=20 is too few"):
        get_sampler("phonon", {**params, "md_snapshots": 20}).sample(atoms, 2, seed=0)


def test_structure_files_are_read_with_their_symmetry_exact(tmp_path):
    path = tmp_path / "NaCl.cif"
    noisy_rock_salt().write(path)
    atoms, _ = build_system(path)
    assert space_group(atoms, EXACT) == "Fm-3m (225)"


def test_si_from_a_file_keeps_its_space_group_through_relaxation(cli, tmp_path):
    """The command that crashed: Si relaxed with CHGNet stays Fd-3m, so its harmonic force
    constants take phonopy's one displaced calculation and nothing is renormalised."""
    from curate.store import Store

    bulk("Si", "diamond", a=5.43, cubic=True).write(tmp_path / "Si.cif")
    args = ["sample", "--system", tmp_path / "Si.cif", "--supercell", "2", "--scheme", "phonon"]
    args += ["--temperature", "300", "-n", "5", "--relax", "chgnet", "--out", tmp_path / "si.zarr"]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    assert "space group Fd-3m (227), Fd-3m (227) after relaxation" in result.stdout
    assert "CHGNet" not in result.stderr + result.stdout  # the library's banners are muted
    record = Store.open(tmp_path / "si.zarr").provenance([0])[0].params
    assert record["cost"]["force_constant_calls"] == 1
    assert set(record["cost"]) == {"force_constant_calls", "force_constant_cpu_s"}
    assert not record["renormalized"] and record["n_harmonic_imaginary"] == 0


def test_partial_occupancies_are_one_line(cli, tmp_path):
    path = tmp_path / "mixed.cif"
    path.write_text(
        "data_mixed\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n"
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
        "_symmetry_space_group_name_H-M 'P 1'\nloop_\n_atom_site_label\n_atom_site_type_symbol\n"
        "_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
        "Na1 Na 0 0 0 0.5\nK1 K 0 0 0 0.5\nCl1 Cl 0.5 0.5 0.5 1\n"
    )
    result = cli("systems", path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "partial occupancies" in result.stderr


def test_systems_report_their_space_group(cli):
    rows = cli.json("systems")["systems"]
    assert {r["name"]: r["space_group"] for r in rows}["Ag3SBr"] == "Pm-3m (221)"


def test_a_cell_with_only_acoustic_modes_is_refused():
    """One atom per cell: its commensurate q-point is Γ alone, with nothing but the acoustic
    modes, so every frame would be the reference itself."""
    params = {"temperature": 300.0, "calculator": "emt"}
    with pytest.raises(InputError, match=r"no mode to sample.*larger --supercell"):
        get_sampler("phonon", params).sample(bulk("Cu", "fcc", a=3.61), 2, seed=0)


def test_a_structure_without_a_space_group_is_one_line(cli, tmp_path):
    path = tmp_path / "overlap.xyz"
    Atoms("Cu2", positions=[(0, 0, 0), (0, 0, 0)], cell=[3, 3, 3], pbc=True).write(path)
    result = cli("systems", path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "no space group" in result.stderr
