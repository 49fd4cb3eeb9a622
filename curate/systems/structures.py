"""Reading structure files and rejecting configurations no calculator should see."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.io import read, write

from curate.core.errors import InputError

DEFAULT_MIN_DISTANCE = 0.5
"""Å. Closer pairs are overlapping atoms: no physical configuration of any element has them."""


def read_structures(path: str | Path, index: str | int = ":") -> list[Atoms]:
    """Read every frame of an ASE-readable file (CIF, POSCAR, extxyz, ...), or raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such structure file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frames = read(path, index)
    except Exception as exc:  # ASE raises many types for unreadable files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read a structure from {path}: {reason}") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames or any(len(atoms) == 0 for atoms in frames):
        raise InputError(f"{path} holds no atoms")
    for atoms in frames:
        check_ordered(atoms, str(path))
    return frames


def check_ordered(atoms: Atoms, label: str) -> None:
    """Raise InputError if a site is shared between species (a CIF's partial occupancies)."""
    occupancy = atoms.info.get("occupancy") or {}
    mixed = {site: share for site, share in occupancy.items() if max(share.values()) < 1}
    if mixed:
        site, share = next(iter(mixed.items()))
        shares = ", ".join(f"{el} {x:g}" for el, x in share.items())
        raise InputError(
            f"{label}: {len(mixed)} sites have partial occupancies (site {site}: {shares}); "
            "curate needs an ordered structure (e.g. pymatgen's OrderDisorderedStructure"
            "Transformation or a special quasirandom structure)"
        )


def read_structure(path: str | Path) -> Atoms:
    """Read the first structure of a file, or raise InputError."""
    return read_structures(path, 0)[0]


def check_atoms(
    atoms: Atoms, *, min_distance: float = DEFAULT_MIN_DISTANCE, label: str = "structure"
) -> None:
    """Raise InputError for unknown elements, non-finite values or atoms closer than
    ``min_distance`` (periodic images included; 0 turns the distance check off)."""
    from curate.core.geometry import shortest_distance

    numbers = atoms.numbers
    bad = (numbers <= 0) | (numbers >= len(chemical_symbols))
    if bad.any():
        raise InputError(f"{label}: unknown element with atomic number {int(numbers[bad][0])}")
    if not np.isfinite(atoms.positions).all():
        raise InputError(f"{label}: positions contain NaN or infinite values")
    if not np.isfinite(atoms.cell.array).all():
        raise InputError(f"{label}: the cell contains NaN or infinite values")
    if atoms.pbc.any() and abs(atoms.cell.volume) < 1e-8:
        raise InputError(f"{label}: periodic but the cell has zero volume")
    shortest = shortest_distance(atoms, min_distance) if min_distance > 0 else float("inf")
    if shortest < min_distance:
        raise InputError(
            f"{label}: atoms {shortest:.3f} Å apart, closer than the minimum distance "
            f"{min_distance} Å"
        )


def write_structure(path: str | Path, atoms: Atoms) -> None:
    """Write a structure in the format ASE infers from the file name, or raise InputError."""
    try:
        write(path, atoms)
    except Exception as exc:  # unknown extensions and unwritable paths
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot write {path}: {reason}") from None


def check_frames(frames: list[Atoms], *, min_distance: float, allow_close: bool, label: str) -> int:
    """Check every frame (see :func:`check_atoms`); with ``allow_close``, frames with atoms closer
    than ``min_distance`` pass and are counted. Returns that count."""
    from curate.core.geometry import shortest_distance

    n_close = 0
    for i, atoms in enumerate(frames):
        where = f"{label} frame {i}"
        check_atoms(atoms, min_distance=0.0 if allow_close else min_distance, label=where)
        if allow_close and shortest_distance(atoms, min_distance) < min_distance:
            n_close += 1
    return n_close
