"""Stated rules a frame must pass to stay in a training set, with the reasons each dropped frame
failed: close contacts, failed or missing labels, large forces, energies outside a window or far
above the thermal scale of the relaxed structure, closed band gaps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from curate.core.errors import InputError
from curate.core.labels import Status
from curate.metrics.settings import DEFAULT_TEMPERATURE
from curate.store.zarr_store import Store

from .settings import FilterSettings

LABEL_RULES = ("max_force", "energy_window", "kt_multiple", "min_band_gap")


@dataclass
class Verdict:
    """Per frame, the rules it failed (empty: kept), and the rules that were applied."""

    reasons: list[list[str]]
    applied: dict[str, Any]

    @property
    def keep(self) -> np.ndarray:
        return np.array([not r for r in self.reasons], dtype=bool)

    def counts(self) -> dict[str, int]:
        """Frames failing each rule (a frame may fail several)."""
        counts: dict[str, int] = {}
        for reasons in self.reasons:
            for reason in reasons:
                rule = reason.split(":")[0]
                counts[rule] = counts.get(rule, 0) + 1
        return counts

    def dropped(self) -> list[dict[str, Any]]:
        return [{"frame": i, "reasons": r} for i, r in enumerate(self.reasons) if r]


def resolve_label_set(store: Store, settings: FilterSettings) -> str | None:
    """The label set the rules read: the one named, else the store's only one, else none (a
    label rule then cannot be applied)."""
    names = store.label_sets()
    if settings.label_set is not None:
        store.label_set_info(settings.label_set)  # refuses a name the store lacks
        return settings.label_set
    if len(names) == 1:
        return names[0]
    wanted = [r for r in LABEL_RULES if getattr(settings, r) is not None]
    if wanted and names:
        raise InputError(
            f"{store.path} has label sets {', '.join(names)}; choose one with --label-set"
        )
    if wanted:
        raise InputError(f"{', '.join(wanted)} need labels, and {store.path} has none")
    return None


def filter_frames(store: Store, settings: FilterSettings) -> Verdict:
    """Apply ``settings``'s rules to every frame of ``store``."""
    from curate.metrics.physicality import contact_scan

    frames = store.atoms()
    reasons: list[list[str]] = [[] for _ in frames]
    applied: dict[str, Any] = {}
    if settings.contact_fraction is not None:
        shortest, close = contact_scan(frames, settings.contact_fraction)
        applied["contact_fraction"] = settings.contact_fraction
        for i in np.flatnonzero(close):
            reasons[i].append(f"close contact: shortest distance {shortest[i]:.3f} Å")
    name = resolve_label_set(store, settings)
    if name is None:
        return Verdict(reasons, applied)
    applied["label_set"] = name
    labels = store.labels(name)
    ok = labels.status == Status.OK
    if settings.require_labels:
        applied["require_labels"] = True
        for i in np.flatnonzero(~ok):
            status = Status(labels.status[i])
            error = f" ({labels.error[i]})" if labels.error[i] else ""
            text = "no label" if status == Status.PENDING else f"label {status.text}{error}"
            reasons[i].append(f"labels: {text}")
    n_atoms = np.diff(store.atom_ptr())

    def values(prop: str) -> np.ndarray:
        if prop not in labels.values:
            raise InputError(f"label set '{name}' of {store.path} has no {prop}")
        return labels[prop]

    if settings.max_force is not None:
        applied["max_force"] = settings.max_force
        norms = np.linalg.norm(values("forces"), axis=1)
        largest = np.full(len(frames), np.nan)
        ptr = labels.atom_ptr
        for i in np.flatnonzero(ok):
            largest[i] = norms[ptr[i] : ptr[i + 1]].max()
        for i in np.flatnonzero(largest > settings.max_force):
            reasons[i].append(f"max force: {largest[i]:.3f} eV/Å")
    energy = None
    if settings.energy_window is not None or settings.kt_multiple is not None:
        energy = np.where(ok, values("energy"), np.nan) / n_atoms
    if settings.energy_window is not None:
        lo, hi = settings.energy_window
        applied["energy_window"] = [lo, hi]
        for i in np.flatnonzero((energy < lo) | (energy > hi)):
            reasons[i].append(f"energy window: {energy[i]:.4f} eV/atom")
    if settings.kt_multiple is not None:
        applied["kt_multiple"] = settings.kt_multiple
        applied["energy_references"] = _thermal_rule(store, frames, energy, name, settings, reasons)
    if settings.min_band_gap is not None:
        applied["min_band_gap"] = settings.min_band_gap
        gap = np.where(ok, values("band_gap"), np.nan)
        for i in np.flatnonzero(gap < settings.min_band_gap):
            reasons[i].append(f"band gap: {gap[i]:.3f} eV")
    return Verdict(reasons, applied)


def _thermal_rule(store, frames, energy, name, settings, reasons) -> dict[str, Any]:
    """Drop frames whose energy per atom lies more than ``kt_multiple`` kT above their system's
    reference (the relaxed structure where the labels' calculator can give it)."""
    from curate.metrics.energy_reference import energy_references
    from curate.metrics.physicality import beyond_thermal

    references = energy_references(frames, energy, store.label_set_info(name).get("spec"))
    base = np.array(
        [
            references[a.info["system"]].energy_per_atom
            if a.info["system"] in references
            else np.nan
            for a in frames
        ]
    )
    temperature = store.provenance_column("temperature")
    temperature = np.where(np.isnan(temperature), DEFAULT_TEMPERATURE, temperature)
    excess = energy - base
    for i in np.flatnonzero(beyond_thermal(excess, temperature, settings.kt_multiple)):
        reasons[i].append(
            f"kt multiple: {excess[i] * 1000:.1f} meV/atom above the reference at "
            f"{temperature[i]:g} K"
        )
    return {system: ref.as_dict() for system, ref in references.items()}
