"""extxyz interop: exact store → extxyz → store round trips, MACE's keys, labels from any file."""

from __future__ import annotations

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from curate.core.labels import LabelResult, Status
from curate.store import Store
from curate.store.extxyz import export_extxyz, import_structures
from curate.systems.builtin import build_system


def labelled_store(path, n=6):
    """A sampled store where the even frames carry energy, forces and stress."""
    from curate.samplers.batch import sample_system
    from curate.samplers.settings import SampleSettings

    batch = sample_system(SampleSettings(system="Ag3SBrI", scheme="random", n=n, seed=4))
    rng = np.random.default_rng(0)
    with Store.create(path) as store:
        store.append(batch.frames, batch.provenance)
        store.create_label_set("ref", "ase:some.Calculator", ["energy", "forces", "stress"])
        store.write_labels(
            "ref",
            [
                LabelResult(
                    i,
                    Status.OK,
                    {
                        "energy": float(rng.normal(-100, 1)),
                        "forces": rng.normal(size=(40, 3)),
                        "stress": rng.normal(size=6) * 1e-3,
                    },
                )
                for i in range(0, n, 2)
            ],
        )
    return path


def test_store_extxyz_store_round_trip_is_exact(tmp_path):
    source = Store.open(labelled_store(tmp_path / "a.zarr"))
    assert export_extxyz(source, tmp_path / "a.xyz", "ref", labelled_only=False) == 6
    result = import_structures(tmp_path / "a.xyz", tmp_path / "b.zarr")
    assert (result.n_added, result.label_set, result.n_labelled) == (6, "ref", 3)
    copy = Store.open(tmp_path / "b.zarr")
    assert np.array_equal(copy.uids(), source.uids())
    a, b = source.arrays(), copy.arrays()
    for field in ("numbers", "positions", "cell", "pbc", "atom_ptr"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert copy.provenance() == source.provenance()
    assert copy.label_set_info("ref")["calculator"] == "ase:some.Calculator"
    la, lb = source.labels("ref"), copy.labels("ref")
    assert np.array_equal(la.status, lb.status)
    for prop in ("energy", "forces", "stress"):
        assert np.array_equal(la[prop], lb[prop], equal_nan=True)
    # Importing the same file again adds nothing.
    assert import_structures(tmp_path / "a.xyz", tmp_path / "b.zarr").n_duplicates == 6


def test_export_speaks_mace_keys(tmp_path):
    store = Store.open(labelled_store(tmp_path / "a.zarr"))
    export_extxyz(store, tmp_path / "a.xyz", "ref")
    frames = read(tmp_path / "a.xyz", ":")
    assert len(frames) == 3  # only frames labelled ok
    labels = store.labels("ref", [0])
    first = frames[0]
    assert first.calc is None  # REF_ keys never become a calculator
    assert first.info["REF_energy"] == labels["energy"][0]
    assert np.array_equal(first.arrays["REF_forces"], labels["forces"])
    assert np.array_equal(first.info["REF_stress"], labels["stress"][0])
    assert first.info["config_type"] == "random"
    assert not (tmp_path / ".a.xyz.partial").exists()


def test_import_keeps_calculator_labels_from_any_ase_file(tmp_path):
    atoms, _ = build_system("Ag3SBr", supercell=1)
    frames = []
    for i in range(3):
        frame = atoms.copy()
        frame.positions[0, 0] += 0.01 * i
        stress = np.diag([1.0, 2.0, 3.0]) * 1e-3
        frame.calc = SinglePointCalculator(
            frame, energy=-10.0 - i, forces=np.full((5, 3), i * 0.1), stress=stress
        )
        frames.append(frame)
    write(tmp_path / "plain.xyz", frames)
    result = import_structures(tmp_path / "plain.xyz", tmp_path / "s.zarr", label_set="vasp")
    assert (result.n_added, result.n_labelled, result.label_set) == (3, 3, "vasp")
    store = Store.open(tmp_path / "s.zarr")
    labels = store.labels("vasp")
    assert list(labels["energy"]) == [-10.0, -11.0, -12.0]
    assert np.allclose(labels["stress"][0], [1e-3, 2e-3, 3e-3, 0, 0, 0])
    assert np.allclose(labels["forces"][5:10], 0.1)
    assert store.scheme_counts() == {"imported": 3}
    assert store.provenance([1])[0].params == {"source": "plain.xyz", "index": 1}


def test_import_without_labels_makes_no_label_set(tmp_path):
    atoms, _ = build_system("Ag3SBr")
    write(tmp_path / "POSCAR", atoms, format="vasp")
    result = import_structures(tmp_path / "POSCAR", tmp_path / "s.zarr")
    assert (result.n_added, result.label_set) == (1, None)
    assert Store.open(tmp_path / "s.zarr").label_sets() == []
