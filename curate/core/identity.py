"""Content identity: hashes of configurations (equal atoms, positions, cell and pbc give equal
uids) and the keys of everything cached."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import numpy as np
from ase import Atoms


def content_uid(
    numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray
) -> int:
    """64-bit BLAKE2b hash of the exact bytes of a configuration (−0.0 counted as 0.0)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(np.ascontiguousarray(numbers, dtype=np.int32).tobytes())
    for values in (positions, cell):
        h.update(np.ascontiguousarray(np.asarray(values, dtype=np.float64) + 0.0).tobytes())
    h.update(np.ascontiguousarray(pbc, dtype=bool).tobytes())
    return int.from_bytes(h.digest(), "little")


def atoms_uid(atoms: Atoms) -> int:
    """Content uid of an ``ase.Atoms``."""
    return content_uid(atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc)


def cache_key(*parts: Any, arrays: Iterable[np.ndarray] = (), size: int = 16) -> str:
    """Hex key of JSON-able ``parts`` (mapping key order does not matter) and the exact bytes of
    ``arrays``: what names a cached result by everything that decides it."""
    h = hashlib.blake2b(digest_size=size)
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    for values in arrays:
        values = np.ascontiguousarray(values)
        h.update(str(values.dtype).encode())
        h.update(values.tobytes())
    return h.hexdigest()
