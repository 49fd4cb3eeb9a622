"""Sampler contract, run over every registered sampler, and the random scheme's statistics."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from curate.core.errors import InputError
from curate.core.identity import atoms_uid
from curate.samplers.batch import sample_system
from curate.samplers.registry import SAMPLERS, get_sampler
from curate.samplers.settings import SampleSettings
from curate.systems.builtin import build_system


@pytest.fixture(scope="module")
def reference():
    return build_system("Ag3SBrI")[0]


def draw(system, scheme, n, seed, params=None, **options) -> SampleSettings:
    """The settings of one sampling run."""
    return SampleSettings(
        system=system, scheme=scheme, n=n, seed=seed, params=params or {}, **options
    )


def copper():
    return bulk("Cu", cubic=True).repeat(2)


CONTRACT_CASES = {
    "random": ({}, lambda: build_system("Ag3SBrI")[0]),
    "phonon": (
        {
            "temperature": 300,
            "calculator": "emt",
            "md_snapshots": 10,
            "md_stride": 2,
            "md_equilibration": 10,
        },
        copper,
    ),
    "mc-rattle": ({"iterations": 3}, lambda: build_system("Ag3SBrI")[0]),
    "aimd": (
        {"temperature": 300, "calculator": "emt", "equilibration": 4, "stride": 2, "timestep": 2},
        copper,
    ),
    "mlip-md": (
        {"temperature": 300, "mlip": "emt", "equilibration": 4, "stride": 2, "timestep": 2},
        copper,
    ),
}
"""Parameters and a reference structure for each registered sampler (EMT where one needs a
calculator, to stay fast)."""


def test_every_sampler_has_a_contract_case():
    assert set(CONTRACT_CASES) == set(SAMPLERS)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_contract(name, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path))
    params, make_reference = CONTRACT_CASES[name]
    reference = make_reference()
    sampler = get_sampler(name, params)
    frames, provenance = sampler.sample(reference, 5, seed=7, system="Ag3SBrI")
    again, _ = sampler.sample(reference, 5, seed=7, system="Ag3SBrI")
    other, _ = sampler.sample(reference, 5, seed=8, system="Ag3SBrI")
    assert len(frames) == len(provenance) == 5
    for atoms, twin in zip(frames, again, strict=True):
        assert np.array_equal(atoms.positions, twin.positions)
    assert not np.array_equal(frames[0].positions, other[0].positions)
    assert len({atoms_uid(a) for a in frames}) == 5
    for atoms, prov in zip(frames, provenance, strict=True):
        assert list(atoms.numbers) == list(reference.numbers)
        assert np.array_equal(atoms.cell.array, reference.cell.array)
        assert np.isfinite(atoms.positions).all()
        assert prov.scheme == name and prov.seed == 7 and prov.system == "Ag3SBrI"
        assert prov.parent == atoms_uid(reference)


def test_random_displacements_are_uniform_in_minus_a_to_a(reference):
    frames, provenance = get_sampler("random", {"amplitude": 0.5}).sample(reference, 60, seed=1)
    u = np.array([a.positions - reference.positions for a in frames])
    assert all(p.params["amplitude"] == 0.5 for p in provenance)
    assert np.abs(u).max() <= 0.5
    # Uniform on [-a, a]: mean 0, variance a²/3, and both signs (the authors' scripts used [0, d]).
    assert abs(u.mean()) < 0.01
    assert np.isclose(u.var(), 0.5**2 / 3, rtol=0.05)
    assert (u < -0.4).mean() > 0.05 and (u > 0.4).mean() > 0.05


def test_random_amplitude_range_draws_one_a_per_frame(reference):
    frames, provenance = get_sampler("random", {"amplitude": "0.1:0.8"}).sample(
        reference, 40, seed=2
    )
    amplitudes = np.array([p.params["amplitude"] for p in provenance])
    assert amplitudes.min() >= 0.1 and amplitudes.max() <= 0.8 and amplitudes.std() > 0.1
    for atoms, a in zip(frames, amplitudes, strict=True):
        assert np.abs(atoms.positions - reference.positions).max() <= a


def test_a_frame_can_be_regenerated_alone(reference):
    sampler = get_sampler("random")
    frames, provenance = sampler.sample(reference, 4, seed=3)
    rng = np.random.default_rng([3, provenance[2].params["draw"]])
    a = rng.uniform(0.1, 0.8)
    assert np.isclose(a, provenance[2].params["amplitude"])
    assert np.allclose(
        frames[2].positions - reference.positions, rng.uniform(-a, a, size=(len(reference), 3))
    )


@pytest.mark.parametrize("amplitude", ["0.8:0.1", "-0.2", "abc", "0:0.5", "1:2:3"])
def test_bad_amplitudes_are_refused(amplitude):
    with pytest.raises(InputError, match="random sampler"):
        get_sampler("random", {"amplitude": amplitude})


def test_unknown_scheme_and_parameters_are_refused():
    with pytest.raises(InputError, match="unknown scheme 'phonons'"):
        get_sampler("phonons")
    with pytest.raises(InputError, match="temperature"):
        get_sampler("random", {"temperature": 300})


def test_close_contacts_are_refused_or_counted():
    with pytest.raises(InputError, match="closer than"):
        sample_system(draw("Ag3SBr", "random", 20, 0, {"amplitude": 2.0}, min_distance=1.0))
    batch = sample_system(
        draw("Ag3SBr", "random", 20, 0, {"amplitude": 2.0}, min_distance=1.0, allow_close=True)
    )
    assert len(batch.frames) == 20 and 0 < batch.n_close <= 20


def test_provenance_records_how_the_system_was_built():
    batch = sample_system(draw("Ag3SBrI", "random", 2, 0, br_fraction=0.25, occupation_seed=5))
    assert batch.provenance[0].params["system"] == {
        "name": "Ag3SBrI",
        "supercell": 2,
        "br_fraction": 0.25,
        "occupation_seed": 5,
    }


def test_mc_rattle_keeps_atoms_apart_where_uniform_displacements_do_not(reference):
    """At the same RMS displacement, MC rattle keeps every nearest-neighbour distance within a
    couple of acceptance widths of d_min; uniform random displacements do not."""
    from curate.core.geometry import shortest_distance

    rattled, provenance = get_sampler("mc-rattle", {"std": 0.12, "iterations": 10}).sample(
        reference, 20, seed=1
    )
    rms = np.sqrt(np.mean([((f.positions - reference.positions) ** 2).sum(1) for f in rattled]))
    # Uniform on [-a, a] per component: ⟨|u|²⟩ = 3·a²/3 = a², the same RMS displacement.
    uniform, _ = get_sampler("random", {"amplitude": rms}).sample(reference, 20, seed=1)
    params = provenance[0].params
    d_rattled = np.array([shortest_distance(f) for f in rattled])
    d_uniform = np.array([shortest_distance(f) for f in uniform])
    assert rms > 0.3 and 0.2 < params["acceptance"] < 1.0
    assert d_rattled.min() > params["d_min"] - 2 * params["width"]
    assert np.median(d_rattled) > np.median(d_uniform) + 0.2
