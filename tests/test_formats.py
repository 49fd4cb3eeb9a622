"""The field's formats in and out: ASE databases, DeePMD systems (dpdata) and H5MD (znh5md).
What curate writes, each library's own reader reads with the same labels; what each library
writes, curate imports with its labels; store → format → store keeps frames, labels and
provenance."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from gnn_data import labelled_store

from curate.core.labels import LabelResult, Status
from curate.core.provenance import Provenance
from curate.store import Store

FORMATS = {"ase-db": "out.db", "deepmd": "out_deepmd", "h5md": "out.h5"}


def alloy_frames(n: int = 5) -> list:
    """Cu cells with three Ag atoms out of species order (32 atoms), rattled."""
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat(2)
        atoms.numbers[[1, 5, 6]] = 47
        atoms.rattle(0.05, seed=k)
        frames.append(atoms)
    return frames


@pytest.fixture
def store(tmp_path):
    provenance = [
        Provenance(scheme="aimd", system="CuAg", seed=3, temperature=300.0 + 100 * k, round=k)
        for k in range(5)
    ]
    path = labelled_store(tmp_path / "S.zarr", alloy_frames(), provenance=provenance, n_ok=4)
    with Store.open(path, "a") as opened:  # a band gap on one frame: carried where it can be
        opened.write_labels(
            "emt",
            [LabelResult(0, Status.OK, {**opened.labels("emt", [0]).frame(0), "band_gap": 0.3})],
        )
    return path


def library_frames(fmt: str, path):
    """The file read back by the format's own library: (positions, energy, forces, stress)."""
    if fmt == "ase-db":
        import ase.db

        with ase.db.connect(path) as db:
            rows = [row.toatoms() for row in db.select()]
        return [
            (a.positions, a.get_potential_energy(), a.get_forces(), a.get_stress()) for a in rows
        ]
    if fmt == "deepmd":
        import dpdata

        systems = dpdata.MultiSystems().from_deepmd_npy(str(path), labeled=True)
        (system,) = systems.systems.values()
        return [
            (a.positions, a.get_potential_energy(), a.get_forces(), a.get_stress())
            for a in system.to("ase/structure")
        ]
    import znh5md

    return [
        (a.positions, a.get_potential_energy(), a.get_forces(), a.get_stress())
        for a in znh5md.IO(str(path))[:]
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_library_reads_what_curate_writes(store, tmp_path, cli, fmt):
    out = tmp_path / FORMATS[fmt]
    payload = cli.json("export", store, "--format", fmt, "--out", out)
    assert payload["n_frames"] == 4  # the pending frame is left out
    read = library_frames(fmt, out)
    with Store.open(store) as opened:
        labels, frames = opened.labels("emt"), opened.atoms()
        for i, (positions, energy, forces, stress) in enumerate(read):
            assert np.allclose(positions, frames[i].positions, atol=1e-10)
            assert energy == pytest.approx(labels["energy"][i], abs=1e-10)
            assert np.allclose(forces, labels.frame(i)["forces"], atol=1e-10)
            assert np.allclose(stress, labels["stress"][i], atol=1e-10)


@pytest.mark.parametrize("fmt", FORMATS)
def test_store_to_format_to_store_keeps_labels_and_provenance(store, tmp_path, cli, fmt):
    out = tmp_path / FORMATS[fmt]
    cli.json("export", store, "--format", fmt, "--out", out)
    back = tmp_path / "back.zarr"
    payload = cli.json("import", out, "--out", back)
    assert payload["added"] == 4 and payload["label_set"] == "emt"
    with Store.open(store) as a, Store.open(back) as b:
        idx = np.arange(4)
        assert np.array_equal(a.uids()[idx], b.uids())
        assert a.provenance(idx) == b.provenance()
        was, now = a.labels("emt", idx), b.labels("emt")
        for prop in ("energy", "forces", "stress"):
            assert np.allclose(was[prop], now[prop], atol=1e-10)
        assert now["band_gap"][0] == 0.3 and np.isnan(now["band_gap"][1:]).all()


def test_files_written_by_the_libraries_import_with_their_labels(tmp_path, cli):
    import ase.db
    import dpdata
    import znh5md

    frames = alloy_frames(3)
    for atoms in frames:
        atoms.calc = EMT()
        atoms.get_stress()
    with ase.db.connect(tmp_path / "users.db") as db:
        for atoms in frames:
            db.write(atoms, tag="md")
    system = dpdata.LabeledSystem(frames[0], fmt="ase/structure")
    for atoms in frames[1:]:
        system.append(dpdata.LabeledSystem(atoms, fmt="ase/structure"))
    system.to("deepmd/npy", str(tmp_path / "users_deepmd"))
    znh5md.IO(str(tmp_path / "users.h5")).extend(frames)
    for name in ("users.db", "users_deepmd", "users.h5"):
        out = tmp_path / f"{name}.zarr"
        payload = cli.json("import", tmp_path / name, "--out", out)
        assert payload["added"] == 3 and payload["labelled"] == 3
        with Store.open(out) as opened:
            labels = opened.labels(payload["label_set"])
            for i, atoms in enumerate(frames):
                assert labels["energy"][i] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
                assert np.allclose(labels.frame(i)["forces"], atoms.get_forces(), atol=1e-8)
                assert np.allclose(labels["stress"][i], atoms.get_stress(), atol=1e-8)
            (prov, *_) = opened.provenance()
            assert prov.params["source"] == name  # where the frames came from


def test_bad_format_input_is_one_line(tmp_path, cli, store):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.db").write_text("not sqlite")
    for args in (
        ["import", tmp_path / "empty", "--out", tmp_path / "a.zarr"],
        ["import", tmp_path / "junk.db", "--out", tmp_path / "b.zarr"],
        ["import", tmp_path / "junk.db", "--format", "cml", "--out", tmp_path / "c.zarr"],
        ["export", store, "--format", "deepmd", "--all-frames", "--out", tmp_path / "d"],
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "a.zarr").exists() and not (tmp_path / "d").exists()
