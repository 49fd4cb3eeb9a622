"""Crystal symmetry: the space group a structure has, and a copy of it with that symmetry exact.

Structures from files and from relaxations carry float noise (CIF coordinates rounded to a few
decimals; a calculator in float32 breaking a mirror by 1e-6 Å during an optimisation). spglib
finds the space group at a tolerance that survives it (``SYMPREC``); :func:`symmetrized` then
moves every atom (by less than that) onto the exactly symmetric positions, so phonopy and symfc,
which map atoms onto each other under the operations far more strictly, see the same group.
"""

from __future__ import annotations

from ase import Atoms

from curate.core.errors import InputError

SYMPREC = 1e-3
"""Å: the distance within which spglib takes two sites to be images of each other."""
EXACT = 1e-8
"""Å: a structure keeps its space group at this tolerance only when symmetrised exactly."""


def _dataset(atoms: Atoms, symprec: float, label: str):
    import warnings

    import spglib

    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    reason = "overlapping sites or a degenerate cell"
    try:
        with warnings.catch_warnings():  # spglib warns about its own error-handling mode
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    except Exception as exc:  # spglib's own error type, where it raises
        dataset, reason = None, str(exc).strip().splitlines()[0] or reason
    if dataset is None:
        raise InputError(
            f"{label}: spglib finds no space group at a tolerance of {symprec} Å ({reason})"
        )
    return dataset


def space_group(atoms: Atoms, symprec: float = SYMPREC, label: str = "structure") -> str | None:
    """The space group of ``atoms`` at ``symprec``, as 'Fd-3m (227)'; None unless periodic in
    all three directions."""
    if not atoms.pbc.all():
        return None
    dataset = _dataset(atoms, symprec, label)
    return f"{dataset.international} ({dataset.number})"


def symmetrized(atoms: Atoms, symprec: float = SYMPREC, label: str = "structure") -> Atoms:
    """A copy of ``atoms`` with the cell and positions of its space group at ``symprec`` made
    exact (ASE's ``refine_symmetry``); atoms move by less than ``symprec``. Structures not
    periodic in all three directions are copied as they are."""
    from ase.spacegroup.symmetrize import refine_symmetry

    exact = atoms.copy()
    if not atoms.pbc.all():
        return exact
    _dataset(atoms, symprec, label)
    refine_symmetry(exact, symprec=symprec)
    return exact


def is_exactly_symmetric(atoms: Atoms, symprec: float = SYMPREC) -> bool:
    """Whether the group ``atoms`` has at ``symprec`` holds to ``EXACT``."""
    return space_group(atoms, symprec) == space_group(atoms, EXACT)
