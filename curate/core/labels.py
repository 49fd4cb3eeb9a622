"""The label contract: property names, shapes, units, status codes and derived targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

EV_PER_A3_TO_GPA = 160.21766208


class Status(IntEnum):
    """Labelling state of one frame in one label set."""

    PENDING = 0
    OK = 1
    FAILED_PHYSICS = 2
    FAILED_INFRA = 3

    @property
    def text(self) -> str:
        return self.name.lower().replace("_", "-")


PER_ATOM = {"forces": (3,)}
"""Per-atom properties and their trailing shapes."""

PER_FRAME = {"energy": (), "stress": (6,), "band_gap": (), "vbm": (), "cbm": ()}
"""Per-frame properties the calculators give, with their trailing shapes. Stress is Voigt
(xx, yy, zz, yz, xz, xy) in eV/Å³ with ASE's sign; energies in eV."""

REF_KEYS = {"energy": "REF_energy", "forces": "REF_forces", "stress": "REF_stress"}
"""Where energy, forces and stress live on an Atoms or in extxyz (MACE's default keys, which ASE's
reader never turns into a calculator); other properties keep their own names."""

UNITS = {
    "energy": "eV",
    "forces": "eV/Angstrom",
    "stress": "eV/Angstrom^3",
    "band_gap": "eV",
    "vbm": "eV",
    "cbm": "eV",
    "energy_per_atom": "eV/atom",
    "hydrostatic_stress": "GPa",
}


def property_shape(name: str) -> tuple[str, tuple[int, ...]]:
    """(dimension, trailing shape) of a property; unknown names are per-frame scalars."""
    if name in PER_ATOM:
        return "atom", PER_ATOM[name]
    return "frame", PER_FRAME.get(name, ())


@dataclass
class LabelResult:
    """What labelling one frame produced: values of the properties the calculator gives, or an
    error. A property the calculator cannot give is absent from ``values``, never zero."""

    frame: int
    status: Status
    values: dict[str, np.ndarray | float] = field(default_factory=dict)
    error: str = ""
    wall_s: float = float("nan")
    cpu_s: float = float("nan")
    host: str = ""


def energy_per_atom(energy: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
    """Energy per atom (eV/atom)."""
    return energy / n_atoms


def hydrostatic_stress(stress: np.ndarray) -> np.ndarray:
    """Mean of the Voigt diagonal in GPa, ASE sign (positive is tensile; pressure is minus this)."""
    return stress[..., :3].mean(axis=-1) * EV_PER_A3_TO_GPA
