"""The sampler registry: each scheme a small class registered under its name; a new scheme is
one module and one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from curate.core.errors import InputError
from curate.samplers.base import Sampler, SamplerParams
from curate.samplers.mc_rattle import MCRattle
from curate.samplers.molecular_dynamics import MLIPMolecularDynamics, MolecularDynamics
from curate.samplers.phonon import PhononDisplacements
from curate.samplers.random_displacement import RandomDisplacements

SAMPLERS: Final[dict[str, type[Sampler]]] = {
    RandomDisplacements.name: RandomDisplacements,
    PhononDisplacements.name: PhononDisplacements,
    MolecularDynamics.name: MolecularDynamics,
    MLIPMolecularDynamics.name: MLIPMolecularDynamics,
    MCRattle.name: MCRattle,
}


def get_sampler(name: str, params: SamplerParams | Mapping[str, Any] | None = None) -> Sampler:
    """The sampler registered as ``name`` with validated parameters."""
    if name not in SAMPLERS:
        raise InputError(f"unknown scheme '{name}' (known: {', '.join(sorted(SAMPLERS))})")
    return SAMPLERS[name](params)


__all__ = ["SAMPLERS", "Sampler", "SamplerParams", "get_sampler"]
