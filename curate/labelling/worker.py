"""The labeller contract, run where the work happens: frames in, one LabelResult per frame out.

Energy, forces and stress come from the calculator when it implements them; ``band_gap``, ``vbm``
and ``cbm`` from ASE's band-gap utility whenever the calculator exposes eigenvalues. A property
the calculator cannot give is left out. An exception while labelling a frame, or a value that is
not finite, is that frame's physics failure, recorded with its message; the other frames go on.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Sequence

import numpy as np
import psutil
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError

from curate.calculators.backends import (
    cached_calculator,
    forget_calculator,
    unsupported_properties,
)
from curate.calculators.spec import CalculatorSpec
from curate.core.labels import LabelResult, Status


def warm_up(spec: CalculatorSpec) -> str:
    """Build (and cache) the calculator in this process; returns the class name built."""
    return type(cached_calculator(spec)).__name__


def compute_labels(
    calc: Calculator, atoms: Atoms, skip: frozenset[str] = frozenset()
) -> dict[str, np.ndarray | float]:
    """Every property ``calc`` gives for ``atoms`` (but those in ``skip``); raises whatever the
    calculator raises, and ValueError naming any property that is NaN or infinite."""
    atoms = atoms.copy()
    atoms.calc = calc
    values: dict[str, np.ndarray | float] = {"energy": float(atoms.get_potential_energy())}
    implemented = set(getattr(calc, "implemented_properties", ())) - skip
    if "forces" in implemented:
        values["forces"] = np.array(atoms.get_forces(), dtype=float)
    if "stress" in implemented and atoms.pbc.all():
        with contextlib.suppress(PropertyNotImplementedError, NotImplementedError):
            values["stress"] = np.array(atoms.get_stress(voigt=True), dtype=float)
    values.update(band_edges(calc))
    bad = [name for name, value in values.items() if not np.isfinite(value).all()]
    if bad:
        raise ValueError(f"the calculator returned non-finite {', '.join(bad)}")
    return values


def band_edges(calc: Calculator) -> dict[str, float]:
    """Band gap, VBM and CBM (eV) from the calculator's eigenvalues; empty without them.

    A metal has a gap of 0 and no band edges.
    """
    if not callable(getattr(calc, "get_eigenvalues", None)):
        return {}
    from ase.dft.bandgap import bandgap

    try:
        gap, vbm_at, cbm_at = bandgap(calc, output=None)
    except (PropertyNotImplementedError, NotImplementedError, AttributeError):
        return {}
    edges = {"band_gap": float(gap)}
    if gap > 0:
        for name, (spin, kpt, band) in (("vbm", vbm_at), ("cbm", cbm_at)):
            edges[name] = float(calc.get_eigenvalues(kpt=kpt, spin=spin)[band])
    return edges


def cpu_seconds() -> float:
    """CPU time of this process and of its child processes, live or reaped: an oracle that
    computes in a child (CP2K's shell) is counted, as is a worker's own Python side."""
    me = psutil.Process()
    spent = me.cpu_times()
    total = spent.user + spent.system + spent.children_user + spent.children_system
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = child.cpu_times()
            total += times.user + times.system
    return total


def label_frames(spec: CalculatorSpec, frames: Sequence[tuple[int, Atoms]]) -> list[LabelResult]:
    """Label ``(store index, atoms)`` pairs with ``spec``; never raises for a frame's failure."""
    calc = cached_calculator(spec)
    skip = unsupported_properties(spec)
    host = socket.gethostname()
    results = []
    for index, atoms in frames:
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            values, status, error = compute_labels(calc, atoms, skip), Status.OK, ""
        except Exception as exc:  # any calculator error is this frame's physics failure
            message = str(exc).strip().splitlines()
            values, status = {}, Status.FAILED_PHYSICS
            error = f"{type(exc).__name__}: {message[0] if message else ''}".rstrip(": ")
            forget_calculator(spec)
            calc = cached_calculator(spec)
        results.append(
            LabelResult(
                frame=index,
                status=status,
                values=values,
                error=error,
                wall_s=time.perf_counter() - wall,
                cpu_s=cpu_seconds() - cpu,
                host=host,
            )
        )
    return results
