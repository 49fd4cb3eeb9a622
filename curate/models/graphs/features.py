"""Node features from pymatgen's element table: atomic number, atomic mass (u), atomic radius (Å)
and Pauling electronegativity, the four the paper uses."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from curate.core.errors import InputError

FEATURES = ("atomic_number", "atomic_mass", "atomic_radius", "electronegativity")


@functools.cache
def element_features(z: int) -> tuple[float, float, float, float]:
    """The four features of element ``z``; InputError if the table lacks one of them."""
    from pymatgen.core.periodic_table import Element

    try:
        element = Element.from_Z(z)
    except ValueError:
        raise InputError(f"no element with atomic number {z}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns before returning NaN electronegativity
        values = (
            float(z),
            float(element.atomic_mass),
            float(element.atomic_radius) if element.atomic_radius is not None else np.nan,
            float(element.X),
        )
    missing = [name for name, v in zip(FEATURES, values, strict=True) if not np.isfinite(v)]
    if missing:
        raise InputError(
            f"element {element.symbol} has no {' or '.join(missing)} in pymatgen's table; "
            "graph features cannot be built for it"
        )
    return values


def node_features(numbers: np.ndarray) -> np.ndarray:
    """Feature rows [N, 4] (float32) for atomic numbers [N]."""
    numbers = np.asarray(numbers, dtype=np.int64)
    unique, inverse = np.unique(numbers, return_inverse=True)
    table = np.array([element_features(int(z)) for z in unique], dtype=np.float32)
    return table.reshape(-1, len(FEATURES))[inverse]
