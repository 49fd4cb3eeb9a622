"""Phonon-informed sampling against phonopy's own thermal displacements."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.units import _amu, _k

from curate.calculators import parse_spec
from curate.core.errors import InputError
from curate.samplers.engines.force_constants import gamma_frequencies, harmonic_force_constants
from curate.samplers.registry import get_sampler

T = 300.0


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))


def cu3au(repeat: int = 2) -> Atoms:
    """L1₂ Cu₃Au (EMT knows both, and the lattice is dynamically stable)."""
    a = 3.75
    cell = Atoms(
        "AuCu3",
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=np.eye(3) * a,
        pbc=True,
    )
    from curate.systems.relax import relax

    return relax(cell, parse_spec("emt")).repeat(repeat)


def classical_reference(phonon, masses: np.ndarray) -> np.ndarray:
    """⟨u²⟩ per atom and direction (Å²) from phonopy's eigensolutions: Σ_ν kT |e|² / (m ω²)."""
    phonon.run_qpoints([[0, 0, 0]], with_eigenvectors=True)
    freqs, vectors = phonon.qpoints.frequencies[0], phonon.qpoints.eigenvectors[0]
    keep = freqs > 0.01
    omega = 2 * np.pi * freqs[keep] * 1e12
    weights = np.abs(vectors[:, keep]) ** 2 / omega**2
    per_dof = weights.sum(axis=1).reshape(-1, 3)
    return _k * T * per_dof / (masses[:, None] * _amu) * 1e20


@pytest.mark.parametrize("statistics", ["classical", "quantum"])
def test_sampled_mean_square_displacements_match_phonopy(statistics):
    reference = cu3au()
    spec = parse_spec("emt")
    params = {"temperature": T, "statistics": statistics, "calculator": "emt", "imaginary": "abs"}
    frames, provenance = get_sampler("phonon", params).sample(reference, 300, seed=4)
    phonon = harmonic_force_constants(reference, spec).phonon
    assert (gamma_frequencies(phonon) > -1e-3).all()
    if statistics == "classical":
        expected = classical_reference(phonon, reference.get_masses())
    else:
        phonon.run_mesh([1, 1, 1], with_eigenvectors=True, is_mesh_symmetry=False)
        phonon.run_thermal_displacements(temperatures=[T], freq_min=0.01)
        expected = phonon.thermal_displacements.thermal_displacements[0]
        expected = np.asarray(expected).reshape(-1, 3)
    u = np.array([f.positions - reference.positions for f in frames])
    sampled = (u**2).mean(axis=0)
    for symbol in ("Cu", "Au"):
        mask = reference.symbols == symbol
        assert sampled[mask].mean() == pytest.approx(expected[mask].mean(), rel=0.05), symbol
    assert provenance[0].temperature == T and provenance[0].params["statistics"] == statistics
    assert provenance[0].params["cost"]["force_constant_calls"] >= 1


def test_quantum_exceeds_classical_at_low_temperature():
    reference = cu3au(1)
    ms = {}
    for statistics in ("classical", "quantum"):
        params = {
            "temperature": 20.0,
            "statistics": statistics,
            "calculator": "emt",
            "imaginary": "abs",
        }
        frames, _ = get_sampler("phonon", params).sample(reference, 200, seed=1)
        ms[statistics] = np.mean([(f.positions - reference.positions) ** 2 for f in frames])
    assert ms["quantum"] > 1.5 * ms["classical"]  # zero-point motion


def test_force_constants_are_cached_with_their_cost(monkeypatch):
    reference = cu3au(1)
    first = harmonic_force_constants(reference, parse_spec("emt"))
    monkeypatch.setattr(
        "curate.samplers.engines.force_constants.cached_calculator", lambda spec: 1 / 0
    )
    again = harmonic_force_constants(reference, parse_spec("emt"))
    assert again.cached and not first.cached and again.calls == first.calls
    assert np.allclose(again.phonon.force_constants, first.phonon.force_constants)


def test_skip_leaves_imaginary_modes_out_and_abs_keeps_them():
    # A square of four like atoms at the wrong spacing has unstable modes under EMT.
    reference = Atoms(
        "Cu4",
        positions=[(0, 0, 0), (2.2, 0, 0), (0, 2.2, 0), (2.2, 2.2, 0)],
        cell=[4.4, 4.4, 3.0],
        pbc=True,
    )
    params = {"temperature": T, "calculator": "emt", "statistics": "classical"}
    abs_frames, prov = get_sampler("phonon", {**params, "imaginary": "abs"}).sample(
        reference, 50, 0
    )
    skip_frames, _ = get_sampler("phonon", {**params, "imaginary": "skip"}).sample(reference, 50, 0)
    if prov[0].params["n_imaginary"] == 0:
        pytest.skip("no imaginary mode in this test cell")
    spread = [
        np.mean([(f.positions - reference.positions) ** 2 for f in frames])
        for frames in (abs_frames, skip_frames)
    ]
    assert spread[1] < spread[0]


def test_temperature_is_required_and_positive():
    with pytest.raises(InputError, match="temperature"):
        get_sampler("phonon", {})
    with pytest.raises(InputError, match="temperature"):
        get_sampler("phonon", {"temperature": -5})


def per_species_msd(frames, reference) -> dict[str, float]:
    from ase.geometry import find_mic

    u = np.array(
        [find_mic(f.positions - reference.positions, reference.cell, True)[0] for f in frames]
    )
    return {s: float((u[:, reference.symbols == s] ** 2).mean()) for s in ("Cu", "Au")}


def test_renormalized_sampling_reproduces_md_displacements():
    """Effective force constants fitted to MD at T give MD's per-species ⟨u²⟩ (checked against
    an independent MD run with another seed)."""
    from curate.samplers.engines.md import run_md

    reference = cu3au()
    params = {
        "temperature": 600.0,
        "statistics": "classical",
        "calculator": "emt",
        "imaginary": "renormalize",
    }
    frames, provenance = get_sampler("phonon", params).sample(reference, 300, seed=2)
    md = run_md(
        reference,
        parse_spec("emt"),
        600.0,
        n_frames=150,
        stride=10,
        equilibration=300,
        timestep_fs=4.0,
        seed=11,
    )
    sampled, expected = per_species_msd(frames, reference), per_species_msd(md.frames, reference)
    for symbol in ("Cu", "Au"):
        assert sampled[symbol] == pytest.approx(expected[symbol], rel=0.15), symbol
    cost = provenance[0].params["cost"]
    assert cost["renormalization_md_calls"] == 1 + 200 + 80 * 10
    assert provenance[0].params["renormalized"] and provenance[0].params["md_snapshots"] == 80


def test_a_stable_crystal_samples_its_harmonic_force_constants_by_default():
    """No imaginary harmonic mode: the default policy pays for the force constants only."""
    reference = cu3au()
    params = {"temperature": 300.0, "calculator": "emt"}
    _, provenance = get_sampler("phonon", params).sample(reference, 5, seed=2)
    record = provenance[0].params
    assert record["n_harmonic_imaginary"] == 0 and not record["renormalized"]
    assert record["force_constants"] == record["harmonic_force_constants"]
    assert set(record["cost"]) == {"force_constant_calls", "force_constant_cpu_s"}


@pytest.mark.slow
def test_renormalization_stabilises_ag3sbr_with_the_default_oracle():
    """Cubic Ag3SBr at 300 K with CHGNet: every imaginary harmonic mode is gone after
    renormalisation, and sampled RMS displacements per species are within 15 % of an independent
    MD run's (5.6 ps; with 8 S and 8 Br atoms its own per-species estimate moves by ~10 %)."""
    from ase.geometry import find_mic

    from curate.samplers.engines.md import run_md
    from curate.systems.builtin import build_system

    reference, _ = build_system("Ag3SBr")
    params = {"temperature": 300.0, "statistics": "classical"}  # like the MD it is checked on
    frames, provenance = get_sampler("phonon", params).sample(reference, 200, seed=1)
    assert provenance[0].params["n_harmonic_imaginary"] > 50
    assert provenance[0].params["n_imaginary"] == 0
    md = run_md(
        reference,
        parse_spec("chgnet"),
        300.0,
        n_frames=140,
        stride=10,
        equilibration=200,
        timestep_fs=4.0,
        seed=7,
    )
    for symbol in ("Ag", "S", "Br"):
        mask = reference.symbols == symbol

        def rms(fs, mask=mask):
            u = np.array(
                [find_mic(f.positions - reference.positions, reference.cell, True)[0] for f in fs]
            )
            return np.sqrt((u[:, mask] ** 2).sum(-1).mean())

        assert rms(frames) == pytest.approx(rms(md.frames), rel=0.15), symbol


def test_frames_with_atoms_in_each_others_walls_are_redrawn():
    from curate.samplers.phonon import ContactCheck

    reference = cu3au(1)
    params = {
        "temperature": 4000.0,
        "calculator": "emt",
        "imaginary": "abs",
        "statistics": "classical",
        "contact_fraction": 0.8,
    }
    frames, provenance = get_sampler("phonon", params).sample(reference, 30, seed=3)
    too_close = ContactCheck(reference, 0.8)
    assert not any(too_close(f.positions - reference.positions) for f in frames)
    assert 0 < provenance[0].params["rejection_rate"] < 1
    assert len({p.params["draw"] for p in provenance}) == 30
    unfiltered, kept_all = get_sampler("phonon", {**params, "contact_fraction": 0}).sample(
        reference, 30, seed=3
    )
    assert kept_all[0].params["rejection_rate"] == 0
    assert any(too_close(f.positions - reference.positions) for f in unfiltered)


def test_self_consistent_refit_converges_near_harmonic_on_a_stable_crystal():
    reference = cu3au()
    params = {"temperature": T, "calculator": "emt", "imaginary": "abs", "statistics": "classical"}
    sampler = get_sampler("phonon", {**params, "self_consistent": 6, "sc_snapshots": 20})
    _, provenance = sampler.sample(reference, 5, seed=1)
    meta = provenance[0].params
    assert meta["self_consistent_converged"] and 1 <= meta["self_consistent_iterations"] <= 6
    assert meta["cost"]["self_consistent_calls"] == 20 * meta["self_consistent_iterations"]
    # EMT Cu3Au is nearly harmonic at 300 K: the effective spectrum stays close to the harmonic.
    from curate.samplers.engines.force_constants import self_consistent_force_constants

    harmonic = harmonic_force_constants(reference, parse_spec("emt"))
    effective = self_consistent_force_constants(
        reference, parse_spec("emt"), harmonic, T, "classical", 6, 20
    )
    assert effective.cached
    w0, w1 = (np.sort(gamma_frequencies(fc.phonon))[3:] for fc in (harmonic, effective))
    assert np.abs(w1 / w0 - 1).mean() < 0.1


def test_thermalized_frames_arrive_labelled_with_their_cost(cli, tmp_path):
    from ase.calculators.emt import EMT
    from ase.io import write

    from curate.store import Store

    write(tmp_path / "Cu3Au.cif", cu3au(1))
    out = tmp_path / "S.zarr"
    args = ["sample", "--system", tmp_path / "Cu3Au.cif", "--supercell", "2", "--scheme"]
    args += ["phonon", "--calculator", "emt", "--imaginary", "abs", "--temperature", "300"]
    args += ["--thermalize", "6", "-n", "4", "--seed", "2", "--out", out]
    assert cli.json(*args)["added"] == 4
    store = Store.open(out)
    assert store.status_counts("emt")["ok"] == 4
    provenance = store.provenance()
    assert all(p.params["cost"]["thermalize_calls"] == 7 for p in provenance)
    labels = store.labels("emt")
    for i, atoms in enumerate(store.atoms()):
        atoms.calc = EMT()
        assert labels["energy"][i] == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
    assert cli.json(*args)["duplicates"] == 4
