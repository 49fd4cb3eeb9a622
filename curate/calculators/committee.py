"""Force disagreement of a committee of potentials on the same frames.

For a committee of M potentials with forces F_m on an atom, the disagreement is
σ = sqrt((1/M) Σ_m |F_m − F̄|²) (eV/Å), the RMS over models of the deviation from the mean force
(DP-GEN's per-atom ``devi_f``); a frame's ``max_devi_f`` is its largest σ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from curate.calculators.backends import build_calculator
from curate.calculators.spec import parse_spec
from curate.core.errors import InputError


def atom_disagreement(forces: np.ndarray) -> np.ndarray:
    """Per-atom disagreement (eV/Å) of committee forces ``[models, ..., 3]`` → ``[...]``."""
    forces = np.asarray(forces, dtype=np.float64)
    if forces.ndim < 2 or forces.shape[-1] != 3:
        raise InputError(f"committee forces must be [models, ..., 3], got shape {forces.shape}")
    deviation = forces - forces.mean(axis=0)
    return np.sqrt((deviation**2).sum(axis=-1).mean(axis=0))


@dataclass
class Disagreement:
    """Per-atom disagreement of some frames, ragged by ``ptr`` (atoms ``ptr[i]:ptr[i+1]`` are
    frame ``i``), and the committee mean force of every atom."""

    per_atom: np.ndarray
    ptr: np.ndarray
    mean_forces: np.ndarray

    def __len__(self) -> int:
        return len(self.ptr) - 1

    @classmethod
    def from_forces(cls, forces: Sequence[np.ndarray]) -> Disagreement:
        """From each frame's committee forces ``[models, atoms, 3]``."""
        if not len(forces):
            return cls(np.zeros(0), np.zeros(1, np.int64), np.zeros((0, 3)))
        per_atom = np.concatenate([atom_disagreement(f) for f in forces])
        counts = [np.shape(f)[1] for f in forces]
        mean = np.concatenate([np.asarray(f, dtype=np.float64).mean(axis=0) for f in forces])
        return cls(per_atom, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), mean)

    @property
    def max(self) -> np.ndarray:
        """Largest per-atom disagreement of each frame (``max_devi_f``)."""
        return np.maximum.reduceat(self.per_atom, self.ptr[:-1]) if len(self) else np.zeros(0)

    @property
    def mean(self) -> np.ndarray:
        """Mean per-atom disagreement of each frame."""
        if not len(self):
            return np.zeros(0)
        return np.add.reduceat(self.per_atom, self.ptr[:-1]) / np.diff(self.ptr)


def committee_forces(frames: Sequence[Atoms], models: Sequence[str]) -> list[np.ndarray]:
    """Forces ``[models, atoms, 3]`` of each frame from every committee member (calculator specs
    such as ``mace:PATH``), each member built once."""
    per_model = []
    for model in models:
        calc = build_calculator(parse_spec(model))
        per_model.append([calc.get_forces(bare(frame)) for frame in frames])
    return [np.stack([forces[i] for forces in per_model]) for i in range(len(frames))]


def committee_disagreement(frames: Sequence[Atoms], models: Sequence[str]) -> Disagreement:
    """The committee's disagreement on ``frames``."""
    if len(models) < 2:
        raise InputError(f"a committee needs at least two models, got {len(models)}")
    return Disagreement.from_forces(committee_forces(frames, models))


def bare(frame: Atoms) -> Atoms:
    """A calculator-free copy, so a committee member computes afresh."""
    atoms = frame.copy()
    atoms.calc = None
    return atoms
