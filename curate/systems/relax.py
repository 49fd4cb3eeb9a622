"""Relaxing a system with a calculator (cell and positions), cached per system and calculator,
so samplers start from the calculator's own equilibrium."""

from __future__ import annotations

from ase import Atoms
from ase.filters import FrechetCellFilter
from ase.io import read, write
from ase.optimize import BFGS

from curate.calculators import CalculatorSpec, build_calculator
from curate.core.cache import cache_root
from curate.core.errors import InputError
from curate.core.identity import cache_key
from curate.systems.builtin import SystemSpec

DEFAULT_FMAX = 1e-3
"""eV/Å; the cell filter scales stress into the same units."""


def relax(
    atoms: Atoms, spec: CalculatorSpec, fmax: float = DEFAULT_FMAX, steps: int = 1000
) -> Atoms:
    """Positions and cell relaxed with BFGS on a Fréchet cell filter until forces (and the
    scaled stress) fall below ``fmax``; raises InputError if that takes more than ``steps``."""
    relaxed = atoms.copy()
    relaxed.calc = build_calculator(spec)
    optimizer = BFGS(FrechetCellFilter(relaxed), logfile=None)
    try:
        converged = optimizer.run(fmax=fmax, steps=steps)
    except Exception as exc:  # the calculator cannot handle this system
        raise InputError(
            f"relaxation with {spec.text} failed: {type(exc).__name__}: {exc}"
        ) from None
    if not converged:
        raise InputError(f"relaxation with {spec.text} did not converge in {steps} steps")
    relaxed.info["relaxed_with"] = spec.text
    relaxed.info["relax_steps"] = optimizer.nsteps
    energy = relaxed.get_potential_energy()
    relaxed.calc = None
    relaxed.info["relaxed_energy"] = float(energy)
    return relaxed


def relaxed_system(
    atoms: Atoms, system: SystemSpec, spec: CalculatorSpec, fmax: float = DEFAULT_FMAX
) -> Atoms:
    """``atoms`` (built from ``system``) relaxed with ``spec``, from the cache when there."""
    key = cache_key(
        system.as_dict(),
        spec.canonical(),
        fmax,
        arrays=(atoms.numbers, atoms.positions, atoms.cell.array),
    )
    path = cache_root("relaxed") / f"{system.name}-{key}.json"
    if path.exists():
        return read(path, format="json")
    relaxed = relax(atoms, spec, fmax)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    write(tmp, relaxed, format="json")
    tmp.replace(path)
    return relaxed
