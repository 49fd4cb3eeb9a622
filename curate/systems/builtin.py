"""Built-in systems: the cubic Pm-3m silver chalcogenide antiperovskites of Benítez et al.

Ag3SX (X = Br, I): S at the octahedral centre (½,½,½), Ag at the face centres, the halide at the
cube corners, so the Ag–S bond is a/2. The reference 5-atom cells in ``datasets/`` carry the lattice
constants relaxed with the default oracle (CHGNet 0.3.0); Br/I solid solutions take Vegard's law and
a seeded random occupation of the halide sublattice.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
from ase import Atoms

from curate.core.errors import InputError
from curate.systems.structures import read_structure
from curate.systems.symmetry import symmetrized

BUILTIN_SYSTEMS = ("Ag3SBr", "Ag3SI", "Ag3SBrI")
"""Names accepted wherever a system is; anything else must be a structure file."""

DEFAULT_SUPERCELL = 2


@dataclass(frozen=True)
class SystemSpec:
    """How a system was built: enough to build it again."""

    name: str
    supercell: int
    br_fraction: float | None = None
    occupation_seed: int | None = None
    source: str | None = None
    relaxed_with: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def reference_cell(halide: str) -> Atoms:
    """The 5-atom cubic Ag3S<halide> cell shipped in ``datasets/``."""
    return read_structure(files("curate.datasets") / f"Ag3S{halide}.cif")


def lattice_constant(atoms: Atoms) -> float:
    """Cubic lattice constant of a primitive cubic cell."""
    return float(atoms.cell.lengths()[0])


def antiperovskite(
    br_fraction: float, supercell: int = DEFAULT_SUPERCELL, occupation_seed: int = 0
) -> Atoms:
    """Ag3S(Br_x I_1-x) supercell with a Vegard lattice and a seeded random halide occupation.

    The number of Br sites is ``round(x · n_halide)``; the fraction actually built is in
    ``atoms.info["br_fraction"]``.
    """
    if not 0.0 <= br_fraction <= 1.0:
        raise InputError(f"--br-fraction must lie in [0, 1], got {br_fraction}")
    if supercell < 1:
        raise InputError(f"--supercell must be at least 1, got {supercell}")
    cell_br, cell_i = reference_cell("Br"), reference_cell("I")
    a = br_fraction * lattice_constant(cell_br) + (1 - br_fraction) * lattice_constant(cell_i)
    atoms = cell_br.repeat(supercell)
    atoms.set_cell(np.eye(3) * a * supercell, scale_atoms=True)
    halide = np.flatnonzero(atoms.symbols == "Br")
    n_br = round(br_fraction * len(halide))
    iodide = np.random.default_rng(occupation_seed).permutation(halide)[n_br:]
    atoms.symbols[np.sort(iodide)] = "I"
    atoms.info["br_fraction"] = n_br / len(halide)
    return atoms


def build_system(
    name: str | Path,
    supercell: int | None = None,
    br_fraction: float = 0.5,
    occupation_seed: int = 0,
) -> tuple[Atoms, SystemSpec]:
    """A built-in system by name, or the structure in a file (repeated ``supercell`` times).

    Built-in systems default to the 2×2×2 supercell (40 atoms); files default to the cell as
    given, with the space group found at ``SYMPREC`` made exact (the sites move by less).
    """
    if str(name) in BUILTIN_SYSTEMS:
        n = DEFAULT_SUPERCELL if supercell is None else supercell
        if name == "Ag3SBrI":
            atoms = antiperovskite(br_fraction, n, occupation_seed)
            spec = SystemSpec(str(name), n, atoms.info["br_fraction"], occupation_seed)
        else:
            atoms = antiperovskite(1.0 if name == "Ag3SBr" else 0.0, n)
            spec = SystemSpec(str(name), n)
        atoms.info.clear()
        return atoms, spec
    path = Path(name)
    if not path.exists():
        raise InputError(
            f"unknown system '{name}': not one of {', '.join(BUILTIN_SYSTEMS)} and no such file"
        )
    n = 1 if supercell is None else supercell
    if n < 1:
        raise InputError(f"--supercell must be at least 1, got {n}")
    atoms = symmetrized(read_structure(path), label=str(path))
    atoms.info.clear()
    atoms.calc = None
    return atoms.repeat(n), SystemSpec(path.stem, n, source=str(path))
