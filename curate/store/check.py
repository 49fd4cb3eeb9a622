"""Reading every committed chunk of a store to find damage: a chunk whose checksum or codec
fails, or a chunk file missing where data must be (positions, atomic numbers, cells, uids and
offsets never equal their fill value), named with the frames it holds."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from curate.core.errors import StoreError
from curate.store.chunks import ChunkReader
from curate.store.zarr_store import Store, one_line

NEVER_FILL = {"frames/uid", "frames/cell", "atoms/numbers", "atoms/positions"}
"""Arrays whose real rows never equal the fill value: rows that read as fill lost their chunk."""


@dataclass(frozen=True)
class Damage:
    """One unreadable (or missing) chunk: its array, the rows it holds, the frames they belong
    to (``first``, ``last`` inclusive; None when the offsets themselves are damaged) and why."""

    array: str
    rows: tuple[int, int]
    frames: tuple[int, int] | None
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def _fill_rows(path: str, block: np.ndarray, fill) -> bool:
    """Whether any row of a never-fill array reads as the fill value."""
    if path not in NEVER_FILL:
        return False
    flat = block.reshape(len(block), -1)
    is_fill = np.isnan(flat) if isinstance(fill, float) and np.isnan(fill) else flat == fill
    return bool(is_fill.all(axis=1).any())


def check_store(store: Store) -> tuple[list[Damage], int]:
    """Every damaged chunk of ``store`` (committed rows only), and the number of chunks read."""
    try:
        ptr = store.atom_ptr()
    except StoreError:  # reported below as damage of frames/atom_ptr
        ptr = None
    rows_of = {"frame": store.n_frames, "atom": store.n_atoms, "offsets": store.n_frames + 1}
    damage, chunks = [], 0
    for path, array, dim in store.chunked_arrays():
        size, reader = array.chunks[0], ChunkReader(array)
        for lo in range(0, rows_of[dim], size):
            hi = min(lo + size, rows_of[dim])
            chunks += 1
            try:
                block = reader.rows(lo, hi)
            except Exception as exc:  # checksum, codec or I/O error
                reason = one_line(exc)
            else:
                if not _fill_rows(path, block, array.fill_value):
                    continue
                reason = "rows read as the fill value: the chunk file is missing"
            frames = _frames(dim, lo, hi, ptr, store.n_frames)
            damage.append(Damage(path, (lo, hi), frames, reason))
    return damage, chunks


def _frames(
    dim: str, lo: int, hi: int, ptr: np.ndarray | None, n_frames: int
) -> tuple[int, int] | None:
    """First and last frame holding rows ``lo:hi`` of an array along ``dim`` (offset row r
    bounds frames r - 1 and r)."""
    if dim == "frame":
        return lo, hi - 1
    if dim == "offsets":
        return max(lo - 1, 0), min(hi - 1, n_frames - 1)
    if ptr is None:
        return None
    first = int(np.searchsorted(ptr, lo, side="right")) - 1
    last = int(np.searchsorted(ptr, hi, side="left")) - 1
    return first, last
