"""MACE cells of the learning-curve grid: one MACE potential per (scheme, size, seed), trained by
``mace_run_train`` on the cell's training and validation frames, then scored on what an
interatomic potential is for: energy per atom, force components, the stress tensor and its
hydrostatic part, on every test set and the reference.

One model serves every target, so the grid trains a cell once however many targets it reports.
Force truths of a frame are its 3N components flattened, padded with NaN to the largest frame of
the store (NaN is never scored); stresses are Voigt components in GPa with ASE's sign.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from curate.core.errors import InputError
from curate.core.labels import EV_PER_A3_TO_GPA, Status
from curate.potentials.mace import MACESettings, last_eval, mace_arguments, train_member
from curate.store import Store

MLIP_MODELS = ("mace",)
MLIP_TARGETS = {
    "energy_per_atom": "eV/atom",
    "forces": "eV/Angstrom",
    "stress": "GPa",
    "hydrostatic_stress": "GPa",
}
"""What a potential predicts, with the units the comparison reports them in."""
DEFAULT_MLIP_TARGETS = ("energy_per_atom", "forces", "stress")
TRAINED_ON = ("energy_per_atom", "forces")
"""Truths that decide a MACE cell (its cache key): what ``mace_run_train`` fits."""
MODEL_FILE = "model.model"


def is_mlip(model: str) -> bool:
    """Whether ``model`` names an interatomic potential rather than a property GNN."""
    return model in MLIP_MODELS


def target_values(store: Store, target: str, label_set: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame truths of an MLIP target (rows of components for forces and stress) and which
    frames are ``ok`` with a value."""
    if target not in MLIP_TARGETS:
        raise InputError(
            f"a MACE potential predicts {', '.join(MLIP_TARGETS)}, not '{target}'; "
            "use a property model (--model schnet) for other targets"
        )
    labels = store.labels(label_set)
    if target == "forces":
        flat = labels["forces"]
        ptr = labels.atom_ptr
        counts = 3 * np.diff(ptr)
        values = np.full((store.n_frames, int(counts.max(initial=0))), np.nan)
        for i, (lo, hi) in enumerate(itertools.pairwise(ptr)):
            values[i, : counts[i]] = flat[lo:hi].ravel()
    elif target == "stress":
        values = np.asarray(labels["stress"], dtype=np.float64) * EV_PER_A3_TO_GPA
    else:
        values = np.asarray(labels[target], dtype=np.float64)
    finite = np.isfinite(values).any(axis=1) if values.ndim == 2 else np.isfinite(values)
    return values, (labels.status == Status.OK) & finite


def as_rows(predictions: list, width: int) -> np.ndarray:
    """Per-frame prediction lists as rows padded with NaN to ``width`` (scalars stay 1-D)."""
    if not predictions or not isinstance(predictions[0], list):
        return np.asarray(predictions, dtype=np.float64)
    rows = np.full((len(predictions), width), np.nan)
    for i, row in enumerate(predictions):
        rows[i, : len(row)] = row
    return rows


CELL_CHANNELS = 16
ENERGY_WEIGHT = 30.0
"""Energy weight of MACE cells against MACE's forces weight of 100: cells are scored on energies
too, and at a weight of 1 (``curate train-mlip``'s, for committees that must get forces right)
30 epochs on 36 Ag3SBr frames left an energy RMSE of 98 meV/atom where 30 gave 1.0, with the same
force RMSE (70 meV/Å)."""


def mace_settings(
    channels: int | None, epochs: int, lr: float, batch_size: int, patience: int
) -> MACESettings:
    """The MACE model of a learning-curve cell: ``curate train-mlip``'s model (16 channels
    unless given) with the grid's epochs, learning rate, batch size and early-stopping patience,
    energies weighted to be learnt, on the CPU."""
    return MACESettings(
        channels=channels or CELL_CHANNELS,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        patience=patience,
        energy_weight=ENERGY_WEIGHT,
        device="cpu",
    )


def predict_frames(model: Path, frames: list[Atoms], dtype: str) -> dict[str, list]:
    """Every MLIP target of ``frames`` as the model predicts it (forces flattened per frame)."""
    from curate.calculators import build_calculator, parse_spec
    from curate.calculators.committee import bare

    calc = build_calculator(parse_spec(f"mace:{model}", {"default_dtype": dtype, "device": "cpu"}))
    out: dict[str, list] = {t: [] for t in MLIP_TARGETS}
    for frame in frames:
        atoms = bare(frame)
        atoms.calc = calc
        stress = atoms.get_stress(voigt=True) * EV_PER_A3_TO_GPA
        out["energy_per_atom"].append(atoms.get_potential_energy() / len(atoms))
        out["forces"].append(atoms.get_forces().ravel().tolist())
        out["stress"].append(stress.tolist())
        out["hydrostatic_stress"].append(float(stress[:3].mean()))
    return out


def epochs_run(results: Path) -> tuple[int, int]:
    """Epochs MACE ran and the epoch of its lowest validation loss (the model it keeps)."""
    records = []
    for path in sorted(results.glob("*_train.txt")):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("mode") == "eval" and record.get("epoch") is not None:
                records.append(record)
    if not records:
        return 0, 0
    best = min(records, key=lambda r: r["loss"])
    return int(records[-1]["epoch"]), int(best["epoch"])


def train_mlip_cell(
    folder: str | Path,
    settings: MACESettings,
    seed: int,
    n_train: int,
    evaluate: list[Atoms],
    reference: list[Atoms] | None,
) -> dict[str, Any]:
    """Train one MACE model (on a worker) on ``folder/train.xyz`` and ``folder/valid.xyz``;
    keep it as ``folder/model.model`` and predict every MLIP target of ``evaluate`` and
    ``reference``."""
    start = time.perf_counter()
    folder = Path(folder).resolve()
    run = folder / "run"
    args = mace_arguments(
        settings,
        "model",
        seed,
        folder / "train.xyz",
        folder / "valid.xyz",
        run,
        "cpu",
        n_train,
    )
    outcome = train_member(args, run)
    model = folder / MODEL_FILE
    shutil.move(outcome["model"], model)
    epochs, best = epochs_run(run / "results")
    valid = last_eval(run / "results")
    shutil.rmtree(run / "checkpoints", ignore_errors=True)
    tests = predict_frames(model, evaluate, settings.dtype)
    refs = predict_frames(model, reference, settings.dtype) if reference else None
    return {
        "targets": {
            t: {"tests": tests[t], "reference": None if refs is None else refs[t]}
            for t in MLIP_TARGETS
        },
        "epochs": epochs,
        "best_epoch": best,
        "valid_last_epoch": valid,
        "seconds": round(time.perf_counter() - start, 3),
    }
