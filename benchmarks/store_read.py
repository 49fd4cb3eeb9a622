"""Reading labelled frames: the curate store against ase.io.read of the same extended XYZ.

Builds N 40-atom Ag3SBr random-displacement frames labelled with energies and forces from ASE's
Lennard-Jones calculator (a real calculator, cheap enough for 10,000 frames), writes them to a
store and, through ``curate export``, to extxyz, then times reading everything back three ways:

* baseline: ``ase.io.read(file, ":")`` (frames as Atoms with REF_energy / REF_forces);
* store as arrays: positions, numbers, cells, offsets, energies and forces as numpy arrays;
* store as Atoms: ``Store.atoms(label_set=...)``, each frame an Atoms with REF_energy in
  ``info`` and REF_forces in ``arrays``, as ASE's reader gives them;
* store as Atoms with calculators: the same with ``as_calculator=True``.

Each timing is the best of ``--repeats`` runs; ratios are baseline time / store time. JSON out.

    python benchmarks/store_read.py --frames 10000 --out benchmarks/results/store_read.json
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import numpy as np
from ase.calculators.lj import LennardJones
from ase.io import read
from report import write_report
from rich.progress import track

from curate.core.labels import LabelResult, Status
from curate.samplers.registry import get_sampler
from curate.store import Store
from curate.store.extxyz import export_extxyz
from curate.systems.builtin import build_system


def build(workdir: Path, n_frames: int) -> tuple[Path, Path]:
    """The labelled store and its extxyz export (reused when already there)."""
    store_path, xyz_path = workdir / f"bench-{n_frames}.zarr", workdir / f"bench-{n_frames}.xyz"
    if xyz_path.exists() and Store.open(store_path).n_frames == n_frames:
        return store_path, xyz_path
    reference, _ = build_system("Ag3SBr")
    frames, provenance = get_sampler("random").sample(reference, n_frames, seed=0, system="Ag3SBr")
    calc = LennardJones(sigma=2.5, epsilon=0.1, rc=6.0)
    results = []
    for i, atoms in enumerate(track(frames, description="labelling (Lennard-Jones)")):
        atoms.calc = calc
        values = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
        results.append(LabelResult(i, Status.OK, values))
        atoms.calc = None
    with Store.create(store_path) as store:
        store.append(frames, provenance)
        store.create_label_set("lj", "ase:ase.calculators.lj.LennardJones", ["energy", "forces"])
        store.write_labels("lj", results)
        export_extxyz(store, xyz_path, "lj")
    return store_path, xyz_path


def best_of(repeats: int, read, fingerprint) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    """Best time of ``read()``, and the (energies, forces) it returned. Nothing a reader built
    stays alive while the next one is timed, so no reader pays for another's garbage."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = read()
        times.append(time.perf_counter() - start)
        energies_forces = fingerprint(result)
        del result
    return min(times), energies_forces


def read_arrays(path: Path) -> tuple:
    store = Store.open(path)
    labels = store.labels("lj")
    return store.arrays(), labels["energy"], labels["forces"]


def from_info(frames: list) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([f.info["REF_energy"] for f in frames]),
        np.concatenate([f.arrays["REF_forces"] for f in frames]),
    )


def from_calculator(frames: list) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([f.get_potential_energy() for f in frames]),
        np.concatenate([f.get_forces() for f in frames]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/work"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/store_read.json"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    store_path, xyz_path = build(args.workdir, args.frames)

    t_ase, ase_read = best_of(args.repeats, lambda: read(xyz_path, ":"), from_info)
    t_arrays, arrays = best_of(args.repeats, lambda: read_arrays(store_path), lambda r: r[1:])
    t_atoms, atoms = best_of(
        args.repeats, lambda: Store.open(store_path).atoms(label_set="lj"), from_info
    )
    t_calc, with_calc = best_of(
        args.repeats,
        lambda: Store.open(store_path).atoms(label_set="lj", as_calculator=True),
        from_calculator,
    )

    # The readers must agree before their speeds mean anything.
    assert len(ase_read[0]) == args.frames
    for other in (arrays, atoms, with_calc):
        assert all(np.array_equal(a, b) for a, b in zip(ase_read, other, strict=True))

    report = {
        "benchmark": "store_read",
        "frames": args.frames,
        "atoms_per_frame": 40,
        "repeats": args.repeats,
        "seconds": {
            "ase_read_extxyz": t_ase,
            "store_arrays": t_arrays,
            "store_atoms": t_atoms,
            "store_atoms_with_calculator": t_calc,
        },
        "ratio_vs_ase_read": {
            "arrays": t_ase / t_arrays,
            "atoms": t_ase / t_atoms,
            "atoms_with_calculator": t_ase / t_calc,
        },
        "goal": {"arrays": 20, "atoms": 5},
        "extxyz_mb": xyz_path.stat().st_size / 1e6,
    }
    write_report(report, args.out)


if __name__ == "__main__":
    main()
