"""The energy a set's energies are measured from: the relaxed structure when it can be had with
the labels' own calculator, else the lowest-energy labelled frame."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from ase import Atoms

from curate.calculators import CalculatorSpec, build_calculator, parse_spec
from curate.core.errors import CurateError


@dataclass(frozen=True)
class EnergyReference:
    """Energy per atom (eV/atom) of a system's reference, and which reference it is."""

    system: str
    energy_per_atom: float
    kind: Literal["relaxed", "lowest-frame"]

    def as_dict(self) -> dict:
        return {"energy_per_atom": self.energy_per_atom, "kind": self.kind}


def energy_references(
    frames: Sequence[Atoms], energies: np.ndarray, label_spec: str | None
) -> dict[str, EnergyReference]:
    """Per system name, the reference for ``energies`` (eV/atom, NaN where unlabelled).

    ``relaxed``: every labelled frame of the system was drawn from a structure relaxed with the
    calculator ``label_spec`` (canonical spec JSON) names; its energy is one single-point
    calculation on that relaxed structure (from the relaxation cache). ``lowest-frame``:
    otherwise, the lowest labelled energy per atom of the system, which lies above the true
    minimum, so energies above it are underestimates.
    """
    by_system: dict[str, list[int]] = {}
    for i, atoms in enumerate(frames):
        if np.isfinite(energies[i]):
            by_system.setdefault(atoms.info.get("system", ""), []).append(i)
    references = {}
    for system, members in by_system.items():
        relaxed = relaxed_energy([frames[i] for i in members], label_spec)
        if relaxed is not None:
            references[system] = EnergyReference(system, relaxed, "relaxed")
        else:
            lowest = float(np.min(energies[members]))
            references[system] = EnergyReference(system, lowest, "lowest-frame")
    return references


def relaxed_energy(frames: Sequence[Atoms], label_spec: str | None) -> float | None:
    """Energy per atom of the relaxed structure all ``frames`` derive from, computed with the
    labels' calculator, or None when the frames do not share one relaxed with that calculator."""
    from curate.systems.builtin import SystemSpec, build_system
    from curate.systems.relax import relaxed_system

    if label_spec is None:
        return None
    systems = {json.dumps(a.info.get("params", {}).get("system"), sort_keys=True) for a in frames}
    if len(systems) != 1:
        return None
    system = json.loads(systems.pop())
    if not isinstance(system, dict) or not system.get("relaxed_with"):
        return None
    spec = CalculatorSpec.model_validate_json(label_spec)
    try:
        if parse_spec(system["relaxed_with"]).canonical() != spec.canonical():
            return None
        built = SystemSpec(**{k: v for k, v in system.items() if k != "relaxed_with"})
        atoms, _ = build_system(
            built.source or built.name,
            built.supercell,
            0.5 if built.br_fraction is None else built.br_fraction,
            built.occupation_seed or 0,
        )
        relaxed = relaxed_system(atoms, built, spec)
    except (CurateError, TypeError):  # a system this curate cannot rebuild
        return None
    relaxed.calc = build_calculator(spec)
    return float(relaxed.get_potential_energy()) / len(relaxed)
