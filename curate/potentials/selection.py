"""Pick frames to label: uncertain, new to the training set, and diverse among themselves.

Each candidate goes through three gates, in order, and the first it fails is its reason:

1. ``below threshold``: its committee disagreement (``max_devi_f``, or a calibrated error) is
   under ``threshold`` (or, with ``upper``, ``above upper threshold``: MD that has left the
   physical region, DP-GEN's upper trust level);
2. ``no new information``: every one of its atomic environments is already covered by the
   training set (QUESTS dH ≤ 0 for all atoms; see :mod:`curate.metrics.information`);
3. ``not chosen by FPS``: farthest-point sampling on per-structure QUESTS vectors (the mean
   descriptor of each species) fills the batch, starting from the most uncertain candidate and
   then always taking the candidate farthest from everything picked so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from curate.core.errors import InputError
from curate.metrics.descriptors import DescriptorSettings, Environments, environments
from curate.metrics.information import NOVELTY_TOLERANCE, novelty
from curate.metrics.settings import DEFAULT_BANDWIDTH
from curate.potentials.uncertainty import Calibration

CHOSEN = "chosen"
BELOW = "below threshold"
ABOVE = "above upper threshold"
KNOWN = "no new information"
NOT_FPS = "not chosen by FPS"
REASONS = (CHOSEN, BELOW, ABOVE, KNOWN, NOT_FPS)


def farthest_point_sampling(
    vectors: np.ndarray,
    n: int,
    start: int = 0,
    exclude: np.ndarray | None = None,
    min_distance: float = 0.0,
) -> np.ndarray:
    """Greedy farthest-point order of up to ``n`` rows of ``vectors`` (Euclidean), from row
    ``start``; rows in ``exclude`` (a boolean mask) are never taken, and the order stops early
    when every remaining row lies within ``min_distance`` of a picked one (exact duplicates are
    never picked twice)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    allowed = np.ones(len(vectors), bool) if exclude is None else ~np.asarray(exclude, bool)
    if not allowed.any() or n < 1:
        return np.zeros(0, np.int64)
    if not allowed[start]:
        raise InputError(f"FPS cannot start from excluded row {start}")
    picked = [start]
    distance = np.linalg.norm(vectors - vectors[start], axis=1)
    distance[~allowed] = -np.inf
    distance[start] = -np.inf
    while len(picked) < min(n, int(allowed.sum())):
        k = int(np.argmax(distance))
        if distance[k] <= min_distance:
            break
        picked.append(k)
        distance = np.minimum(distance, np.linalg.norm(vectors - vectors[k], axis=1))
        distance[picked] = -np.inf
        distance[~allowed] = -np.inf
    return np.array(picked, np.int64)


def frame_novelty(
    candidates: Environments, training: Environments, bandwidth: float = DEFAULT_BANDWIDTH
) -> np.ndarray:
    """Largest QUESTS dH (nats) of each candidate frame's environments relative to the training
    environments: ≤ 0 when every environment of the frame is covered."""
    dh = novelty(candidates.x, training.x, bandwidth)
    return np.maximum.reduceat(dh, candidates.ptr[:-1])


@dataclass
class Selection:
    """The chosen candidates (indices, in pick order) and, for every candidate, its reason,
    disagreement and frame novelty (dH, nats; NaN where not computed)."""

    chosen: np.ndarray
    reasons: list[str]
    disagreement: np.ndarray
    novelty: np.ndarray

    def counts(self) -> dict[str, int]:
        """Candidates per reason."""
        return {r: self.reasons.count(r) for r in REASONS}

    def dropped(self, reason: str) -> np.ndarray:
        """Indices of the candidates with ``reason``."""
        return np.array([i for i, r in enumerate(self.reasons) if r == reason], np.int64)

    def as_dict(self) -> dict:
        return {
            "chosen": self.chosen.tolist(),
            "counts": self.counts(),
            "candidates": [
                {
                    "index": i,
                    "reason": r,
                    "disagreement": float(d),
                    "novelty": None if np.isnan(h) else float(h),
                }
                for i, (r, d, h) in enumerate(
                    zip(self.reasons, self.disagreement, self.novelty, strict=True)
                )
            ],
        }


def select(
    candidates: Sequence[Atoms],
    disagreement: np.ndarray,
    n: int,
    threshold: float,
    training: Sequence[Atoms] | Environments | None = None,
    upper: float | None = None,
    calibration: Calibration | None = None,
    settings: DescriptorSettings | None = None,
    bandwidth: float = DEFAULT_BANDWIDTH,
) -> Selection:
    """Up to ``n`` candidates whose ``disagreement`` (one value per frame, eV/Å) lies in
    [``threshold``, ``upper``), that bring environments new to ``training`` (frames or their
    environments; None or empty skips the check), spread by farthest-point sampling. With a
    ``calibration``, the thresholds are force errors (eV/Å) compared with s·disagreement."""
    disagreement = np.asarray(disagreement, dtype=np.float64)
    if calibration is not None:
        threshold = calibration.threshold(threshold)
        upper = None if upper is None else calibration.threshold(upper)
    if len(disagreement) != len(candidates):
        raise InputError(f"{len(candidates)} candidates but {len(disagreement)} disagreements")
    if n < 1:
        raise InputError(f"batch size must be at least 1, got {n}")
    if upper is not None and upper <= threshold:
        raise InputError(f"upper threshold {upper} must exceed the threshold {threshold}")
    settings = settings or DescriptorSettings()
    reasons = [BELOW] * len(candidates)
    dh = np.full(len(candidates), np.nan)
    eligible = disagreement >= threshold
    if upper is not None:
        above = disagreement >= upper
        for i in np.flatnonzero(above):
            reasons[i] = ABOVE
        eligible &= ~above
    idx = np.flatnonzero(eligible)
    if not len(idx):
        return Selection(np.zeros(0, np.int64), reasons, disagreement, dh)
    envs = environments([candidates[i] for i in idx], settings)
    if training is not None and len(training):
        known = training if isinstance(training, Environments) else environments(training, settings)
        dh[idx] = frame_novelty(envs, known, bandwidth)
        new = dh[idx] > NOVELTY_TOLERANCE
    else:
        new = np.ones(len(idx), bool)
    for i in idx[~new]:
        reasons[i] = KNOWN
    if not new.any():
        return Selection(np.zeros(0, np.int64), reasons, disagreement, dh)
    species = np.unique(envs.numbers)
    vectors = envs.structure_vectors(species)
    start = int(np.argmax(np.where(new, disagreement[idx], -np.inf)))
    picked = idx[farthest_point_sampling(vectors, n, start, exclude=~new)]
    for i in idx[new]:
        reasons[i] = NOT_FPS
    for i in picked:
        reasons[i] = CHOSEN
    return Selection(picked, reasons, disagreement, dh)
