"""QUESTS descriptors of atomic environments, kept with the frame each environment belongs to.

QUESTS (Schwalbe-Koda et al., Nat. Commun. 2025) describes an atom by its k nearest neighbours:
the k smooth-cutoff inverse distances to them (x1) and the k − 1 averaged inverse distances
between them (x2), a 2k − 1 vector in Å⁻¹ that ignores species. Periodic images count.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from curate.core.errors import InputError
from curate.metrics.settings import DescriptorSettings


@dataclass
class Environments:
    """Descriptors of every atom of some frames: rows ``ptr[i]:ptr[i+1]`` are frame ``i``."""

    x: np.ndarray
    numbers: np.ndarray
    ptr: np.ndarray

    def __len__(self) -> int:
        return len(self.ptr) - 1

    @property
    def n_environments(self) -> int:
        return len(self.x)

    def subset(self, frames: Sequence[int] | np.ndarray) -> Environments:
        """The environments of the selected frames, in that order."""
        frames = np.asarray(frames, dtype=np.int64)
        counts = np.diff(self.ptr)[frames]
        rows = np.concatenate(
            [np.arange(self.ptr[f], self.ptr[f + 1]) for f in frames] or [np.zeros(0, int)]
        )
        return Environments(
            self.x[rows], self.numbers[rows], np.concatenate([[0], np.cumsum(counts)])
        )

    def structure_vectors(self, species: Sequence[int]) -> np.ndarray:
        """One vector per frame: the mean descriptor of each species' atoms, species after
        species (zeros for a species the frame lacks)."""
        frame_of = np.repeat(np.arange(len(self)), np.diff(self.ptr))
        d = self.x.shape[1]
        out = np.zeros((len(self), len(species) * d))
        for s, z in enumerate(species):
            mask = self.numbers == z
            sums = np.zeros((len(self), d))
            np.add.at(sums, frame_of[mask], self.x[mask])
            counts = np.bincount(frame_of[mask], minlength=len(self))[:, None]
            out[:, s * d : (s + 1) * d] = sums / np.maximum(counts, 1)
        return out


def environments(frames: Sequence[Atoms], settings: DescriptorSettings) -> Environments:
    """QUESTS descriptors of every atom of ``frames`` (fully periodic frames see their images;
    others are treated as molecules)."""
    from numba.core.errors import NumbaTypeSafetyWarning
    from quests.descriptor import get_descriptors

    if not len(frames):
        raise InputError("no frames to describe")
    counts = np.array([len(atoms) for atoms in frames], dtype=np.int64)
    with warnings.catch_warnings():
        # quests casts a uint64 bin index to int64 inside numba; harmless, but noisy on stderr.
        warnings.simplefilter("ignore", NumbaTypeSafetyWarning)
        x = get_descriptors(list(frames), k=settings.k, cutoff=settings.cutoff)
    return Environments(
        np.ascontiguousarray(x),
        np.concatenate([atoms.numbers for atoms in frames]),
        np.concatenate([[0], np.cumsum(counts)]),
    )
