"""One descriptor vector per frame, for choosing among frames: QUESTS (each species' mean
environment, as the active loop uses) or SOAP from dscribe (the power spectrum averaged over the
frame's atoms, the descriptor of libAtoms workflow and autoplex)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from ase import Atoms

from curate.core.errors import InputError
from curate.metrics.descriptors import environments
from curate.metrics.settings import DescriptorSettings

from .settings import SoapSettings


def frame_vectors(
    frames: Sequence[Atoms],
    descriptor: Literal["quests", "soap"],
    quests: DescriptorSettings | None = None,
    soap: SoapSettings | None = None,
) -> np.ndarray:
    """``[frames, features]`` descriptor matrix of ``frames``."""
    if not len(frames):
        raise InputError("no frames to describe")
    if descriptor == "soap":
        return soap_vectors(frames, soap or SoapSettings())
    envs = environments(frames, quests or DescriptorSettings())
    return envs.structure_vectors(np.unique(envs.numbers))


def soap_vectors(frames: Sequence[Atoms], settings: SoapSettings) -> np.ndarray:
    """Frame-averaged SOAP power spectra (dscribe, ``average="inner"``)."""
    try:
        from dscribe.descriptors import SOAP
    except ImportError:
        raise InputError("the soap descriptor needs dscribe: pip install 'curate[soap]'") from None
    species = sorted({int(z) for atoms in frames for z in atoms.numbers})
    periodic = all(atoms.pbc.all() for atoms in frames)
    soap = SOAP(
        species=species,
        r_cut=settings.r_cut,
        n_max=settings.n_max,
        l_max=settings.l_max,
        sigma=settings.sigma,
        periodic=periodic,
        average="inner",
    )
    return np.asarray(soap.create(list(frames)), dtype=np.float64).reshape(len(frames), -1)
