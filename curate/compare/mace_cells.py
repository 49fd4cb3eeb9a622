"""MACE cells of the learning-curve grid: one MACE potential per (scheme, size, seed), trained by
``mace_run_train`` on the cell's training and validation frames, then scored on what an
interatomic potential is for: energy per atom, force components, the stress tensor and its
hydrostatic part, on every test set and the reference.

One model serves every target, so the grid trains a cell once however many targets it reports.
Force truths of a frame are its 3N components flattened, padded with NaN to the largest frame of
the store (NaN is never scored); stresses are Voigt components in GPa with ASE's sign.

Light to import: MACE and torch load in the worker processes (``mace_run_train`` runs in a
subprocess of its own).
"""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.compare.family import (
    ALL_TARGETS,
    Fit,
    FitTarget,
    ModelFamily,
    Task,
    TrainingOptions,
)
from curate.core.errors import InputError
from curate.core.labels import EV_PER_A3_TO_GPA, Status

if TYPE_CHECKING:
    import numpy as np
    from ase import Atoms

    from curate.potentials.mace import MACESettings
    from curate.store import Store

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
DEFAULTS = {"lr": 0.01, "max_epochs": 60, "patience": 15}
"""Training options of MACE cells when none is given (about 3 min for 40 Ag3SBr frames on one
CPU thread)."""


def not_predicted(what: str) -> str:
    """The one line that refuses targets a potential does not predict."""
    return (
        f"a MACE potential predicts {', '.join(MLIP_TARGETS)}, not {what}; "
        "use a property model (--model schnet) for other targets"
    )


def target_values(store: Store, target: str, label_set: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame truths of an MLIP target (rows of components for forces and stress) and which
    frames are ``ok`` with a value."""
    import numpy as np

    if target not in MLIP_TARGETS:
        raise InputError(not_predicted(f"'{target}'"))
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
    from curate.potentials.mace import MACESettings

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
    from curate.potentials.mace import eval_records

    records = [r for r in eval_records(results) if r.get("epoch") is not None]
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
    from curate.potentials.mace import last_eval, mace_arguments, train_member

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


def write_fit_data(store: Store, folder: Path, split: dict[str, np.ndarray], label_set: str):
    """A MACE fit's training and validation frames as extxyz with ``REF_*`` labels."""
    from curate.store.extxyz import export_extxyz

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("train", "val"):
        path = folder / ("valid.xyz" if name == "val" else "train.xyz")
        export_extxyz(store, path, label_set, indices=split[name])


class MACEFamily(ModelFamily):
    """MACE potentials, one per (scheme, size, seed) for every target: :func:`train_mlip_cell`
    on the fit's extxyz files, predicting the frames shared with every worker."""

    name = "mace"
    label = "MACE"
    summary = "mace (a MACE potential per cell, scored on energy, forces and stress)"
    default_targets = DEFAULT_MLIP_TARGETS
    training_defaults = DEFAULTS

    def models(self) -> tuple[str, ...]:
        return ("mace",)

    def check_targets(self, targets: tuple[str, ...]) -> None:
        unknown = [t for t in targets if t not in MLIP_TARGETS]
        if unknown:
            raise ValueError(not_predicted(", ".join(unknown)))

    def fits(self, targets: tuple[str, ...]) -> list[FitTarget]:
        return [FitTarget(ALL_TARGETS, tuple(targets), TRAINED_ON)]

    target_values = staticmethod(target_values)

    def train_settings(
        self, options: TrainingOptions, target: str, seed: int, label_set: str
    ) -> MACESettings:
        return mace_settings(
            options.hidden, options.max_epochs, options.lr, options.batch_size, options.patience
        )

    def reference_data(self, store: Store, options: TrainingOptions) -> list[Atoms]:
        return store.atoms()

    def prepare(self, store: Store, folder: Path, fit: Fit, label_set: str) -> None:
        write_fit_data(store, folder, fit.split, label_set)

    def worker_inputs(
        self, store: Store, evaluate_on: np.ndarray, values: dict, options: TrainingOptions
    ) -> dict[str, Any]:
        return {"frames": store.atoms(evaluate_on)}

    def task(self, fit: Fit, shared: dict[str, Any], folder: Path, evaluate_on: np.ndarray) -> Task:
        args = (
            str(folder),
            fit.config,
            fit.cells[0].seed,
            len(fit.split["train"]),
            shared["frames"],
            shared["reference"],
        )
        return train_mlip_cell, args

    def unit(self, target: str) -> str:
        return MLIP_TARGETS.get(target, super().unit(target))


FAMILY = MACEFamily()
