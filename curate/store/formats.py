"""The formats the field trains on, in and out of a store: extended XYZ (MACE, NequIP, ASE), ASE
databases (SQLite ``.db``), DeePMD systems (``deepmd/npy`` through dpdata) and H5MD (through
znh5md).

Every reader returns ``Atoms`` that carry their labels as a calculator (or under ``REF_*`` keys)
and curate's provenance as ``config_type`` and ``curate_*`` info keys where the file has them, so
one import path (:func:`curate.store.extxyz.import_structures`) serves them all. DeePMD systems
hold no metadata: curate writes each system's provenance and its other labels (band gaps) to
``curate_frames.json`` beside ``type.raw``, which DeePMD ignores, and reads it back.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from curate.core.errors import InputError
from curate.core.files import atomic_path
from curate.core.labels import PER_FRAME, REF_KEYS
from curate.store.zarr_store import Store

SIDECAR = "curate_frames.json"
READ_FORMATS = ("auto", "extxyz", "ase-db", "deepmd", "h5md")
WRITE_FORMATS = ("extxyz", "zip", "ase-db", "deepmd", "h5md")
EXTRA_LABELS = tuple(p for p in PER_FRAME if p not in REF_KEYS)
"""Per-frame labels beyond energy and stress (band gap and edges): info keys in every format."""


def need(module: str, extra: str):
    """Import an optional format library, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"this format needs {module}: pip install 'curate[{extra}]'") from None


def detect(path: Path) -> str:
    """The format of ``path`` from its name or contents."""
    if path.is_dir():
        if any(path.rglob("type.raw")):
            return "deepmd"
        raise InputError(f"{path} is a folder without a DeePMD system (no type.raw)")
    suffix = path.suffix.lower()
    if suffix == ".db":
        return "ase-db"
    if suffix in (".h5", ".h5md", ".hdf5"):
        return "h5md"
    return "extxyz"


def provenance_info(store: Store, indices: np.ndarray) -> list[dict]:
    """Per frame, curate's provenance as info keys (uids in hexadecimal text: SQLite and HDF5
    integers are signed 64-bit, and ASE's database refuses text that reads as a number)."""
    out = []
    for uid, prov in zip(store.uids()[indices], store.provenance(indices), strict=True):
        info = {
            "config_type": prov.scheme,
            "curate_uid": f"{int(uid):#018x}",
            "curate_system": prov.system,
            "curate_params": prov.params_json(),
            "curate_parent": f"{prov.parent:#018x}",
            "curate_round": prov.round,
        }
        if prov.seed is not None:
            info["curate_seed"] = prov.seed
        if prov.temperature is not None:
            info["curate_temperature"] = prov.temperature
        out.append(info)
    return out


def labelled_frames(
    store: Store, label_set: str | None, indices: np.ndarray
) -> tuple[list[Atoms], list[dict]]:
    """Frames with their ``ok`` labels as a calculator, and per frame the info to write:
    provenance, the label set's name and calculator, band gaps."""
    frames = store.atoms(indices, label_set, as_calculator=True)
    infos = provenance_info(store, indices)
    calculator = store.label_set_info(label_set)["calculator"] if label_set else None
    for atoms, info in zip(frames, infos, strict=True):
        for key in EXTRA_LABELS:
            if key in atoms.info:
                info[key] = float(atoms.info[key])
        if calculator is not None and atoms.calc is not None:
            info["curate_label_set"] = label_set
            info["curate_calculator"] = calculator
        atoms.info = dict(info)
    return frames, infos


# ------------------------------------------------------------------------------ ASE database
def write_ase_db(frames: list[Atoms], infos: list[dict], path: Path) -> None:
    import ase.db

    with atomic_path(path) as tmp, ase.db.connect(tmp, type="db", append=False) as db:
        for atoms, info in zip(frames, infos, strict=True):
            atoms.info = {}
            db.write(atoms, key_value_pairs=info)


def read_ase_db(path: Path) -> list[Atoms]:
    import ase.db

    frames = []
    try:
        with ase.db.connect(path, type="db") as db:
            for row in db.select():
                atoms = row.toatoms()
                atoms.info.update(row.key_value_pairs)
                frames.append(atoms)
    except Exception as exc:  # sqlite and ASE raise several types for a file that is not a db
        raise InputError(f"cannot read an ASE database from {path}: {exc}") from None
    return frames


# ------------------------------------------------------------------------------ DeePMD
def write_deepmd(frames: list[Atoms], infos: list[dict], path: Path) -> None:
    """One DeePMD system per composition (dpdata's MultiSystems), all labelled or none."""
    dpdata = need("dpdata", "formats")
    labelled = [a.calc is not None for a in frames]
    if any(labelled) and not all(labelled):
        raise InputError(
            "a DeePMD set is labelled throughout or not at all: leave out --all-frames"
        )
    kind = dpdata.LabeledSystem if all(labelled) else dpdata.System
    systems: dict[str, list[int]] = {}
    for i, atoms in enumerate(frames):
        systems.setdefault(atoms.get_chemical_formula(), []).append(i)
    if path.exists():
        raise InputError(f"{path} already exists")
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for formula, members in systems.items():
        folder = partial / formula
        system = kind(frames[members[0]], fmt="ase/structure")
        for i in members[1:]:
            system.append(kind(frames[i], fmt="ase/structure"))
        system.to("deepmd/npy", str(folder))
        (folder / SIDECAR).write_text(json.dumps([infos[i] for i in members], indent=1))
    partial.rename(path)


def read_deepmd(path: Path) -> list[Atoms]:
    dpdata = need("dpdata", "formats")
    frames = []
    for folder in sorted({p.parent for p in path.rglob("type.raw")}):
        labelled = any(folder.glob("set.*/energy.npy"))
        kind = dpdata.LabeledSystem if labelled else dpdata.System
        system = kind(str(folder), fmt="deepmd/npy")
        atoms_list = system.to("ase/structure")
        sidecar = folder / SIDECAR
        infos = json.loads(sidecar.read_text()) if sidecar.is_file() else []
        for k, atoms in enumerate(atoms_list):
            if k < len(infos):
                atoms.info.update(infos[k])
            atoms.info.setdefault("config_type", "imported")
            frames.append(atoms)
    return frames


# ------------------------------------------------------------------------------ H5MD
def write_h5md(frames: list[Atoms], infos: list[dict], path: Path) -> None:
    znh5md = need("znh5md", "formats")
    with atomic_path(path) as tmp:
        znh5md.IO(str(tmp)).extend(frames)


def read_h5md(path: Path) -> list[Atoms]:
    znh5md = need("znh5md", "formats")
    try:
        frames = list(znh5md.IO(str(path))[:])
    except Exception as exc:  # h5py raises several types for a file that is not H5MD
        raise InputError(f"cannot read H5MD from {path}: {exc}") from None
    for atoms in frames:
        if isinstance(atoms.calc, SinglePointCalculator):
            atoms.calc.results = {k: v for k, v in atoms.calc.results.items() if k in REF_KEYS}
    return frames


def export_frames(
    store: Store, path: Path, fmt: str, label_set: str | None, labelled_only: bool = True
) -> int:
    """Write the store's frames (with the ``ok`` labels of ``label_set``; only those frames
    when ``labelled_only``) in ``fmt``; returns the count. The output appears complete or not at
    all."""
    from curate.core.labels import Status

    indices = np.arange(store.n_frames)
    if label_set is not None and labelled_only:
        indices = indices[store.labels(label_set).status == Status.OK]
    frames, infos = labelled_frames(store, label_set, indices)
    WRITERS[fmt](frames, infos, Path(path))
    return len(frames)


READERS: dict[str, Callable[[Path], list[Atoms]]] = {
    "ase-db": read_ase_db,
    "deepmd": read_deepmd,
    "h5md": read_h5md,
}
WRITERS: dict[str, Callable[[list[Atoms], list[dict], Path], None]] = {
    "ase-db": write_ase_db,
    "deepmd": write_deepmd,
    "h5md": write_h5md,
}
