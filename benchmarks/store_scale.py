"""A store growing to 10⁶ frames: append with labels, read back as arrays, as ``Atoms`` and by
random index, per frame and in peak memory at each checkpoint, against ASE's database.

Frames are synthetic: 40–200 atoms of up to four species at random positions in their cell, with
random energies, forces and stresses (the bytes a labelled store holds, not physics). They are
appended in batches (``--batch``) together with their labels, as ``curate label`` streams them.
At every checkpoint (``--checkpoints``, frames in the store) the last batch's append time (and
the mean over all batches since the previous checkpoint), then reads of one batch of frames as
arrays (``Store.arrays`` + ``Store.labels``) and as ``Atoms``, and of ``--random`` frames at
random indices, are timed, each with its peak resident memory
(``VmHWM`` after resetting it, less the resident memory before the call; Linux). Random picks
share chunks while the store is small; the worst case, frames that each sit in a chunk of their
own (one random frame in each of up to ``--random`` distinct frame chunks, repeated until at
least 100 frames are read), is timed beside them. Files on disk are counted.

Baseline: the same frames in an ASE database (SQLite, ``ase.db``) up to ``--ase-limit`` frames,
written and read back into the same flat arrays (positions, numbers, cell, energy, forces,
stress), once each in the same process, and the same random frames read as ``Atoms`` with their
labels, one row lookup each.

    python benchmarks/store_scale.py --checkpoints 10000,100000,1000000 \\
        --out benchmarks/results/store_scale.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from report import write_report

SPECIES = np.array([47, 16, 35, 53], dtype=np.uint8)  # Ag, S, Br, I


def synthetic(rng: np.random.Generator, n: int):
    """``n`` frames with labels: (Atoms list, LabelResult-ready values)."""
    from ase import Atoms

    frames, values = [], []
    for _ in range(n):
        atoms_n = int(rng.integers(40, 201))
        side = 2.6 * atoms_n ** (1 / 3)
        atoms = Atoms(
            numbers=rng.choice(SPECIES, atoms_n),
            positions=rng.uniform(0, side, (atoms_n, 3)),
            cell=np.eye(3) * side,
            pbc=True,
        )
        frames.append(atoms)
        values.append(
            {
                "energy": float(rng.normal(-3 * atoms_n, 1)),
                "forces": rng.normal(0, 0.5, (atoms_n, 3)),
                "stress": rng.normal(0, 0.01, 6),
            }
        )
    return frames, values


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measured(fn):
    """(seconds, peak resident MiB during the call above what the process held before it,
    result)."""
    reset_peak()
    held = status_mib("VmRSS")
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, status_mib("VmHWM") - held, result


def file_count(path: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(path))


def append_batch(store, frames, values) -> None:
    from curate.core.labels import LabelResult, Status
    from curate.core.provenance import Provenance

    added = store.append(frames, Provenance(scheme="random", system="synthetic"))
    store.write_labels(
        "synthetic",
        [
            LabelResult(int(i), Status.OK, values[k])
            for i, k in zip(added.indices, added.kept, strict=True)
        ],
    )


def read_batch_arrays(store, start: int, batch: int) -> int:
    idx = np.arange(start, start + batch)
    data, labels = store.arrays(idx), store.labels("synthetic", idx)
    return len(data.positions) + len(labels["forces"])


def sparse_picks(n: int, most: int, seed: int) -> np.ndarray:
    """One random frame in each of up to ``most`` distinct frame chunks, sorted."""
    from curate.store.zarr_store import FRAME_CHUNK

    rng = np.random.default_rng([n, seed])
    chunks = rng.choice(-(-n // FRAME_CHUNK), min(most, -(-n // FRAME_CHUNK)), replace=False)
    return np.sort(
        np.minimum(chunks * FRAME_CHUNK + rng.integers(0, FRAME_CHUNK, len(chunks)), n - 1)
    )


def ase_db_rows(path: Path, frames, values) -> None:
    import ase.db
    from ase.calculators.singlepoint import SinglePointCalculator

    with ase.db.connect(path) as db:
        for atoms, v in zip(frames, values, strict=True):
            atoms = atoms.copy()
            atoms.calc = SinglePointCalculator(atoms, **v)
            db.write(atoms)


def ase_db_read_arrays(path: Path, limit: int) -> int:
    """The rows as the flat arrays ``Store.arrays`` + ``Store.labels`` give."""
    import ase.db

    keys = ("positions", "numbers", "cell", "energy", "forces", "stress")
    columns: dict[str, list] = {k: [] for k in keys}
    with ase.db.connect(path) as db:
        for row in db.select(limit=limit):
            for key, values in columns.items():
                values.append(getattr(row, key))
    flat = {
        k: np.concatenate(v) if k in ("positions", "numbers", "forces") else np.array(v)
        for k, v in columns.items()
    }
    return len(flat["positions"]) + len(flat["forces"])


def ase_db_random_atoms(path: Path, picks: np.ndarray) -> int:
    """The frames at ``picks`` as ``Atoms`` with their labels, one row lookup each."""
    import ase.db

    with ase.db.connect(path) as db:
        frames = [db.get_atoms(id=int(p) + 1, add_additional_information=True) for p in picks]
    return len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", default="10000,100000,1000000")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--random", type=int, default=1000)
    parser.add_argument("--ase-limit", type=int, default=100000)
    parser.add_argument("--dir", type=Path, default=None, help="where the stores go (temp)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/store_scale.json"))
    args = parser.parse_args()
    from curate.store import Store

    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    root = Path(tempfile.mkdtemp(dir=args.dir))
    rng = np.random.default_rng(0)
    rows, ase_rows = [], []
    db_path = root / "baseline.db"
    try:
        with Store.create(root / "scale.zarr") as store:
            store.create_label_set("synthetic", "synthetic", ["energy", "forces", "stress"])
            for checkpoint in checkpoints:
                last, segment_s, segment_frames = None, 0.0, 0
                while store.n_frames < checkpoint:
                    frames, values = synthetic(rng, min(args.batch, checkpoint - store.n_frames))
                    last = measured(lambda f=frames, v=values: append_batch(store, f, v))
                    last = (*last[:2], len(frames))
                    segment_s, segment_frames = segment_s + last[0], segment_frames + len(frames)
                    if store.n_frames <= args.ase_limit:
                        ase_db_rows(db_path, frames, values)
                n = store.n_frames
                start = n - args.batch
                arrays = measured(lambda s=start: read_batch_arrays(store, s, args.batch))
                as_atoms = measured(
                    lambda s=start: store.atoms(np.arange(s, s + args.batch), "synthetic")
                )
                picks = np.random.default_rng(n).choice(n, args.random, replace=False)
                randomly = measured(lambda p=picks: store.atoms(p, "synthetic"))
                first = sparse_picks(n, args.random, 0)
                alone = [sparse_picks(n, args.random, r) for r in range(-(-100 // len(first)))]
                sparse = [measured(lambda p=p: store.atoms(p, "synthetic")) for p in alone]
                row = {
                    "frames": n,
                    "atoms": store.n_atoms,
                    "append_us_per_frame": 1e6 * last[0] / last[2],
                    "append_us_per_frame_since_last_checkpoint": 1e6 * segment_s / segment_frames,
                    "append_peak_mib": last[1],
                    "read_arrays_us_per_frame": 1e6 * arrays[0] / args.batch,
                    "read_arrays_peak_mib": arrays[1],
                    "read_atoms_us_per_frame": 1e6 * as_atoms[0] / args.batch,
                    "read_atoms_peak_mib": as_atoms[1],
                    "random_atoms_us_per_frame": 1e6 * randomly[0] / args.random,
                    "random_atoms_peak_mib": randomly[1],
                    "random_own_chunk_us_per_frame": 1e6
                    * sum(m[0] for m in sparse)
                    / sum(len(p) for p in alone),
                    "random_own_chunk_frames": sum(len(p) for p in alone),
                    "process_rss_mib": status_mib("VmRSS"),
                    "files": file_count(root / "scale.zarr"),
                    "disk_mib": sum(
                        f.stat().st_size for f in (root / "scale.zarr").rglob("*") if f.is_file()
                    )
                    / 2**20,
                }
                if n <= args.ase_limit:
                    seconds, _, _ = measured(lambda n=n: ase_db_read_arrays(db_path, n))
                    whole, _, _ = measured(lambda n=n: read_batch_arrays(store, 0, n))
                    row["ase_db_read_arrays_us_per_frame"] = 1e6 * seconds / n
                    row["curate_read_all_arrays_us_per_frame"] = 1e6 * whole / n
                    row["ratio_read_arrays_vs_ase_db"] = seconds / whole
                    lookups, _, _ = measured(lambda p=picks: ase_db_random_atoms(db_path, p))
                    row["ase_db_random_atoms_us_per_frame"] = 1e6 * lookups / args.random
                    ase_rows.append(n)
                print(row, flush=True)
                rows.append(row)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write_report(
        {
            "benchmark": "store_scale",
            "batch": args.batch,
            "random_reads": args.random,
            "atoms_per_frame": [40, 200],
            "rows": rows,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
