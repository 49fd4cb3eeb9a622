"""The Zarr store: ragged round trips, commits, crash safety, the writer lock, label sets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr
from ase import Atoms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.core.errors import InputError, StoreError, StoreLockedError
from curate.core.identity import atoms_uid
from curate.core.labels import EV_PER_A3_TO_GPA, LabelResult, Status
from curate.core.provenance import Provenance
from curate.store import Store


def make_frames(rng: np.random.Generator, sizes: list[int]) -> list[Atoms]:
    return [
        Atoms(
            numbers=rng.integers(1, 90, n),
            positions=rng.uniform(0, 8, (n, 3)),
            cell=np.diag(rng.uniform(8, 12, 3)),
            pbc=[True, True, bool(n % 2)],
        )
        for n in sizes
    ]


def test_append_and_read_back_ragged_frames(tmp_path):
    frames = make_frames(np.random.default_rng(0), [3, 7, 1, 5])
    provs = [
        Provenance(
            scheme="md" if i % 2 else "random",
            system="X",
            seed=i,
            temperature=300.0 if i % 2 else None,
            params={"i": i},
        )
        for i in range(4)
    ]
    with Store.create(tmp_path / "s.zarr") as store:
        result = store.append(frames, provs)
    assert list(result.indices) == [0, 1, 2, 3]
    store = Store.open(tmp_path / "s.zarr")
    assert store.n_frames == 4 and store.n_atoms == 16
    data = store.arrays()
    assert list(data.atom_ptr) == [0, 3, 10, 11, 16]
    assert list(data.batch) == [0] * 3 + [1] * 7 + [2] + [3] * 5
    for atoms, frame in zip(store.atoms(), frames, strict=True):
        assert np.array_equal(atoms.numbers, frame.numbers)
        assert np.array_equal(atoms.positions, frame.positions)
        assert np.array_equal(atoms.cell.array, frame.cell.array)
        assert list(atoms.pbc) == list(frame.pbc)
        assert atoms.info["curate_uid"] == atoms_uid(frame)
    assert store.provenance() == provs
    assert store.scheme_counts() == {"random": 2, "md": 2}
    subset = store.arrays([3, 1])
    assert list(subset.atom_ptr) == [0, 5, 12]
    assert np.array_equal(subset.positions[:5], frames[3].positions)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(st.lists(st.integers(1, 30), min_size=0, max_size=6), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_ragged_batches_round_trip(tmp_path_factory, batches, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("h") / "s.zarr"
    written = []
    for sizes in batches:
        frames = make_frames(rng, sizes)
        with Store.open_or_create(path) as store:
            store.append(frames, Provenance(scheme="h"))
        written += frames
    store = Store.open(path)
    assert store.n_frames == len(written)
    back = store.atoms()
    for atoms, frame in zip(back, written, strict=True):
        assert np.array_equal(atoms.numbers, frame.numbers)
        assert np.array_equal(atoms.positions, frame.positions)
    if written:
        pick = rng.permutation(len(written))[: max(1, len(written) // 2)]
        data = store.arrays(pick)
        for k, i in enumerate(pick):
            rows = slice(data.atom_ptr[k], data.atom_ptr[k + 1])
            assert np.array_equal(data.positions[rows], written[i].positions)


def test_duplicates_are_skipped_by_content(tmp_path):
    frames = make_frames(np.random.default_rng(1), [4, 4])
    with Store.create(tmp_path / "s.zarr") as store:
        store.append(frames, Provenance(scheme="a"))
        again = store.append(
            [frames[1], frames[1].copy(), *make_frames(np.random.default_rng(2), [2])],
            Provenance(scheme="a"),
        )
        assert again.n_duplicates == 2 and list(again.kept) == [2]
        assert store.n_frames == 3
        with pytest.raises(InputError, match="already in"):
            store.append(frames[:1], Provenance(scheme="a"), on_duplicate="error")


def test_interrupted_append_leaves_only_committed_frames(tmp_path, monkeypatch):
    path = tmp_path / "s.zarr"
    first = make_frames(np.random.default_rng(3), [5, 6])
    with Store.create(path) as store:
        store.append(first, Provenance(scheme="a"))
        store.create_label_set("emt", "emt", ["energy", "forces"])

    def killed(self, n_frames, n_atoms):
        raise KeyboardInterrupt  # the process dies after the arrays, before the commit

    monkeypatch.setattr(Store, "_commit", killed)
    with pytest.raises(KeyboardInterrupt), Store.open(path, "a") as store:
        store.append(make_frames(np.random.default_rng(4), [9, 9, 9]), Provenance(scheme="b"))
    monkeypatch.undo()
    assert zarr.open_group(path)["atoms"]["positions"].shape[0] == 38  # written, not committed
    reader = Store.open(path)
    assert reader.n_frames == 2 and len(reader.atoms()) == 2 and reader.scheme_counts() == {"a": 2}
    # The next writer cuts the leftovers and appends cleanly after the committed rows.
    third = make_frames(np.random.default_rng(5), [2])
    with Store.open(path, "a") as store:
        store.append(third, Provenance(scheme="c"))
    reader = Store.open(path)
    assert reader.n_frames == 3 and reader.n_atoms == 13
    assert np.array_equal(reader.atoms([2])[0].positions, third[0].positions)
    assert reader.status_counts("emt")["pending"] == 3
    assert np.isnan(reader.labels("emt")["forces"]).all()


def test_second_writer_is_refused_and_lock_is_released(tmp_path):
    path = tmp_path / "s.zarr"
    with Store.create(path) as writer:
        with pytest.raises(StoreLockedError, match="open for writing by pid"):
            Store.open(path, "a")
        assert Store.open(path).n_frames == 0 and writer.writable  # readers are welcome
    with Store.open(path, "a") as again:
        assert again.writable


def test_lock_dies_with_a_killed_writer(tmp_path):
    path = tmp_path / "s.zarr"
    Store.create(path).close()
    code = (
        f"from curate.store import Store; s = Store.open({str(path)!r}, 'a'); "
        "print('ok', flush=True); import time; time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ok"
    with pytest.raises(StoreLockedError):
        Store.open(path, "a")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.05)
    Store.open(path, "a").close()


def test_label_sets_write_read_and_derive(tmp_path):
    frames = make_frames(np.random.default_rng(6), [2, 3, 4])
    with Store.create(tmp_path / "s.zarr") as store:
        store.append(frames, Provenance(scheme="a"))
        store.create_label_set("dft", "ase:my.Calc", ["energy", "forces", "stress"], version="1")
        forces = np.arange(12, dtype=float).reshape(4, 3)
        stress = np.array([1.0, 2.0, 3.0, 0.1, 0.2, 0.3]) * 1e-3
        store.write_labels(
            "dft",
            [
                LabelResult(
                    2,
                    Status.OK,
                    {"energy": -8.0, "forces": forces, "stress": stress, "band_gap": 1.2},
                    wall_s=3.0,
                    cpu_s=5.5,
                    host="n1",
                ),
                LabelResult(0, Status.FAILED_PHYSICS, error="SCF not converged", wall_s=9.0),
            ],
        )
        labels = store.labels("dft")
        assert list(labels.status) == [Status.FAILED_PHYSICS, Status.PENDING, Status.OK]
        assert labels.error[0] == "SCF not converged" and labels.host[2] == "n1"
        assert np.array_equal(labels["forces"][5:9], forces)
        assert np.isnan(labels["forces"][:5]).all()
        assert labels["energy_per_atom"][2] == -2.0
        assert np.isclose(labels["hydrostatic_stress"][2], 2e-3 * EV_PER_A3_TO_GPA)
        assert np.isnan(labels["band_gap"][:2]).all() and labels["band_gap"][2] == 1.2
        assert store.label_set_info("dft")["properties"] == [
            "band_gap",
            "energy",
            "forces",
            "stress",
        ]
        assert store.status_counts("dft") == {
            "pending": 1,
            "ok": 1,
            "failed-physics": 1,
            "failed-infra": 0,
        }
        only = store.labels("dft", [2])
        assert np.array_equal(only["forces"], forces)
        atoms = store.atoms([2], label_set="dft")[0]
        assert atoms.info["REF_energy"] == -8.0 and atoms.info["band_gap"] == 1.2
        assert np.array_equal(atoms.arrays["REF_forces"], forces) and atoms.calc is None
        assert np.array_equal(atoms.info["REF_stress"], stress)
        atoms = store.atoms([2], label_set="dft", as_calculator=True)[0]
        assert atoms.get_potential_energy() == -8.0 and atoms.info["band_gap"] == 1.2
        assert np.array_equal(atoms.get_forces(), forces)
        assert np.array_equal(atoms.get_stress(), stress)
        failed = store.atoms([0], label_set="dft")[0]
        assert failed.calc is None and "REF_energy" not in failed.info
        with pytest.raises(InputError, match="no 'vbm' labels"):
            labels["vbm"]


def test_bad_stores_are_refused(tmp_path):
    with pytest.raises(StoreError, match="no store at"):
        Store.open(tmp_path / "missing.zarr")
    path = tmp_path / "s.zarr"
    Store.create(path).close()
    zarr.open_group(path, mode="r+").attrs["curate_format_version"] = "2.0"
    with pytest.raises(StoreError, match=r"schema version 2\.0"):
        Store.open(path)
    (path / "zarr.json").write_text("{ not json")
    with pytest.raises(StoreError, match="not a readable curate store"):
        Store.open(path)
    plain = zarr.open_group(tmp_path / "plain.zarr", mode="w")
    plain.attrs["x"] = 1
    with pytest.raises(StoreError, match="not a curate store"):
        Store.open(tmp_path / "plain.zarr")
    with pytest.raises(StoreError, match="not an empty folder"):
        Store.create(tmp_path / "plain.zarr")


def test_reads_by_index_touch_only_their_chunks_and_equal_a_full_read(tmp_path, monkeypatch):
    """Random, unordered, repeated indices over many chunks give what a full read gives."""
    import curate.store.zarr_store as zarr_store

    monkeypatch.setattr(zarr_store, "FRAME_CHUNK", 8)
    monkeypatch.setattr(zarr_store, "ATOM_CHUNK", 32)
    rng = np.random.default_rng(0)
    frames = [
        Atoms("Cu" * int(n), positions=rng.normal(size=(int(n), 3)), cell=np.eye(3) * 9, pbc=True)
        for n in rng.integers(2, 12, 100)
    ]
    with Store.create(tmp_path / "s.zarr") as store:
        store.append(frames, [Provenance(scheme=f"s{i % 3}", seed=i) for i in range(100)])
        store.create_label_set("x", "test", ["energy", "forces"])
        store.write_labels(
            "x",
            [
                LabelResult(i, Status.OK, {"energy": float(i), "forces": frames[i].positions * 2})
                for i in range(0, 100, 3)
            ],
        )
    idx = np.array([97, 3, 3, 55, 0, 81, 12, 99, 40])
    with Store.open(tmp_path / "s.zarr") as store:
        everything, picked = store.arrays(), store.arrays(idx)
        for i, k in enumerate(idx):
            lo, hi = everything.atom_ptr[k], everything.atom_ptr[k + 1]
            a, b = picked.atom_ptr[i], picked.atom_ptr[i + 1]
            assert np.array_equal(picked.positions[a:b], everything.positions[lo:hi])
            assert np.array_equal(picked.cell[i], everything.cell[k])
        assert store.provenance(idx) == [store.provenance()[k] for k in idx]
        full, some = store.labels("x"), store.labels("x", idx)
        assert np.array_equal(some.status, full.status[idx])
        assert np.array_equal(some["energy"], full["energy"][idx], equal_nan=True)
        for i, k in enumerate(idx):
            assert np.array_equal(some.frame(i).get("forces"), full.frame(k).get("forces"))
        assert [a.info["curate_uid"] for a in store.atoms(idx)] == store.uids()[idx].tolist()
