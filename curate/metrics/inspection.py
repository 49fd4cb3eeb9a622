"""``curate inspect``: diagnostics of a store's frames, group by group, against references.

Per group (scheme or system): per-species mean-square displacement from the reference structure
(against phonopy's analytic value for phonon frames whose force constants are cached), shortest
interatomic distances, per-pair distance distributions and, once labelled, energy per atom and
pressure, and band gaps where the calculator gives them (their spread and the share of closed
gaps) — all against an optional reference store (MD at the same temperature and calculator).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from curate.core.errors import InputError
from curate.core.labels import Status
from curate.metrics.thermal import (
    against,
    pair_statistics,
    phonopy_msd,
    species_msd,
    thermal_summary,
)
from curate.report.figures import pyplot, save_figure
from curate.store import Store

CLOSE_CONTACTS = (1.5, 2.0)
"""Å: the report gives the share of frames with a pair closer than each."""
CLOSED_GAP = 0.1
"""eV: a band gap at most this counts as closed (the paper left such frames out)."""


@dataclass
class GroupReport:
    """Numbers for one group of frames, and the series its plots need."""

    name: str
    summary: dict[str, Any]
    shortest: np.ndarray
    energy_per_atom: np.ndarray
    pair_centres: np.ndarray
    pairs: dict[str, np.ndarray] = field(default_factory=dict)
    band_gap: np.ndarray = field(default_factory=lambda: np.array([]))


def _label_set(store: Store, label_set: str | None) -> str | None:
    """The label set to read: the one asked for, else the store's only one, else none."""
    if label_set is not None:
        store.label_set_info(label_set)  # the store refuses a name it does not have
        return label_set
    names = store.label_sets()
    return names[0] if len(names) == 1 else None


def _phonopy_reference(provenance, reference, frames_msd: dict[str, float]) -> dict[str, Any]:
    """Analytic ⟨|u|²⟩ of the force constants the phonon frames were drawn from, if cached."""
    from curate.samplers.engines.force_constants import cached_force_constants

    key = provenance.params.get("force_constants")
    fc = cached_force_constants(key) if key else None
    if fc is None or provenance.params.get("thermalize"):
        return {}
    analytic = phonopy_msd(
        fc.phonon, reference, provenance.temperature, provenance.params["statistics"]
    )
    return {
        "msd_phonopy": analytic,
        "msd_ratio_phonopy": {s: frames_msd[s] / analytic[s] for s in analytic if analytic[s] > 0},
    }


def group_report(
    store: Store, name: str, indices: np.ndarray, label_set: str | None
) -> GroupReport:
    """Diagnostics of the frames ``indices`` of ``store``."""
    from curate.samplers.batch import rebuild_reference

    frames = store.atoms(indices)
    provenance = store.provenance(indices)
    reference = rebuild_reference(provenance[0])
    msd = species_msd(frames, reference)
    pairs = pair_statistics(frames)
    shortest = pairs.shortest
    costs = [p.params.get("cost", {}) for p in provenance]
    temperatures = sorted({p.temperature for p in provenance if p.temperature is not None})
    summary: dict[str, Any] = {
        "n_frames": len(frames),
        "temperatures": temperatures,
        "msd": msd,
        "rms": {s: float(np.sqrt(v)) for s, v in msd.items()},
        "shortest_distance": {
            "min": float(shortest.min()),
            "p01": float(np.percentile(shortest, 1)),
            "median": float(np.median(shortest)),
        },
        "close_fraction": {f"{d:g}": float((shortest < d).mean()) for d in CLOSE_CONTACTS},
        "pair_minimum": pairs.minima,
        "costs": [json.loads(c) for c in sorted({json.dumps(c, sort_keys=True) for c in costs})],
    }
    if provenance[0].scheme == "phonon" and len(temperatures) == 1:
        summary |= _phonopy_reference(provenance[0], reference, msd)
    energy = gaps = np.array([])
    if label_set is not None:
        labels = store.labels(label_set, indices)
        ok = labels.status == Status.OK
        n_atoms = np.array([len(f) for f in frames])[ok]
        stress = labels.values.get("stress")
        if ok.any():
            summary["labels"] = thermal_summary(
                labels["energy"][ok], stress[ok] if stress is not None else None, n_atoms
            )
            energy = labels["energy"][ok] / n_atoms
        if "band_gap" in labels.values:
            gaps = labels["band_gap"][ok]
            gaps = gaps[np.isfinite(gaps)]
        if len(gaps):
            summary["band_gap"] = gap_summary(gaps)
    return GroupReport(name, summary, shortest, energy, pairs.centres, pairs.distributions, gaps)


def gap_summary(gaps: np.ndarray) -> dict[str, float]:
    """Band gaps (eV) of a group: mean, spread, range and the share at most ``CLOSED_GAP``."""
    return {
        "n": len(gaps),
        "mean": float(gaps.mean()),
        "std": float(gaps.std()),
        "min": float(gaps.min()),
        "max": float(gaps.max()),
        "closed_fraction": float((gaps <= CLOSED_GAP).mean()),
    }


def reference_report(path: Path, label_set: str | None = None) -> GroupReport:
    """The report of a whole reference store (MD at the same temperature and calculator)."""
    with Store.open(path) as store:
        chosen = _label_set(store, label_set)
        return group_report(store, "reference", np.arange(store.n_frames), chosen)


def inspect_store(
    path: Path,
    by: Literal["scheme", "system"] = "scheme",
    label_set: str | None = None,
    reference: Path | GroupReport | None = None,
) -> list[GroupReport]:
    """A report per group of the store at ``path``, and one for the reference (a store, or its
    report when several stores are compared with it; last, named ``reference``) with every
    group's offsets from it under ``versus_reference``."""
    if by not in ("scheme", "system"):
        raise InputError(f"--by must be scheme or system, got '{by}'")
    with Store.open(path) as store:
        if store.n_frames == 0:
            raise InputError(f"{path}: the store has no frames")
        chosen = _label_set(store, label_set)
        column = store.categorical(by)
        reports = [
            group_report(store, str(name), np.flatnonzero(column == name), chosen)
            for name in sorted(set(column))
        ]
    if reference is None:
        return reports
    ref = (
        reference if isinstance(reference, GroupReport) else reference_report(reference, label_set)
    )
    ref_numbers = _numbers(ref.summary)
    for report in reports:
        report.summary["versus_reference"] = against(_numbers(report.summary), ref_numbers)
    return [*reports, ref]


def _numbers(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures of a group's summary :func:`against` compares."""
    gap = summary.get("band_gap", {})
    gaps = {f"band_gap_{k}": gap[k] for k in ("mean", "std") if k in gap}
    return {"msd": summary["msd"], **summary.get("labels", {}), **gaps}


def histogram(
    series: dict[str, np.ndarray],
    path: Path,
    xlabel: str = "energy per atom (eV)",
    shaded: str | None = None,
    line: tuple[float, str] | None = None,
    bins: int = 50,
) -> Path:
    """Histograms (density) of named sets on ``bins`` shared bins, as PNG; the set named
    ``shaded`` (a reference) drawn filled in grey; ``line``: a dashed vertical line and its
    legend entry."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    values = np.concatenate(list(series.values()))
    edges = np.linspace(values.min(), values.max(), bins)
    for name, x in series.items():
        if name == shaded:
            ax.hist(x, edges, density=True, color="k", alpha=0.25, label=name)
        else:
            ax.hist(x, edges, density=True, histtype="step", lw=1.5, label=name)
    if line is not None:
        ax.axvline(line[0], color="grey", ls="--", lw=1, label=line[1])
    ax.set(xlabel=xlabel, ylabel="density")
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=130)
    return path


def plot_reports(reports: list[GroupReport], out: Path) -> list[Path]:
    """Energy-per-atom and shortest-distance histograms, per-pair distance distributions and
    per-species RMS displacements, one PNG each, into ``out``."""
    plt = pyplot()

    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name: str) -> None:
        save_figure(fig, out / name, dpi=130)
        written.append(out / name)

    labelled = {r.name: r.energy_per_atom for r in reports if len(r.energy_per_atom)}
    if labelled:
        written.append(histogram(labelled, out / "energy_per_atom.png"))
    gaps = {r.name: r.band_gap for r in reports if len(r.band_gap)}
    if gaps:
        closed = (CLOSED_GAP, f"closed: ≤ {CLOSED_GAP:g} eV")
        written.append(histogram(gaps, out / "band_gap.png", "band gap (eV)", line=closed, bins=25))

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 4, 81)
    for r in reports:
        ax.hist(r.shortest, bins, density=True, histtype="step", lw=1.5, label=r.name)
    ax.set(xlabel="shortest interatomic distance in a frame (Å)", ylabel="density")
    ax.legend()
    save(fig, "shortest_distance.png")

    pairs = list(reports[0].pairs)
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, pair in zip(axes.flat, pairs, strict=False):
        for r in reports:
            if pair in r.pairs:
                ax.plot(r.pair_centres, r.pairs[pair], lw=1.2, label=r.name)
        ax.set(title=pair, xlabel="distance (Å)", ylabel="pairs per frame per Å")
    for ax in list(axes.flat)[len(pairs) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    save(fig, "pair_distances.png")

    species = list(reports[0].summary["rms"])
    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.8 / len(reports)
    for k, r in enumerate(reports):
        values = [r.summary["rms"].get(s, np.nan) for s in species]
        ax.bar(np.arange(len(species)) + k * width, values, width, label=r.name)
    ax.set_xticks(np.arange(len(species)) + 0.4 - width / 2, species)
    ax.set(ylabel="RMS displacement (Å)")
    ax.legend()
    save(fig, "rms_displacement.png")
    return written
