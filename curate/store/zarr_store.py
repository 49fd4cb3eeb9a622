"""The Zarr v3 store of configurations, their provenance and their label sets.

Schema ``curate-atoms`` 1.x (docs/schema.md): frames and atoms ragged by CSR offsets
(``frames/atom_ptr``), one row of provenance per frame, and any number of label sets under
``labels/<name>``. One process writes, under a lock; an append writes per-atom arrays, then
per-frame arrays, then label rows, and only then bumps the commit counter in the root attrs.
Readers trust the committed counts, never the array shapes, so a killed append leaves no half frame.
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import zarr
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from curate import __version__
from curate.core.errors import InputError, StoreError
from curate.core.identity import content_uid
from curate.core.labels import (
    PER_ATOM,
    REF_KEYS,
    LabelResult,
    Status,
    energy_per_atom,
    hydrostatic_stress,
    property_shape,
)
from curate.core.provenance import Provenance
from curate.store.chunks import ChunkReader
from curate.store.lock import WriterLock

FORMAT = "curate-atoms"
VERSION = "1.1"
"""1.1: every chunk carries a CRC32C checksum. 1.0 stores (without) read and grow the same."""
FRAME_CHUNK = 4096
ATOM_CHUNK = 32768
"""Rows per chunk, one file each (positions, forces: 768 KiB). A chunk read costs about 75 µs
plus its decoding (docs/benchmarks.md): chunks this size keep whole-store reads near memory
speed, a read at a random index to one chunk per array, and a million frames to about 13,500
files. Smaller chunks grouped in shards were measured and left out: 6.6× fewer files and
faster random reads at 10⁶ frames, but whole-store reads a quarter slower."""
LABEL_SET_KEY = "curate_label_set"

# name: (dtype, trailing shape, fill value). Categorical columns hold int16 codes into the
# array's attrs["categories"].
FRAME_COLUMNS: dict[str, tuple[Any, tuple[int, ...], Any]] = {
    "cell": ("f8", (3, 3), np.nan),
    "pbc": ("bool", (3,), False),
    "uid": ("u8", (), 0),
    "scheme": ("i2", (), -1),
    "system": ("i2", (), -1),
    "params": (str, (), ""),
    "seed": ("i8", (), -1),
    "parent": ("u8", (), 0),
    "temperature": ("f8", (), np.nan),
    "round": ("i4", (), 0),
}
CATEGORICAL = ("scheme", "system")
HISTORY_KEY = "curation_history"
"""Root attribute: the records of the curation steps that made a store from others."""
ATOM_COLUMNS: dict[str, tuple[Any, tuple[int, ...], Any]] = {
    "numbers": ("u1", (), 0),
    "positions": ("f8", (3,), np.nan),
}
LABEL_BOOKKEEPING: dict[str, tuple[Any, tuple[int, ...], Any]] = {
    "status": ("i1", (), int(Status.PENDING)),
    "error": (str, (), ""),
    "wall_s": ("f8", (), np.nan),
    "cpu_s": ("f8", (), np.nan),
    "host": (str, (), ""),
}


@dataclass
class FrameArrays:
    """Frames as flat arrays: atom ``k`` of frame ``i`` is row ``atom_ptr[i] + k``."""

    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    atom_ptr: np.ndarray

    def __len__(self) -> int:
        return len(self.cell)

    @property
    def n_atoms(self) -> np.ndarray:
        return np.diff(self.atom_ptr)

    @property
    def batch(self) -> np.ndarray:
        """Frame index of every atom (PyG's ``batch`` vector)."""
        return np.repeat(np.arange(len(self)), self.n_atoms)


@dataclass
class AppendResult:
    """Store indices of the frames an append added, the positions in the input of the frames it
    kept, and how many it skipped as duplicates."""

    indices: np.ndarray
    kept: np.ndarray
    n_duplicates: int


CHUNK_CODECS = (zarr.codecs.ZstdCodec(), zarr.codecs.Crc32cCodec())
"""Zarr's default compression, then a CRC32C checksum that every read of the chunk verifies."""
FLOAT_ATOM_CODECS = (zarr.codecs.Crc32cCodec(),)
"""Per-atom floats (positions, forces) are checksummed but not compressed: their mantissas are
noise (measured 1.05× with zstd on MD positions) and decoding would halve the read speed."""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def missing_parts(root: zarr.Group) -> list[str]:
    """Groups, arrays and commit attributes a store must have that ``root`` lacks."""
    missing = [k for k in ("n_frames", "n_atoms_total", "commit") if k not in root.attrs]
    for group, names in (
        ("frames", ["atom_ptr", *FRAME_COLUMNS]),
        ("atoms", list(ATOM_COLUMNS)),
        ("labels", []),
    ):
        if group not in root:
            missing.append(f"{group}/")
            continue
        missing += [f"{group}/{name}" for name in names if name not in root[group]]
    return missing


def _new_array(group: zarr.Group, name: str, spec: tuple, length: int, dim: str) -> zarr.Array:
    """A fresh array along ``dim``; it reads as its fill value until written."""
    dtype, trailing, fill = spec
    chunk = FRAME_CHUNK if dim == "frame" else ATOM_CHUNK
    float_atoms = dim == "atom" and np.dtype(dtype).kind == "f"
    return group.create_array(
        name,
        shape=(length, *trailing),
        dtype=dtype,
        chunks=(chunk, *trailing),
        fill_value=fill,
        compressors=FLOAT_ATOM_CODECS if float_atoms else CHUNK_CODECS,
        dimension_names=[dim, *(f"{name}_{i}" for i in range(len(trailing)))],
    )


def _grow(array: zarr.Array, start: int, values: np.ndarray) -> None:
    """Write ``values`` at rows ``start:`` after resizing the array to fit exactly."""
    array.resize((start + len(values), *array.shape[1:]))
    if len(values):
        array[start:] = values


def _fill_rows(array: zarr.Array, count: int) -> np.ndarray:
    """Rows of the fill value, written explicitly: a chunk cut by an earlier resize may still
    hold stale values past the old end."""
    return np.full((count, *array.shape[1:]), array.fill_value, dtype=array.dtype)


def _gather_ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(start, stop)`` over all pairs, without a Python loop."""
    counts = stops - starts
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return np.arange(counts.sum()) + offsets


class Store:
    """A curate store on disk. Open with :meth:`open`, :meth:`create` or :meth:`open_or_create`;
    use as a context manager so the writer lock is released."""

    def __init__(self, path: Path, group: zarr.Group, lock: WriterLock | None):
        self.path = path
        self._root = group
        self._lock = lock
        attrs = group.attrs.asdict()
        self.n_frames = int(attrs["n_frames"])
        self.n_atoms = int(attrs["n_atoms_total"])
        self.commit = int(attrs["commit"])
        self._uid_index: np.ndarray | None = None
        self._handles: dict[str, Any] = {}
        self._readers: dict[str, ChunkReader] = {}
        self._label_set_names: list[str] | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, mode: Literal["r", "a"] = "r") -> Store:
        """Open an existing store for reading (``r``) or appending and labelling (``a``)."""
        path = Path(path)
        if not path.exists():
            raise StoreError(f"no store at {path}")
        group = cls._open_group(path, "r" if mode == "r" else "r+")
        attrs = group.attrs.asdict()
        if attrs.get("curate_format") != FORMAT:
            raise StoreError(f"{path} is not a curate store (no curate_format attribute)")
        version = str(attrs.get("curate_format_version", "?"))
        if version.split(".")[0] != VERSION.split(".")[0]:
            raise StoreError(
                f"{path} has schema version {version}; this curate reads version {VERSION}"
            )
        if missing := missing_parts(group):
            raise StoreError(f"{path} is damaged: it has no {', '.join(missing)}")
        if mode == "r":
            return cls(path, group, None)
        lock = WriterLock(path)
        lock.acquire()
        try:
            store = cls(path, group, lock)
            store._discard_uncommitted()
        except BaseException:
            lock.release()
            raise
        return store

    @staticmethod
    def _open_group(path: Path, mode: Literal["r", "r+"]) -> zarr.Group:
        if path.is_file() and path.suffix == ".zip":
            if mode != "r":
                raise StoreError(f"{path} is a zipped store, which curate only reads")
            store = zarr.storage.ZipStore(path, mode="r")
        else:
            store = path
        try:
            return zarr.open_group(store, mode=mode, zarr_format=3)
        except Exception as exc:  # zarr raises several types for a missing or broken group
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(f"{path} is not a readable curate store ({reason})") from None

    @classmethod
    def create(cls, path: str | Path) -> Store:
        """Create an empty store at a path that does not exist yet (or is an empty folder)."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise StoreError(f"{path} already exists and is not an empty folder")
        path.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(path)
        lock.acquire()
        try:
            root = zarr.open_group(path, mode="a", zarr_format=3)
            frames, atoms = root.create_group("frames"), root.create_group("atoms")
            root.create_group("labels")
            frames.create_array(
                "atom_ptr",
                shape=(1,),
                dtype="i8",
                chunks=(FRAME_CHUNK,),
                fill_value=0,
                dimension_names=["frame_ptr"],
                compressors=CHUNK_CODECS,
            )[:] = 0
            for name, spec in FRAME_COLUMNS.items():
                array = _new_array(frames, name, spec, 0, "frame")
                if name in CATEGORICAL:
                    array.attrs["categories"] = []
            for name, spec in ATOM_COLUMNS.items():
                _new_array(atoms, name, spec, 0, "atom")
            root.attrs.update(
                {
                    "curate_format": FORMAT,
                    "curate_format_version": VERSION,
                    "n_frames": 0,
                    "n_atoms_total": 0,
                    "commit": 0,
                    "units": {
                        "length": "Angstrom",
                        "energy": "eV",
                        "forces": "eV/Angstrom",
                        "stress": "eV/Angstrom^3",
                    },
                    "stress_layout": "voigt6 xx,yy,zz,yz,xz,xy (ASE order, ASE sign)",
                    "created_by": {
                        "package": "curate",
                        "version": __version__,
                        "python": platform.python_version(),
                    },
                }
            )
            return cls(path, root, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open_or_create(cls, path: str | Path) -> Store:
        """Open a store for appending, creating it if the path does not exist."""
        path = Path(path)
        if path.exists() and path.is_dir() and any(path.iterdir()):
            return cls.open(path, "a")
        return cls.create(path)

    def close(self) -> None:
        """Release the writer lock (if held)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def writable(self) -> bool:
        return self._lock is not None

    def _require_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"{self.path} is open read-only")

    def _node(self, path: str) -> Any:
        """The array or group at ``path``, opened once per store: every resize goes through
        the same handle, so its shape stays current, and reads skip re-reading metadata."""
        if path not in self._handles:
            self._handles[path] = self._root[path]
        return self._handles[path]

    def _forget_handles(self) -> None:
        """Drop the cached handles and label set names (after groups are created or deleted)."""
        self._handles.clear()
        self._readers.clear()
        self._label_set_names = None

    def _reader(self, array: zarr.Array) -> ChunkReader:
        reader = self._readers.get(array.path)
        if reader is None or reader.array is not array:
            reader = self._readers[array.path] = ChunkReader(array)
        return reader

    def _label_arrays(self, name: str) -> Iterator[tuple[str, zarr.Array]]:
        for key in self._node(f"labels/{name}").array_keys():
            yield key, self._node(f"labels/{name}/{key}")

    def _frame_arrays(self) -> Iterator[zarr.Array]:
        yield from (self._node(f"frames/{name}") for name in FRAME_COLUMNS)
        for name in self.label_sets():
            yield from (array for key, array in self._label_arrays(name) if key not in PER_ATOM)

    def _atom_arrays(self) -> Iterator[zarr.Array]:
        yield from (self._node(f"atoms/{name}") for name in ATOM_COLUMNS)
        for name in self.label_sets():
            yield from (array for key, array in self._label_arrays(name) if key in PER_ATOM)

    def chunked_arrays(self) -> Iterator[tuple[str, zarr.Array, str]]:
        """Every array with its path in the store and the dimension its rows run along
        (``frame``, ``atom``, or ``offsets`` for ``frames/atom_ptr``)."""
        yield "frames/atom_ptr", self._node("frames/atom_ptr"), "offsets"
        for name in FRAME_COLUMNS:
            yield f"frames/{name}", self._node(f"frames/{name}"), "frame"
        for name in ATOM_COLUMNS:
            yield f"atoms/{name}", self._node(f"atoms/{name}"), "atom"
        for label_set in self.label_sets():
            for name, array in self._label_arrays(label_set):
                dim = (array.metadata.dimension_names or ("frame",))[0]
                yield f"labels/{label_set}/{name}", array, dim

    def _discard_uncommitted(self) -> None:
        """Cut every array back to the committed counts and drop half-created label sets."""
        labels = self._root["labels"]
        for name in list(labels.group_keys()):
            if LABEL_SET_KEY not in labels[name].attrs:
                del labels[name]
        self._forget_handles()
        for array in self._frame_arrays():
            if array.shape[0] != self.n_frames:
                array.resize((self.n_frames, *array.shape[1:]))
        for array in self._atom_arrays():
            if array.shape[0] != self.n_atoms:
                array.resize((self.n_atoms, *array.shape[1:]))
        ptr = self._node("frames/atom_ptr")
        if ptr.shape[0] != self.n_frames + 1:
            ptr.resize((self.n_frames + 1,))

    def _commit(self, n_frames: int, n_atoms: int) -> None:
        self.commit += 1
        self._root.attrs.update(
            {"n_frames": n_frames, "n_atoms_total": n_atoms, "commit": self.commit}
        )
        self.n_frames, self.n_atoms = n_frames, n_atoms

    # ------------------------------------------------------------------ frames
    def append(
        self,
        frames: Sequence[Atoms],
        provenance: Provenance | Sequence[Provenance],
        on_duplicate: Literal["skip", "error", "keep"] = "skip",
    ) -> AppendResult:
        """Append configurations with their provenance (one for all, or one per frame).

        Frames whose content uid is already in the store (or earlier in ``frames``) are skipped,
        refused (``error``) or kept as they are (``keep``).
        """
        self._require_writable()
        provs = [provenance] * len(frames) if isinstance(provenance, Provenance) else provenance
        if len(provs) != len(frames):
            raise InputError(f"{len(frames)} frames but {len(provs)} provenance records")
        uids = np.array(
            [content_uid(a.numbers, a.positions, a.cell.array, a.pbc) for a in frames],
            dtype=np.uint64,
        )
        keep = np.ones(len(frames), dtype=bool)
        if on_duplicate != "keep" and len(frames):
            _, first = np.unique(uids, return_index=True)
            keep[:] = False
            keep[first] = True
            keep &= ~self._known(uids)
            if on_duplicate == "error" and not keep.all():
                raise InputError(f"{int((~keep).sum())} frames are already in {self.path}")
        chosen = np.flatnonzero(keep)
        if not len(chosen):
            return AppendResult(np.zeros(0, dtype=np.int64), chosen, len(frames))
        frames = [frames[i] for i in chosen]
        provs = [provs[i] for i in chosen]
        start_frame, start_atom = self.n_frames, self.n_atoms
        counts = np.array([len(a) for a in frames], dtype=np.int64)
        n_new_atoms = int(counts.sum())
        numbers = np.concatenate([a.numbers for a in frames])
        _grow(self._node("atoms/numbers"), start_atom, numbers)
        positions = np.concatenate([a.positions for a in frames])
        _grow(self._node("atoms/positions"), start_atom, positions)
        _grow(self._node("frames/atom_ptr"), start_frame + 1, start_atom + np.cumsum(counts))
        columns = {
            "cell": np.array([a.cell.array for a in frames]).reshape(-1, 3, 3),
            "pbc": np.array([a.pbc for a in frames], dtype=bool).reshape(-1, 3),
            "uid": uids[chosen],
            "scheme": self._codes("scheme", [p.scheme for p in provs]),
            "system": self._codes("system", [p.system for p in provs]),
            "params": np.array([p.params_json() for p in provs], dtype=object),
            "seed": np.array([-1 if p.seed is None else p.seed for p in provs], dtype=np.int64),
            "parent": np.array([p.parent for p in provs], dtype=np.uint64),
            "temperature": np.array(
                [np.nan if p.temperature is None else p.temperature for p in provs]
            ),
            "round": np.array([p.round for p in provs], dtype=np.int32),
        }
        for name, values in columns.items():
            _grow(self._node(f"frames/{name}"), start_frame, values)
        for name in self.label_sets():
            for key, array in self._label_arrays(name):
                start, count = (
                    (start_atom, n_new_atoms) if key in PER_ATOM else (start_frame, len(frames))
                )
                _grow(array, start, _fill_rows(array, count))
        self._commit(start_frame + len(frames), start_atom + n_new_atoms)
        if self._uid_index is not None:  # new uids are distinct and unknown: insert in order
            new = np.sort(uids[chosen])
            self._uid_index = np.insert(self._uid_index, np.searchsorted(self._uid_index, new), new)
        return AppendResult(
            np.arange(start_frame, self.n_frames), chosen, int(len(keep) - len(chosen))
        )

    def _known(self, uids: np.ndarray) -> np.ndarray:
        """Which ``uids`` the store holds, from a sorted index read once per open store."""
        if self._uid_index is None:
            self._uid_index = np.unique(self.uids())
        where = np.searchsorted(self._uid_index, uids)
        found = np.zeros(len(uids), dtype=bool)
        inside = where < len(self._uid_index)
        found[inside] = self._uid_index[where[inside]] == uids[inside]
        return found

    def _codes(self, column: str, names: list[str]) -> np.ndarray:
        array = self._node(f"frames/{column}")
        categories = list(array.attrs["categories"])
        new = sorted(set(names) - set(categories))
        if new:
            categories += new
            array.attrs["categories"] = categories
        lookup = {name: i for i, name in enumerate(categories)}
        return np.array([lookup[n] for n in names], dtype=np.int16)

    def _indices(self, indices: Sequence[int] | np.ndarray | None) -> np.ndarray:
        if indices is None:
            return np.arange(self.n_frames)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_frames):
            raise InputError(f"frame index out of range for {self.n_frames} frames")
        return idx

    def _read(self, array: zarr.Array, selection: slice) -> np.ndarray:
        """``array[selection]``; a damaged chunk (checksum, codec or file error) is one
        StoreError naming the array."""
        return self._guarded(
            array, lambda: self._reader(array).rows(selection.start, selection.stop)
        )

    def _guarded(self, array: zarr.Array, read: Callable[[], np.ndarray]) -> np.ndarray:
        try:
            return read()
        except Exception as exc:  # zarr and its codecs raise many types for a broken chunk
            raise StoreError(
                f"{self.path}: {array.path} cannot be read ({one_line(exc)}); "
                f"`curate check {self.path}` names the damaged frames"
            ) from None

    def _column(self, group: str, name: str, n: int | None = None) -> np.ndarray:
        return self._read(
            self._node(f"{group}/{name}"), slice(0, self.n_frames if n is None else n)
        )

    def _take(self, array: zarr.Array, rows: np.ndarray | slice) -> np.ndarray:
        """``array[rows]`` (any order, repeats allowed), reading only the chunks the rows fall
        in: one read of the covering range when it is all needed, else chunk by chunk."""
        if isinstance(rows, slice):
            return self._read(array, rows)
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.empty((0, *array.shape[1:]), dtype=array.dtype)
        steps = np.diff(rows)
        if (steps == 1).all():  # a contiguous run: one slice, no gather
            return self._read(array, slice(int(rows[0]), int(rows[-1]) + 1))
        size = array.chunks[0]
        chunk_of = rows // size
        if (steps >= 0).all():
            touched = chunk_of[np.concatenate([[True], chunk_of[1:] != chunk_of[:-1]])]
        else:
            touched = np.unique(chunk_of)
        if len(touched) == touched[-1] - touched[0] + 1:
            lo = int(rows.min())
            return self._read(array, slice(lo, int(rows.max()) + 1))[rows - lo]
        out = np.empty((len(rows), *array.shape[1:]), dtype=array.dtype)
        order = np.argsort(chunk_of, kind="stable")
        bounds = np.searchsorted(chunk_of[order], np.append(touched, touched[-1] + 1))
        reader = self._reader(array)
        for k, chunk in enumerate(touched):
            picked = order[bounds[k] : bounds[k + 1]]
            block = self._guarded(array, lambda c=int(chunk): reader.block(c))
            out[picked] = block[rows[picked] - int(chunk) * size]
        return out

    def _rows(self, array: zarr.Array, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` of a per-frame array (all of it in one read when all are asked for)."""
        if len(idx) == self.n_frames and (idx == np.arange(self.n_frames)).all():
            return self._read(array, slice(0, self.n_frames))
        return self._take(array, idx)

    def _frame_rows(self, group: str, name: str, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` of a per-frame column."""
        return self._rows(self._node(f"{group}/{name}"), idx)

    def uids(self) -> np.ndarray:
        """Content uids of all committed frames."""
        return self._column("frames", "uid")

    def rounds(self) -> np.ndarray:
        """Per-frame active-learning round (0: the initial set)."""
        return self._column("frames", "round")

    def categorical(
        self, column: Literal["scheme", "system"], indices: np.ndarray | None = None
    ) -> np.ndarray:
        """Per-frame names of a categorical provenance column (all frames, or ``indices``)."""
        array = self._node(f"frames/{column}")
        names = np.array([*array.attrs["categories"], ""], dtype=object)
        if indices is None:
            return names[self._read(array, slice(0, self.n_frames))]
        return names[self._frame_rows("frames", column, np.asarray(indices, dtype=np.int64))]

    def provenance_column(
        self, column: Literal["scheme", "system", "temperature", "seed", "round"]
    ) -> np.ndarray:
        """Per-frame values of one provenance column (NaN temperature and seed −1: none)."""
        if column in CATEGORICAL:
            return self.categorical(column)
        if column not in ("temperature", "seed", "round"):
            raise InputError(f"no provenance column '{column}'")
        return self._column("frames", column)

    def scheme_counts(self) -> dict[str, int]:
        """Number of frames of each sampling scheme."""
        return dict(Counter(self.categorical("scheme").tolist()))

    def atom_ptr(self) -> np.ndarray:
        """CSR offsets of the committed frames (length ``n_frames + 1``)."""
        return self._column("frames", "atom_ptr", self.n_frames + 1)

    def _atom_rows(self, idx: np.ndarray) -> tuple[np.ndarray | slice, np.ndarray]:
        """The atom rows of the selected frames, in order (a slice for a run of consecutive
        frames), and their CSR offsets."""
        if not len(idx):
            return np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
        if (np.diff(idx) == 1).all():
            lo = int(idx[0])
            bounds = self._read(self._node("frames/atom_ptr"), slice(lo, lo + len(idx) + 1))
            return slice(int(bounds[0]), int(bounds[-1])), bounds - bounds[0]
        bounds = self._frame_rows("frames", "atom_ptr", np.concatenate([idx, idx + 1]))
        starts, stops = bounds[: len(idx)], bounds[len(idx) :]
        return _gather_ranges(starts, stops), np.concatenate([[0], np.cumsum(stops - starts)])

    def arrays(self, indices: Sequence[int] | np.ndarray | None = None) -> FrameArrays:
        """Selected frames (all by default) as flat arrays, without building ``Atoms``."""
        idx = self._indices(indices)
        rows, new_ptr = self._atom_rows(idx)
        return FrameArrays(
            numbers=self._take(self._node("atoms/numbers"), rows),
            positions=self._take(self._node("atoms/positions"), rows),
            cell=self._frame_rows("frames", "cell", idx),
            pbc=self._frame_rows("frames", "pbc", idx),
            atom_ptr=new_ptr,
        )

    def provenance(self, indices: Sequence[int] | np.ndarray | None = None) -> list[Provenance]:
        """Provenance records of the selected frames."""
        idx = self._indices(indices)
        columns = [
            self.categorical("scheme", idx).tolist(),
            self.categorical("system", idx).tolist(),
        ]
        columns += [
            self._frame_rows("frames", k, idx).tolist()
            for k in ("params", "seed", "parent", "temperature", "round")
        ]
        return [Provenance.from_columns(*row) for row in zip(*columns, strict=True)]

    def atoms(
        self,
        indices: Sequence[int] | np.ndarray | None = None,
        label_set: str | None = None,
        as_calculator: bool = False,
    ) -> list[Atoms]:
        """Selected frames as ``ase.Atoms`` with provenance in ``info``.

        With ``label_set``, frames labelled ``ok`` carry their labels as extxyz does:
        ``info["REF_energy"]``, ``arrays["REF_forces"]``, ``info["REF_stress"]`` and other
        properties under their own names in ``info``. With ``as_calculator``, energy, forces and
        stress sit in a SinglePointCalculator instead (``atoms.get_potential_energy()`` works;
        ASE copies every frame for it, which makes reading about three times slower).
        """
        idx = self._indices(indices)
        data = self.arrays(idx)
        uids = self._frame_rows("frames", "uid", idx)
        provs = self.provenance(idx)
        labels = self.labels(label_set, idx, costs=False) if label_set else None
        out = []
        ptr = data.atom_ptr
        for i in range(len(idx)):
            lo, hi = ptr[i], ptr[i + 1]
            atoms = Atoms(
                numbers=data.numbers[lo:hi],
                positions=data.positions[lo:hi],
                cell=data.cell[i],
                pbc=data.pbc[i],
            )
            prov = provs[i]
            atoms.info.update(
                curate_uid=int(uids[i]),
                scheme=prov.scheme,
                system=prov.system,
                params=dict(prov.params),
                seed=prov.seed,
                parent=prov.parent,
                temperature=prov.temperature,
                round=prov.round,
            )
            if labels is not None:
                labels.attach(atoms, i, as_calculator)
            out.append(atoms)
        return out

    # ------------------------------------------------------------------ history
    def history(self) -> list[dict[str, Any]]:
        """What made this store from others (``curate select``, ``filter``, ``dedupe``), oldest
        first."""
        return list(self._root.attrs.get(HISTORY_KEY, []))

    def add_history(self, entry: dict[str, Any]) -> None:
        """Append one record to the store's curation history."""
        self._require_writable()
        self._root.attrs[HISTORY_KEY] = [*self.history(), entry]

    # ------------------------------------------------------------------ labels
    def label_sets(self) -> list[str]:
        """Names of the complete label sets."""
        if self._label_set_names is None:
            labels = self._node("labels")
            self._label_set_names = sorted(
                k for k in labels.group_keys() if LABEL_SET_KEY in labels[k].attrs
            )
        return list(self._label_set_names)

    def label_set_info(self, name: str) -> dict[str, Any]:
        """The label set's attrs: calculator spec, properties, versions, parameter hash."""
        return dict(self._label_group(name).attrs[LABEL_SET_KEY])

    def _label_group(self, name: str) -> zarr.Group:
        if name not in self.label_sets():
            known = ", ".join(self.label_sets()) or "none"
            raise InputError(f"no label set '{name}' in {self.path} (label sets: {known})")
        return self._node(f"labels/{name}")

    def create_label_set(
        self, name: str, calculator: str, properties: Sequence[str], **meta: Any
    ) -> None:
        """Add an empty (all pending) label set for the given properties."""
        self._require_writable()
        if not name or "/" in name or name.startswith("."):
            raise InputError(f"invalid label set name '{name}'")
        if name in self._node("labels"):
            raise InputError(f"label set '{name}' already exists in {self.path}")
        group = self._node("labels").create_group(name)
        for key, spec in LABEL_BOOKKEEPING.items():
            _new_array(group, key, spec, self.n_frames, "frame")
        for prop in properties:
            self._add_property(group, prop)
        group.attrs[LABEL_SET_KEY] = {
            "calculator": calculator,
            "properties": sorted(properties),
            **meta,
        }
        self._forget_handles()

    def _add_property(self, group: zarr.Group, prop: str) -> None:
        dim, trailing = property_shape(prop)
        length = self.n_atoms if dim == "atom" else self.n_frames
        _new_array(group, prop, ("f8", trailing, np.nan), length, dim)

    def write_labels(self, name: str, results: Sequence[LabelResult]) -> None:
        """Write results into a label set: values first, the per-frame status last."""
        self._require_writable()
        group = self._label_group(name)
        if not results:
            return
        info = self.label_set_info(name)
        idx = self._indices([r.frame for r in results])
        new_props = sorted({p for r in results for p in r.values} - set(info["properties"]))
        for prop in new_props:
            self._add_property(group, prop)
        if new_props:
            info["properties"] = sorted([*info["properties"], *new_props])
            group.attrs[LABEL_SET_KEY] = info
        lo_f, hi_f = int(idx.min()), int(idx.max()) + 1
        # Atom offsets of frames lo_f … hi_f, relative to the first: block rows of each frame.
        ptr = self._read(self._node("frames/atom_ptr"), slice(lo_f, hi_f + 1))
        lo_a, hi_a = int(ptr[0]), int(ptr[-1])
        ptr = ptr - lo_a
        for prop in info["properties"]:
            per_atom = prop in PER_ATOM
            array = self._node(f"labels/{name}/{prop}")
            block = self._read(array, slice(lo_a, hi_a) if per_atom else slice(lo_f, hi_f))
            for i, result in zip(idx, results, strict=True):
                value = result.values.get(prop)
                fill = np.nan if value is None else value
                if per_atom:
                    block[ptr[i - lo_f] : ptr[i - lo_f + 1]] = fill
                else:
                    block[i - lo_f] = fill
            if per_atom:
                array[lo_a:hi_a] = block
            else:
                array[lo_f:hi_f] = block
        for key, getter in (
            ("error", lambda r: r.error),
            ("wall_s", lambda r: r.wall_s),
            ("cpu_s", lambda r: r.cpu_s),
            ("host", lambda r: r.host),
            ("status", lambda r: int(r.status)),
        ):
            array = self._node(f"labels/{name}/{key}")
            block = self._read(array, slice(lo_f, hi_f))
            block[idx - lo_f] = [getter(r) for r in results]
            array[lo_f:hi_f] = block

    def labels(
        self,
        name: str,
        indices: Sequence[int] | np.ndarray | None = None,
        costs: bool = True,
    ) -> LabelArrays:
        """Label values, status and (unless ``costs`` is False) error, wall and CPU time and
        host of the selected frames."""
        self._label_group(name)
        idx = self._indices(indices)
        rows, ptr = self._atom_rows(idx)
        values = {}
        for prop in self.label_set_info(name)["properties"]:
            array = self._node(f"labels/{name}/{prop}")
            values[prop] = self._take(array, rows) if prop in PER_ATOM else self._rows(array, idx)
        books = {
            key: self._rows(self._node(f"labels/{name}/{key}"), idx)
            for key in LABEL_BOOKKEEPING
            if costs or key == "status"
        }
        return LabelArrays(
            status=books["status"],
            error=books.get("error"),
            wall_s=books.get("wall_s"),
            cpu_s=books.get("cpu_s"),
            host=books.get("host"),
            values=values,
            atom_ptr=ptr,
        )

    def summary(self) -> dict[str, Any]:
        """What ``curate info`` reports: sizes, frames per scheme and system, label set counts."""
        n_atoms = np.diff(self.atom_ptr())
        label_sets = {}
        for name in self.label_sets():
            info = self.label_set_info(name)
            counts = self.status_counts(name)
            counts["failed"] = counts["failed-physics"] + counts["failed-infra"]
            label_sets[name] = {
                "calculator": info["calculator"],
                "properties": info["properties"],
                "counts": counts,
            }
        return {
            "store": str(self.path),
            "format": FORMAT,
            "schema_version": self._root.attrs["curate_format_version"],
            "commit": self.commit,
            "n_frames": self.n_frames,
            "n_atoms": self.n_atoms,
            "atoms_per_frame": [int(n_atoms.min()), int(n_atoms.max())] if len(n_atoms) else [],
            "schemes": self.scheme_counts(),
            "systems": dict(Counter(self.categorical("system").tolist())),
            "label_sets": label_sets,
            "history": [
                {k: v for k, v in entry.items() if k != "indices"} for entry in self.history()
            ],
        }

    def status_counts(self, name: str) -> dict[str, int]:
        """Frames of a label set in each status (pending, ok, failed-physics, failed-infra)."""
        status = self._read(self._label_group(name)["status"], slice(0, self.n_frames))
        counts = np.bincount(status.astype(np.int64), minlength=len(Status))
        return {s.text: int(counts[s]) for s in Status}


@dataclass
class LabelArrays:
    """Labels of selected frames; per-atom values are ragged by ``atom_ptr``. Error, times and
    host are None when read without costs."""

    status: np.ndarray
    error: np.ndarray | None
    wall_s: np.ndarray | None
    cpu_s: np.ndarray | None
    host: np.ndarray | None
    values: dict[str, np.ndarray]
    atom_ptr: np.ndarray

    def __getitem__(self, prop: str) -> np.ndarray:
        """A stored property, or a derived one (``energy_per_atom``, ``hydrostatic_stress``)."""
        if prop == "energy_per_atom" and "energy" in self.values:
            return energy_per_atom(self.values["energy"], np.diff(self.atom_ptr))
        if prop == "hydrostatic_stress" and "stress" in self.values:
            return hydrostatic_stress(self.values["stress"])
        if prop not in self.values:
            raise InputError(f"no '{prop}' labels (have: {', '.join(sorted(self.values))})")
        return self.values[prop]

    def frame(self, i: int) -> dict[str, np.ndarray | float]:
        """Frame ``i``'s stored labels (its atoms' rows of per-atom ones), leaving out those it
        does not have (NaN)."""
        found: dict[str, np.ndarray | float] = {}
        for prop, values in self.values.items():
            if prop in PER_ATOM:
                value = values[self.atom_ptr[i] : self.atom_ptr[i + 1]]
            else:
                value = values[i] if values.ndim > 1 else float(values[i])
            if not np.isnan(value).any():
                found[prop] = value
        return found

    def attach(self, atoms: Atoms, i: int, as_calculator: bool = False) -> None:
        """Put frame ``i``'s labels on ``atoms`` if they are ``ok`` (see :meth:`Store.atoms`)."""
        if self.status[i] != Status.OK:
            return
        results = {}
        for prop, value in self.frame(i).items():
            if as_calculator and prop in REF_KEYS:
                results[prop] = value
            elif prop in PER_ATOM:
                atoms.arrays[REF_KEYS.get(prop, prop)] = value
            else:
                atoms.info[REF_KEYS.get(prop, prop)] = value
        if results:
            atoms.calc = SinglePointCalculator(atoms, **results)
