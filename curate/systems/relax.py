"""Relaxing a system with a calculator (cell and positions) within its space group, cached per
system and calculator, so samplers start from the calculator's own equilibrium."""

from __future__ import annotations

import warnings

from ase import Atoms
from ase.constraints import FixSymmetry
from ase.filters import FrechetCellFilter
from ase.io import read, write
from ase.optimize import BFGS

from curate.calculators import CalculatorSpec
from curate.calculators.backends import cached_calculator
from curate.core.cache import cache_root
from curate.core.errors import InputError
from curate.core.identity import cache_key
from curate.systems.builtin import SystemSpec
from curate.systems.symmetry import SYMPREC, space_group, symmetrized

DEFAULT_FMAX = 1e-3
"""eV/Å; the cell filter scales stress into the same units."""


def relax(
    atoms: Atoms, spec: CalculatorSpec, fmax: float = DEFAULT_FMAX, steps: int = 1000
) -> Atoms:
    """Positions and cell relaxed with BFGS on a Fréchet cell filter until forces (and the
    scaled stress) fall below ``fmax``, keeping the space group ``atoms`` has at ``SYMPREC``
    (ASE's FixSymmetry; the result is symmetrised exactly); raises InputError if that takes
    more than ``steps``. ``info`` records the space group before and after, and the steps."""
    group = space_group(atoms, label="structure to relax")
    relaxed = symmetrized(atoms)
    if group is not None:
        relaxed.set_constraint(FixSymmetry(relaxed, symprec=SYMPREC))
    relaxed.calc = cached_calculator(spec, reset=True)
    optimizer = BFGS(FrechetCellFilter(relaxed), logfile=None)
    try:
        with warnings.catch_warnings():  # scipy's logm accuracy notes on a near-identity cell
            warnings.filterwarnings("ignore", "logm result may be inaccurate")
            converged = optimizer.run(fmax=fmax, steps=steps)
    except Exception as exc:  # the calculator cannot handle this system
        raise InputError(
            f"relaxation with {spec.text} failed: {type(exc).__name__}: {exc}"
        ) from None
    if not converged:
        raise InputError(f"relaxation with {spec.text} did not converge in {steps} steps")
    energy = relaxed.get_potential_energy()
    relaxed.calc = None
    relaxed.set_constraint()
    relaxed = symmetrized(relaxed)
    relaxed.info.update(
        relaxed_with=spec.text,
        relax_steps=optimizer.nsteps,
        relaxed_energy=float(energy),
        space_group_before=group,
        space_group=space_group(relaxed),
    )
    return relaxed


def relaxed_system(
    atoms: Atoms, system: SystemSpec, spec: CalculatorSpec, fmax: float = DEFAULT_FMAX
) -> Atoms:
    """``atoms`` (built from ``system``) relaxed with ``spec``, from the cache when there."""
    key = cache_key(
        system.as_dict(),
        spec.canonical(),
        fmax,
        "fix-symmetry",
        SYMPREC,
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
