"""MACE committees: training with mace_run_train, force disagreement, its calibration, and the
choice of uncertain and diverse frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk
from gnn_data import labelled_store, strained_frames

from curate.calculators.committee import Disagreement, atom_disagreement
from curate.core.provenance import Provenance
from curate.potentials.selection import (
    BELOW,
    CHOSEN,
    KNOWN,
    NOT_FPS,
    farthest_point_sampling,
    select,
)
from curate.potentials.uncertainty import Calibration, calibrate, miscalibration_area
from curate.store import Store

TINY = [
    "--channels", "4", "--interactions", "1", "--correlation", "2", "--r-max", "3.5",
    "--epochs", "1", "--batch-size", "4", "--valid-fraction", "0.25",
]  # fmt: skip


@pytest.fixture(scope="module")
def copper_store(tmp_path_factory):
    """16 rattled, strained 4-atom Cu cells labelled by EMT."""
    path = tmp_path_factory.mktemp("mlip") / "Cu.zarr"
    return labelled_store(path, strained_frames("Cu", 16, seed=3))


@pytest.fixture(scope="module")
def committee(copper_store, tmp_path_factory):
    """A committee of two tiny MACE models trained by ``curate train-mlip``."""
    from conftest import Cli

    out = tmp_path_factory.mktemp("committee")
    report = Cli().json("train-mlip", copper_store, "--committee", "2", "--out", out, *TINY)
    return out, report


def test_a_committee_trains_from_a_store(committee, copper_store):
    out, report = committee
    record = json.loads((out / "committee.json").read_text())
    assert [m["seed"] for m in record["members"]] == [0, 1]
    assert all((out / f"member-{k}.model").stat().st_size > 0 for k in range(2))
    assert record["label_set"] == "emt" and record["calculator"] == "emt"
    assert record["store_commit"] == Store.open(copper_store).commit
    split = record["split"]
    assert len(split["valid_frames"]) == 4 and len(split["train_frames"]) == 12
    assert sorted(split["train_frames"] + split["valid_frames"]) == list(range(16))
    assert record["settings"]["hidden_irreps"] == "4x0e"
    for member in record["members"]:
        assert member["valid_last_epoch"]["rmse_f"] > 0
        assert set(member["errors"]) == {"train", "valid"}
    assert report["models"] == [str(out / "member-0.model"), str(out / "member-1.model")]


def test_disagreement_matches_each_members_own_calculator(committee):
    import mace  # noqa: F401  (first: MACE's own loader settings)
    from mace.calculators import MACECalculator

    from curate.calculators.committee import committee_disagreement
    from curate.potentials.mace import committee_specs

    out, _ = committee
    specs = committee_specs(out)
    frames = strained_frames("Cu", 3, seed=11)
    d = committee_disagreement(frames, specs)
    for i, frame in enumerate(frames):
        forces = []
        for spec in specs:
            atoms = frame.copy()
            atoms.calc = MACECalculator(model_paths=spec[5:], device="cpu", default_dtype="float64")
            forces.append(atoms.get_forces())
        deviation = np.array(forces) - np.mean(forces, axis=0)
        per_atom = np.sqrt((deviation**2).sum(axis=-1).mean(axis=0))
        rows = slice(d.ptr[i], d.ptr[i + 1])
        assert np.allclose(d.per_atom[rows], per_atom, rtol=1e-8, atol=1e-12)
        assert d.max[i] == pytest.approx(per_atom.max()) and d.mean[i] == pytest.approx(
            per_atom.mean()
        )
        assert np.allclose(d.mean_forces[rows], np.mean(forces, axis=0))
    assert d.max.max() > 0  # two seeds do disagree


def test_calibration_on_held_out_store_frames(committee, copper_store):
    from curate.calculators.committee import committee_disagreement
    from curate.potentials.mace import committee_specs
    from curate.potentials.uncertainty import calibrate_on_store

    out, _ = committee
    specs = committee_specs(out)
    valid = json.loads((out / "committee.json").read_text())["split"]["valid_frames"]
    calibration = calibrate_on_store(specs, copper_store, "emt", valid)
    store = Store.open(copper_store)
    frames = store.atoms(valid)
    labels = store.labels("emt", valid)
    d = committee_disagreement(frames, specs)
    errors = d.mean_forces - labels["forces"]
    assert calibration.n == errors.size == 4 * 4 * 3
    assert calibration.scale == pytest.approx(
        np.sqrt(np.mean(3 * errors**2 / d.per_atom[:, None] ** 2))
    )
    assert 0 <= calibration.area <= 0.5 and 0 <= calibration.area_raw <= 0.5


def test_disagreement_of_ragged_frames():
    rng = np.random.default_rng(0)
    forces = [rng.normal(size=(3, n, 3)) for n in (2, 5)]
    d = Disagreement.from_forces(forces)
    assert d.ptr.tolist() == [0, 2, 7]
    for i, f in enumerate(forces):
        expected = atom_disagreement(f)
        assert np.allclose(d.per_atom[d.ptr[i] : d.ptr[i + 1]], expected)
        assert d.max[i] == expected.max() and d.mean[i] == pytest.approx(expected.mean())
    # Two models: σ is half the distance between their forces.
    pair = np.array([[[1.0, 0, 0]], [[0, 1.0, 0]]])
    assert atom_disagreement(pair) == pytest.approx([np.sqrt(2) / 2])


def synthetic(scale: float, n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-atom σ and force-error vectors drawn with per-component std scale·σ/√3."""
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.02, 0.5, n)
    errors = rng.normal(size=(n, 3)) * (scale * sigma / np.sqrt(3))[:, None]
    return sigma, errors


def test_calibration_recovers_a_known_scale():
    sigma, errors = synthetic(2.0)
    calibration = calibrate(sigma, errors)
    assert calibration.scale == pytest.approx(2.0, rel=0.02)
    assert calibration.area < 0.01 < 0.1 < calibration.area_raw
    assert calibration.threshold(0.2) == pytest.approx(0.1, rel=0.02)
    assert calibration.error(0.1) == pytest.approx(0.2, rel=0.02)
    # The calibrated RMS error of an atom's force vector is s·σ.
    ratio = np.sqrt(np.mean(np.sum(errors**2, axis=1) / sigma**2))
    assert ratio == pytest.approx(calibration.scale, rel=1e-9)


def test_miscalibration_area_is_zero_when_calibrated_and_grows_otherwise():
    sigma, errors = synthetic(1.0)
    calibrated = miscalibration_area(sigma, errors)
    assert calibrated < 0.01
    assert miscalibration_area(sigma, errors * 3) > 0.2  # overconfident
    assert miscalibration_area(sigma, errors / 3) > 0.2  # underconfident
    assert calibrate(sigma, errors).scale == pytest.approx(1.0, rel=0.02)
    # Per-component σ works the same way.
    flat = np.repeat(sigma / np.sqrt(3), 3)
    assert miscalibration_area(flat, errors.ravel()) == pytest.approx(calibrated)


def test_farthest_point_sampling():
    points = np.array([[0.0], [0.01], [1.0], [2.0], [2.0]])
    assert farthest_point_sampling(points, 3).tolist() == [0, 3, 2]
    assert farthest_point_sampling(points, 10).tolist() == [0, 3, 2, 1]  # no exact duplicate
    excluded = np.array([False, False, False, True, True])
    assert farthest_point_sampling(points, 2, exclude=excluded).tolist() == [0, 2]


@pytest.fixture(scope="module")
def selection_case():
    """Training frames and candidates: a copy of a training frame, two near-duplicates, a
    distinct frame, and a distinct frame the committee agrees on."""
    training = strained_frames("Cu", 4, seed=1)
    hot = strained_frames("Cu", 3, seed=2)
    for atoms, amount in zip(hot, (0.2, 0.2, 0.3), strict=True):
        atoms.rattle(amount, seed=7)
    near = hot[0].copy()
    near.rattle(1e-3, seed=9)
    candidates = [training[0].copy(), hot[0], near, hot[1], hot[2]]
    disagreement = np.array([0.6, 0.5, 0.45, 0.3, 0.01])
    return training, candidates, disagreement


def test_selection_honours_threshold_novelty_and_diversity(selection_case):
    training, candidates, disagreement = selection_case
    selection = select(candidates, disagreement, n=2, threshold=0.1, training=training)
    assert selection.chosen.tolist() == [1, 3]  # most uncertain first, then the farthest
    assert selection.reasons == [KNOWN, CHOSEN, NOT_FPS, CHOSEN, BELOW]
    assert selection.novelty[0] <= 0 < selection.novelty[1]
    assert np.isnan(selection.novelty[4])  # below threshold: never described
    assert selection.counts()[CHOSEN] == 2
    json.dumps(selection.as_dict())
    # A larger batch takes the near-duplicate too, but never the agreed-on frame.
    assert sorted(select(candidates, disagreement, 10, 0.1, training).chosen) == [1, 2, 3]
    # Without a training set every uncertain candidate is new.
    assert sorted(select(candidates, disagreement, 10, 0.1, training=[]).chosen) == [0, 1, 2, 3]
    # With a calibration (s = 2) the threshold is a force error: 0.2 eV/Å is σ = 0.1.
    calibration = Calibration(scale=2.0, area_raw=0.0, area=0.0, n=1)
    calibrated = select(candidates, disagreement, 2, 0.2, training, calibration=calibration)
    assert calibrated.reasons == selection.reasons
    # Nothing above the threshold: nothing chosen, every candidate told why.
    none = select(candidates, disagreement, 2, threshold=1.0, training=training)
    assert none.chosen.tolist() == [] and set(none.reasons) == {BELOW}


def test_cli_refuses_bad_input(cli, tmp_path, copper_store):
    bare = tmp_path / "bare.zarr"
    with Store.create(bare) as store:
        store.append([bulk("Cu", cubic=True)], Provenance(scheme="random", system="Cu"))
    cases = [
        (tmp_path / "missing.zarr", "2"),
        (bare, "2"),
        (copper_store, "0"),
    ]
    for store, size in cases:
        result = cli("train-mlip", store, "--committee", size, "--out", tmp_path / "out")
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith("curate: error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()
