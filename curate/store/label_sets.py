"""Label sets of a store by name: choosing one, and creating or checking one for a calculator
spec (the spec, its parameter hash and the versions of the packages behind it are recorded)."""

from __future__ import annotations

import contextlib

from curate.calculators import CalculatorSpec
from curate.core.errors import InputError
from curate.store.zarr_store import Store


def pick_label_set(store: Store, label_set: str | None, prefer: str | None = None) -> str:
    """``label_set``; else ``prefer`` when the store has it; else the store's only label set."""
    names = store.label_sets()
    if label_set is None and prefer in names:
        return prefer
    if label_set is not None or len(names) == 1:
        return label_set or names[0]
    if not names:
        raise InputError(f"{store.path} has no label sets; run curate label first")
    raise InputError(f"{store.path} has label sets {', '.join(names)}; choose one with --label-set")


def check_label_set(store: Store, spec: CalculatorSpec, name: str) -> bool:
    """Whether the label set exists; refuses one made with another calculator or settings."""
    if name not in store.label_sets():
        return False
    info = store.label_set_info(name)
    if info.get("spec") != spec.canonical():
        raise InputError(
            f"label set '{name}' was made with {info['calculator']} "
            f"{info.get('kwargs', {})}; pass --label-set to start another"
        )
    return True


def create_label_set(store: Store, spec: CalculatorSpec, name: str) -> None:
    """A new, all-pending label set that records the spec, its hash and package versions."""
    store.create_label_set(
        name,
        spec.text,
        [],
        spec=spec.canonical(),
        kwargs=spec.kwargs,
        param_hash=spec.param_hash(),
        versions=backend_versions(spec),
    )
    return name


def backend_versions(spec: CalculatorSpec) -> dict[str, str]:
    """Versions of the packages behind a spec, for the label set's provenance."""
    from importlib.metadata import PackageNotFoundError, version

    names = {"chgnet": ["chgnet"], "mace": ["mace-torch"], "gpaw": ["gpaw"]}.get(spec.kind, [])
    if spec.kind == "ase":
        names = [spec.target.split(".")[0]]
    found = {"ase": version("ase")}
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found
