"""Extended XYZ in and out: what ``mace_run_train`` reads, and any ASE-readable file in.

Labels go out under MACE's keys (``REF_energy``, ``REF_forces``, ``REF_stress`` as Voigt-6) so
ASE's reader never turns them into a calculator; provenance goes out as ``config_type`` (the
scheme) and ``curate_*`` keys. Floats are written at full precision, so store → extxyz → store is
exact (ASE's own writer rounds positions to 8 decimals).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from curate.core.errors import InputError
from curate.core.files import atomic_path
from curate.core.labels import PER_FRAME, REF_KEYS, LabelResult, Status
from curate.core.provenance import Provenance
from curate.store.zarr_store import Store
from curate.systems.structures import DEFAULT_MIN_DISTANCE, check_frames, read_structures

PROVENANCE_KEYS = ("system", "params", "seed", "parent", "temperature", "round")


def _floats(values: Iterable[float]) -> str:
    return " ".join(repr(v) for v in np.asarray(values, dtype=float).ravel().tolist())


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _comment(
    atoms: Atoms, prov: Provenance, labels: dict[str, np.ndarray | float], extra: dict[str, str]
) -> str:
    parts = []
    if atoms.pbc.any() or atoms.cell.array.any():
        parts.append(f'Lattice="{_floats(atoms.cell.array)}"')
    props = "species:S:1:pos:R:3" + (":REF_forces:R:3" if "forces" in labels else "")
    parts.append(f"Properties={props}")
    for prop, value in labels.items():
        if prop == "forces":
            continue
        key = REF_KEYS.get(prop, prop)
        parts.append(
            f"{key}={_floats([value])}" if np.ndim(value) == 0 else f'{key}="{_floats(value)}"'
        )
    parts.append(f"config_type={_quote(prov.scheme)}")
    parts.append(f"curate_uid={atoms.info['curate_uid']}")
    parts.append(f"curate_system={_quote(prov.system)}")
    parts.append(f"curate_params={_quote(prov.params_json())}")
    if prov.seed is not None:
        parts.append(f"curate_seed={prov.seed}")
    parts.append(f"curate_parent={prov.parent}")
    if prov.temperature is not None:
        parts.append(f"curate_temperature={prov.temperature!r}")
    parts.append(f"curate_round={prov.round}")
    parts.extend(f"{k}={_quote(v)}" for k, v in extra.items())
    parts.append('pbc="' + " ".join("T" if p else "F" for p in atoms.pbc) + '"')
    return " ".join(parts)


def export_extxyz(
    store: Store,
    path: str | Path,
    label_set: str | None = None,
    labelled_only: bool = True,
    indices: np.ndarray | None = None,
) -> int:
    """Write frames (``indices``, default all, with the ``ok`` labels of ``label_set``) to
    extended XYZ; returns the count.

    With a label set and ``labelled_only``, frames not labelled ``ok`` are left out. The file
    appears complete or not at all.
    """
    indices = np.arange(store.n_frames) if indices is None else np.asarray(indices, dtype=int)
    extra: dict[str, str] = {}
    labels = None
    if label_set is not None:
        labels = store.labels(label_set)
        if labelled_only:
            indices = indices[labels.status[indices] == Status.OK]
        extra = {
            "curate_label_set": label_set,
            "curate_calculator": str(store.label_set_info(label_set)["calculator"]),
        }
    frames = store.atoms(indices)
    provs = store.provenance(indices)
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for k, (atoms, prov) in enumerate(zip(frames, provs, strict=True)):
            i = indices[k]
            ok = labels is not None and labels.status[i] == Status.OK
            frame_labels = labels.frame(i) if ok else {}
            fh.write(f"{len(atoms)}\n{_comment(atoms, prov, frame_labels, extra)}\n")
            columns = [atoms.positions]
            if "forces" in frame_labels:
                columns.append(np.asarray(frame_labels["forces"]))
            rows = np.hstack(columns).tolist()
            for symbol, row in zip(atoms.get_chemical_symbols(), rows, strict=True):
                fh.write(symbol + " " + " ".join(repr(v) for v in row) + "\n")
    return len(frames)


def _frame_labels(atoms: Atoms) -> dict[str, np.ndarray | float]:
    """Labels found on a frame read by ASE: ``REF_*`` keys first, then calculator results."""
    found: dict[str, np.ndarray | float] = {}
    calc_results = atoms.calc.results if atoms.calc is not None else {}
    for prop, key in REF_KEYS.items():
        value = atoms.arrays.get(key) if prop == "forces" else atoms.info.get(key)
        if value is None:
            value = calc_results.get(prop)
        if value is not None:
            found[prop] = value
    for prop in PER_FRAME:
        if prop not in found and prop in atoms.info:
            found[prop] = atoms.info[prop]
    if "stress" in found:
        stress = np.asarray(found["stress"], dtype=float).reshape(-1)
        if stress.size == 9:
            m = stress.reshape(3, 3)
            stress = np.array([m[0, 0], m[1, 1], m[2, 2], m[1, 2], m[0, 2], m[0, 1]])
        if stress.size != 6:
            raise InputError(f"stress with {stress.size} components (expected 6 or 9)")
        found["stress"] = stress
    for prop, value in found.items():
        array = np.asarray(value, dtype=float)
        found[prop] = float(array) if array.ndim == 0 else array
    return found


def _frame_provenance(atoms: Atoms, source: Path, index: int) -> Provenance:
    info = atoms.info
    if "curate_params" not in info:
        return Provenance(
            scheme=str(info.get("config_type", "imported")),
            system=source.stem,
            params={"source": source.name, "index": index},
        )
    params = info["curate_params"]
    return Provenance(
        scheme=str(info.get("config_type", "imported")),
        system=str(info.get("curate_system", "")),
        params=json.loads(params) if isinstance(params, str) else dict(params),
        seed=int(info["curate_seed"]) if "curate_seed" in info else None,
        parent=int(str(info.get("curate_parent", 0)), 0),
        temperature=float(info["curate_temperature"]) if "curate_temperature" in info else None,
        round=int(info.get("curate_round", 0)),
    )


def read_frames(path: Path, fmt: str = "auto") -> list[Atoms]:
    """Every frame of ``path`` in format ``fmt`` (``auto``: from its name or contents)."""
    from curate.store.formats import READ_FORMATS, READERS, detect

    if fmt not in READ_FORMATS:
        raise InputError(f"unknown format '{fmt}' (known: {', '.join(READ_FORMATS)})")
    if not path.exists():
        raise InputError(f"no such file: {path}")
    fmt = detect(path) if fmt == "auto" else fmt
    if fmt == "extxyz":
        return read_structures(path)
    frames = READERS[fmt](path)
    if not frames:
        raise InputError(f"{path} holds no frames")
    return frames


@dataclass
class ImportResult:
    """What an import added: frame count, duplicates skipped, and the label set it wrote."""

    n_read: int
    n_added: int
    n_duplicates: int
    label_set: str | None
    n_labelled: int
    n_close: int


def import_structures(
    path: str | Path,
    store_path: str | Path,
    label_set: str | None = None,
    min_distance: float = DEFAULT_MIN_DISTANCE,
    allow_close: bool = False,
    fmt: str = "auto",
) -> ImportResult:
    """Append every frame of a file (any format of :mod:`curate.store.formats`, or anything ASE
    reads) to a store (created if missing), keeping any labels it holds. All frames are read and
    checked (see :func:`check_frames`) before the store is touched."""
    path = Path(path)
    frames = read_frames(path, fmt)
    n_close = check_frames(
        frames, min_distance=min_distance, allow_close=allow_close, label=str(path)
    )
    labels = [_frame_labels(a) for a in frames]
    provenance = [_frame_provenance(a, path, i) for i, a in enumerate(frames)]
    calculators = {str(a.info.get("curate_calculator", f"file:{path.name}")) for a in frames}
    names = {str(a.info["curate_label_set"]) for a in frames if "curate_label_set" in a.info}
    name = label_set or (names.pop() if len(names) == 1 else "imported")
    for atoms in frames:
        atoms.calc = None
    with Store.open_or_create(store_path) as store:
        added = store.append(frames, provenance)
        results = [
            LabelResult(frame=int(index), status=Status.OK, values=labels[k])
            for index, k in zip(added.indices, added.kept, strict=True)
            if labels[k]
        ]
        if results:
            calculator = calculators.pop() if len(calculators) == 1 else f"file:{path.name}"
            if name not in store.label_sets():
                props = sorted({p for r in results for p in r.values})
                store.create_label_set(name, calculator, props, source=str(path))
            store.write_labels(name, results)
    return ImportResult(
        len(frames),
        len(added.indices),
        added.n_duplicates,
        name if results else None,
        len(results),
        n_close,
    )
