"""Small labelled stores for the GNN tests, written straight through the Store API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.calculators.emt import EMT

from curate.calculators import parse_spec
from curate.core.labels import LabelResult, Status
from curate.core.provenance import Provenance
from curate.store import Store
from curate.store.label_sets import create_label_set


def strained_frames(symbol: str, n: int, seed: int, repeat: int = 1) -> list:
    """``n`` rattled, isotropically strained fcc cells (4·repeat³ atoms each)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk(symbol, "fcc", cubic=True).repeat(repeat)
        atoms.set_cell(atoms.cell * rng.uniform(0.97, 1.04), scale_atoms=True)
        atoms.positions += rng.normal(0.0, rng.uniform(0.02, 0.15), atoms.positions.shape)
        frames.append(atoms)
    return frames


def labelled_store(
    path: Path,
    frames: list,
    calculator: Calculator | None = None,
    n_ok: int | None = None,
    provenance: Provenance | list[Provenance] | None = None,
    cpu_s: float = float("nan"),
) -> Path:
    """A store of ``frames`` labelled (energy, forces, stress) by ``calculator`` (EMT); only the
    first ``n_ok`` frames get labels, the rest stay pending. Each label records ``cpu_s``."""
    emt = calculator is None
    calculator = calculator or EMT()
    results = []
    for i, atoms in enumerate(frames[:n_ok]):
        atoms = atoms.copy()
        atoms.calc = calculator
        values = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        results.append(LabelResult(i, Status.OK, values, wall_s=cpu_s, cpu_s=cpu_s))
    with Store.create(path) as store:
        store.append(frames, provenance or Provenance(scheme="random", system="test", seed=0))
        if emt:  # as curate label makes it, so the labeller can go on with it
            create_label_set(store, parse_spec("emt"), "emt")
        else:
            store.create_label_set("emt", "emt", ["energy", "forces", "stress"])
        store.write_labels("emt", results)
    return path
