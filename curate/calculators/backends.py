"""Building live ASE calculators from specs. Each backend imports its package lazily; a missing
package is an InputError that names what to install."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import warnings
from typing import Any

from ase.calculators.calculator import Calculator

from curate.calculators.spec import CalculatorSpec
from curate.core.chatter import muted
from curate.core.devices import resolve_device
from curate.core.errors import InputError

PACKAGES = {
    "chgnet": ("chgnet", "chgnet"),
    "mace": ("mace", "mace-torch==0.3.16"),
    "gpaw": ("gpaw", "curate[dft]"),
}
"""kind: (module it needs, what to pip install for it)."""

GPAW_DEFAULTS: dict[str, Any] = {
    "mode": "lcao",
    "basis": "dzp",
    "xc": "PBE",
    "kpts": {"size": (2, 2, 2), "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.05},
    "txt": None,
}
"""LCAO gives energies, forces and eigenvalues (so band gaps) cheaply; pass ``mode: pw`` (with an
``ecut``) for stress. PBE because the gpaw-data wheel ships PBE, LDA and revPBE setups only."""


def unsupported_properties(spec: CalculatorSpec) -> frozenset[str]:
    """Properties a backend lists but cannot give in this configuration (GPAW's LCAO mode has
    no stress), so they are left out rather than failing every frame."""
    if spec.kind == "gpaw":
        mode = {**GPAW_DEFAULTS, **spec.kwargs}["mode"]
        name = mode.get("name") if isinstance(mode, dict) else mode
        if name == "lcao":
            return frozenset({"stress"})
    return frozenset()


def require_backend(spec: CalculatorSpec) -> None:
    """Raise InputError now, on the client, if the spec's package is not importable."""
    if spec.kind in PACKAGES:
        module, install = PACKAGES[spec.kind]
        if importlib.util.find_spec(module) is None:
            raise InputError(
                f"calculator '{spec.kind}' needs the {module} package: pip install '{install}'"
            )
    if spec.kind == "cp2k":
        import shutil

        from curate.calculators.cp2k import SHELL, Cp2kSettings

        if shutil.which(SHELL) is None:
            raise InputError(
                f"calculator 'cp2k' needs CP2K's {SHELL} on PATH (Debian: apt-get install cp2k)"
            )
        Cp2kSettings.build("cp2k --kwargs", **spec.kwargs)
    if spec.kind == "ase":
        module_name, _, cls = spec.target.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"cannot import {module_name} for '{spec.text}': {exc}") from None
        if not isinstance(getattr(module, cls, None), type):
            raise InputError(f"{module_name} has no calculator class {cls}")


def build_calculator(spec: CalculatorSpec) -> Calculator:
    """A live calculator for ``spec``. What the backend prints while it loads is logged at debug
    level (:mod:`curate.core.chatter`)."""
    require_backend(spec)
    if spec.kind in ("chgnet", "mace"):
        from curate.core.cluster import apply_worker_threads

        apply_worker_threads()
    with muted(spec.text):
        try:
            return _build(spec)
        except TypeError as exc:  # unknown keyword arguments
            raise InputError(f"cannot build '{spec.text}': {exc}") from None


def _build(spec: CalculatorSpec) -> Calculator:
    kwargs = dict(spec.kwargs)
    match spec.kind:
        case "chgnet":
            from chgnet.model import CHGNet

            from curate.calculators.chgnet import InferenceCHGNet

            # CHGNet 0.4 warns on every prediction about a tensor it builds from its own volumes.
            warnings.filterwarnings("ignore", "Converting a tensor with requires_grad")
            # Our MD holds the centre of mass with ASE's FixCom, which pymatgen's structure
            # (CHGNet's input) cannot carry; the forces CHGNet returns do not depend on it.
            warnings.filterwarnings("ignore", "Only FixAtoms and FixCartesian is supported")

            model = CHGNet.load(verbose=False)
            return InferenceCHGNet(model=model, use_device=resolve_device(), **kwargs)
        case "emt":
            from ase.calculators.emt import EMT

            return EMT(**kwargs)
        case "mace":
            # mace sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD, which torch then warns about on every
            # load. Its note about an optional GPU library on first import is muted with the
            # rest.
            warnings.filterwarnings("ignore", "Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY")
            from mace.calculators import MACECalculator

            kwargs.setdefault("default_dtype", "float64")
            kwargs.setdefault("device", resolve_device())
            return MACECalculator(model_paths=spec.target, **kwargs)
        case "gpaw":
            from gpaw import GPAW

            return GPAW(**{**GPAW_DEFAULTS, **kwargs})
        case "cp2k":
            from curate.calculators.cp2k import Cp2kCalculator, Cp2kSettings

            return Cp2kCalculator(Cp2kSettings.build("cp2k --kwargs", **kwargs))
        case "ase":
            module_name, _, cls = spec.target.rpartition(".")
            return getattr(importlib.import_module(module_name), cls)(**kwargs)
    raise InputError(f"no backend for '{spec.text}'")


_CACHE: dict[str, Calculator] = {}
"""Live calculators of this process, by canonical spec: built once per worker."""


def cached_calculator(spec: CalculatorSpec, reset: bool = False) -> Calculator:
    """The live calculator of ``spec`` in this process, built on first use. With ``reset`` it
    forgets what it kept from earlier structures (results, neighbour lists), so a run gives the
    same numbers to the last bit whatever the calculator computed before it."""
    key = spec.canonical()
    if key not in _CACHE:
        _CACHE[key] = build_calculator(spec)
    elif reset:
        _CACHE[key].reset()
    return _CACHE[key]


def forget_calculator(spec: CalculatorSpec) -> None:
    """Drop this process's live calculator of ``spec`` (a failed one may keep a broken state),
    closing what it holds open (CP2K's shell, which would otherwise go on polling a core)."""
    calc = _CACHE.pop(spec.canonical(), None)
    if calc is not None and callable(close := getattr(calc, "close", None)):
        with contextlib.suppress(Exception):  # a broken one is dropped even if it cannot close
            close()
