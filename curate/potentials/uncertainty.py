"""Calibration of committee force disagreement (:mod:`curate.calculators.committee`) against true
force errors.

Calibration treats the error of the committee mean force, component by component, as Gaussian
with standard deviation s·σ/√3 (σ spread evenly over three components) and fits the one scale s by
maximum likelihood: s² = mean(e² / (σ/√3)²). The calibrated RMS error of an atom's force vector
is then s·σ, so a target force error ε (eV/Å) maps to the disagreement threshold ε / s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from curate.calculators.committee import committee_disagreement
from curate.core.errors import InputError

N_LEVELS = 100
"""Confidence levels on which the miscalibration area is integrated (uncertainty-toolbox's
default)."""


def _components(sigma: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat per-component errors and their σ: errors shaped ``sigma.shape + (d,)`` are vectors
    whose d components each get σ/√d; errors shaped like ``sigma`` are single components."""
    sigma = np.asarray(sigma, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    if errors.shape == sigma.shape:
        per = sigma
    elif errors.shape[:-1] == sigma.shape:
        d = errors.shape[-1]
        per = np.repeat((sigma / np.sqrt(d))[..., None], d, axis=-1)
    else:
        raise InputError(f"errors of shape {errors.shape} do not match σ of shape {sigma.shape}")
    per, err = per.ravel(), errors.ravel()
    keep = np.isfinite(per) & np.isfinite(err)
    if not keep.any():
        raise InputError("no finite (σ, error) pairs to calibrate on")
    if (per[keep] <= 0).any():
        raise InputError("calibration needs σ > 0 everywhere (a committee that agrees exactly)")
    return per[keep], err[keep]


def fit_scale(sigma: np.ndarray, errors: np.ndarray) -> float:
    """Maximum-likelihood s for errors ~ N(0, (s·σ)²): s = sqrt(mean(e²/σ²))."""
    per, err = _components(sigma, errors)
    return float(np.sqrt(np.mean((err / per) ** 2)))


def calibration_curve(
    sigma: np.ndarray, errors: np.ndarray, levels: int = N_LEVELS
) -> tuple[np.ndarray, np.ndarray]:
    """Expected and observed fractions of errors inside the central Gaussian intervals of σ, on
    ``levels`` confidence levels from 0 to 1."""
    from scipy.stats import norm

    per, err = _components(sigma, errors)
    expected = np.linspace(0.0, 1.0, levels)
    z = norm.ppf(0.5 + expected / 2)  # half-width of the central interval, in σ
    ratio = np.abs(err) / per
    observed = (ratio[None, :] <= z[:, None]).mean(axis=1)
    return expected, observed


def miscalibration_area(sigma: np.ndarray, errors: np.ndarray, levels: int = N_LEVELS) -> float:
    """Area between the observed and expected interval coverage over confidence levels (0 for
    perfect calibration, at most 0.5), as in uncertainty-toolbox."""
    expected, observed = calibration_curve(sigma, errors, levels)
    return float(np.trapezoid(np.abs(observed - expected), expected))


@dataclass(frozen=True)
class Calibration:
    """A scale s from committee disagreement σ to the expected force error s·σ (eV/Å), with the
    miscalibration area before (s = 1) and after scaling, and the number of force components."""

    scale: float
    area_raw: float
    area: float
    n: int

    def error(self, sigma: np.ndarray | float) -> np.ndarray | float:
        """Calibrated RMS force error (eV/Å) for a disagreement σ."""
        return self.scale * np.asarray(sigma) if np.ndim(sigma) else self.scale * float(sigma)

    def threshold(self, target_error: float) -> float:
        """Disagreement (eV/Å) at which the calibrated force error reaches ``target_error``."""
        if not target_error > 0:
            raise InputError(f"target force error must be positive, got {target_error}")
        return float(target_error) / self.scale

    def as_dict(self) -> dict:
        return {
            "scale": self.scale,
            "miscalibration_area_raw": self.area_raw,
            "miscalibration_area": self.area,
            "n_components": self.n,
        }


def calibrate(sigma: np.ndarray, errors: np.ndarray) -> Calibration:
    """Fit s on per-atom disagreement ``sigma`` and force errors (``[..., 3]`` vectors or
    per-component, see :func:`fit_scale`)."""
    scale = fit_scale(sigma, errors)
    per, err = _components(sigma, errors)
    return Calibration(
        scale=scale,
        area_raw=miscalibration_area(per, err),
        area=miscalibration_area(scale * per, err),
        n=len(err),
    )


def calibrate_on_probe(
    models: Sequence[str], frames: Sequence[Atoms], true_forces: Sequence[np.ndarray]
) -> Calibration:
    """Calibrate a committee on labelled probe frames: the errors are those of the committee's
    mean force against ``true_forces`` (one ``[atoms, 3]`` array per frame)."""
    if len(frames) != len(true_forces):
        raise InputError(f"{len(frames)} probe frames but {len(true_forces)} force arrays")
    d = committee_disagreement(frames, models)
    errors = d.mean_forces - np.concatenate([np.asarray(f, dtype=np.float64) for f in true_forces])
    return calibrate(d.per_atom, errors)


def calibrate_on_store(
    models: Sequence[str],
    store_path: str | Path,
    label_set: str,
    frames: Sequence[int] | np.ndarray | None = None,
) -> Calibration:
    """Calibrate a committee on a store's frames labelled ``ok`` with forces in ``label_set``
    (all of them, or those of ``frames``): keep the probe out of the committee's training set."""
    from curate.core.labels import Status
    from curate.store import Store

    with Store.open(store_path) as store:
        indices = np.arange(store.n_frames) if frames is None else np.asarray(frames, np.int64)
        labels = store.labels(label_set, indices)
        if "forces" not in labels.values:
            raise InputError(f"label set '{label_set}' has no forces to calibrate on")
        ok = np.flatnonzero(labels.status == Status.OK)
        if not len(ok):
            raise InputError(f"no frames labelled ok in '{label_set}' to calibrate on")
        atoms = store.atoms(indices[ok])
    forces = [labels.frame(i)["forces"] for i in ok]
    return calibrate_on_probe(models, atoms, forces)
