"""The model families a comparison can train, in one place: ``settings.model`` names a model of
one of them (``mace`` a MACE potential, ``schnet`` or ``paper-1`` … ``paper-6`` a property GNN).

A new family is one module with a :class:`curate.compare.family.ModelFamily` (see that module)
and its line in :data:`FAMILIES`.
"""

from __future__ import annotations

from curate.compare import mace_cells, property_cells
from curate.compare.family import ModelFamily

FAMILIES: dict[str, ModelFamily] = {
    property_cells.FAMILY.name: property_cells.FAMILY,
    mace_cells.FAMILY.name: mace_cells.FAMILY,
}
"""Family name → family, in the order help texts and errors list them."""


def find_family(model: str) -> ModelFamily | None:
    """The family that trains ``model``, or None."""
    return next((f for f in FAMILIES.values() if model in f.models()), None)


def family_of(model: str) -> ModelFamily:
    """The family that trains ``model``; a model none of them knows is a ``ValueError`` (the
    settings' check of ``model``)."""
    family = find_family(model)
    if family is None:
        known = [name for f in FAMILIES.values() for name in f.models()]
        raise ValueError(f"unknown model '{model}' (models: {', '.join(known)})")
    return family
