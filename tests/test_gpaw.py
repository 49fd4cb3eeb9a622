"""Real DFT through GPAW (extra 'dft'): the band-gap path and the labeller contract."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces
from ase.dft.bandgap import bandgap

from curate.calculators import build_calculator, parse_spec
from curate.core.labels import Status
from curate.labelling.worker import label_frames

pytest.importorskip("gpaw")
pytestmark = pytest.mark.dft


def silicon():
    atoms = bulk("Si")
    atoms.positions[1] += [0.03, -0.02, 0.01]
    return atoms


def test_stored_gap_matches_ases_band_gap_utility_and_the_eigenvalues():
    spec = parse_spec("gpaw", {"kpts": {"size": [3, 3, 3], "gamma": True}})
    result = label_frames(spec, [(0, silicon())])[0]
    assert result.status == Status.OK, result.error
    assert "stress" not in result.values  # LCAO has no stress: absent, never zero
    calc = build_calculator(spec)
    atoms = silicon()
    atoms.calc = calc
    assert atoms.get_potential_energy() == pytest.approx(result.values["energy"], abs=1e-6)
    gap, _, _ = bandgap(calc, output=None)
    assert result.values["band_gap"] == pytest.approx(gap, abs=1e-6)
    # Independently: lowest empty minus highest occupied eigenvalue over all k-points.
    fermi = calc.get_fermi_level()
    eigenvalues = np.concatenate(
        [calc.get_eigenvalues(kpt=k) for k in range(len(calc.get_ibz_k_points()))]
    )
    vbm, cbm = eigenvalues[eigenvalues < fermi].max(), eigenvalues[eigenvalues > fermi].min()
    assert result.values["vbm"] == pytest.approx(vbm, abs=1e-6)
    assert result.values["cbm"] == pytest.approx(cbm, abs=1e-6)
    assert 0.2 < result.values["band_gap"] < 1.5  # silicon in PBE


def test_plane_waves_give_stress_and_forces_that_match_finite_differences():
    spec = parse_spec("gpaw", {"mode": {"name": "pw", "ecut": 300}})
    result = label_frames(spec, [(0, silicon())])[0]
    assert result.status == Status.OK, result.error
    assert result.values["stress"].shape == (6,)
    atoms = silicon()
    atoms.calc = build_calculator(spec)
    # With Fermi-Dirac smearing the forces are derivatives of the free energy.
    numerical = calculate_numerical_forces(atoms, eps=1e-3, force_consistent=True)
    assert np.allclose(result.values["forces"], numerical, atol=1e-3)
