"""Every diversity, correlation and physicality metric of a store's groups, as one JSON-ready
dict: what ``curate diversity`` reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms

from curate.core.errors import InputError
from curate.core.labels import Status
from curate.metrics.descriptors import Environments, environments
from curate.metrics.energy_reference import EnergyReference, energy_references
from curate.metrics.information import coverage, information
from curate.metrics.kernels import nearest_neighbour_similarity, structure_kernel
from curate.metrics.pca import plot_map, principal_components
from curate.metrics.physicality import (
    beyond_thermal,
    contact_scan,
)
from curate.metrics.settings import DiversitySettings
from curate.metrics.trajectories import run_correlation
from curate.metrics.vendi import vendi_score
from curate.report.serialise import json_ready

if TYPE_CHECKING:
    from curate.store import Store

GROUPINGS = ("scheme", "system", "all")
PCA_FILE = "diversity_pca.png"


def diversity_report(
    store: Path,
    by: str = "scheme",
    reference: Path | None = None,
    size: int | None = None,
    label_set: str | None = None,
    settings: DiversitySettings | None = None,
    plot_dir: Path | None = None,
) -> dict[str, Any]:
    """Metrics of each group of ``store`` (frames grouped ``by`` scheme, system or all).

    With ``reference`` (a store), each group's coverage of its environments. With two or more
    groups, or ``size``, each group is also scored on random subsets of ``size`` frames (default:
    the smallest group) over ``settings.repeats`` seeded draws. Energies come from
    ``label_set`` (default: the label set with energies and the most ok frames).
    """
    import scipy.linalg  # noqa: F401  (its own OpenBLAS: loaded first, so that the limit holds it)
    from threadpoolctl import threadpool_limits

    # quests' numba loops call BLAS from their own threads: a threaded BLAS there
    # oversubscribes the cores (and OpenBLAS warns once per call when torch's OpenMP is loaded).
    # The limit holds only the libraries loaded when it is set.
    with threadpool_limits(1, user_api="blas"):
        return _diversity_report(store, by, reference, size, label_set, settings, plot_dir)


def _diversity_report(
    store: Path,
    by: str,
    reference: Path | None,
    size: int | None,
    label_set: str | None,
    settings: DiversitySettings | None,
    plot_dir: Path | None,
) -> dict[str, Any]:
    from curate.store import Store

    settings = settings or DiversitySettings()
    with Store.open(store) as opened:
        label_set = energy_label_set(opened, label_set)
        frames = opened.atoms()
        label_spec = opened.label_set_info(label_set).get("spec") if label_set else None
        energies = np.full(opened.n_frames, np.nan)
        if label_set:
            labels = opened.labels(label_set)
            ok = labels.status == Status.OK
            energies[ok] = labels["energy_per_atom"][ok]
    if not frames:
        raise InputError(f"{store} holds no frames")
    groups = group_indices(frames, by)
    size = matched_size(groups, size)
    reference_frames: list[Atoms] = []
    if reference is not None:
        with Store.open(reference) as opened:
            reference_frames = opened.atoms()
        if not reference_frames:
            raise InputError(f"reference {reference} holds no frames")
    env = environments(frames, settings.descriptor)
    reference_env = environments(reference_frames, settings.descriptor) if reference else None
    references = energy_references(frames, energies, label_spec) if label_set else {}
    report: dict[str, Any] = {
        "store": str(store),
        "by": by,
        "n_frames": len(frames),
        "settings": settings.as_dict(),
        "label_set": label_set,
        "energy_reference": {name: ref.as_dict() for name, ref in references.items()},
        "matched_size": size,
    }
    if reference is not None:
        report["reference"] = {
            "store": str(reference),
            "n_frames": len(reference_frames),
            "n_environments": reference_env.n_environments,
        }
    report["groups"] = {
        name: group_metrics(
            [frames[i] for i in idx],
            env.subset(idx),
            energies[idx],
            references,
            settings,
            reference_env,
            size,
        )
        for name, idx in groups.items()
    }
    if plot_dir is not None:
        reference_label = f"reference {Path(reference).name}" if reference else None
        report["plot"] = draw_map(
            env, groups, reference_env, reference_label, plot_dir, Path(store).name
        )
    return json_ready(report)


def energy_label_set(store: Store, requested: str | None) -> str | None:
    """The label set energies are read from: ``requested``, else the one with energies and the
    most frames labelled ok, else None."""
    if requested is not None:
        if "energy" not in store.label_set_info(requested)["properties"]:
            raise InputError(f"label set '{requested}' in {store.path} has no energies")
        return requested
    with_energy = [
        n for n in store.label_sets() if "energy" in store.label_set_info(n)["properties"]
    ]
    if not with_energy:
        return None
    return max(with_energy, key=lambda name: store.status_counts(name)["ok"])


def group_indices(frames: Sequence[Atoms], by: str) -> dict[str, np.ndarray]:
    """Frame indices of each group, groups in name order."""
    if by not in GROUPINGS:
        raise InputError(f"unknown --by '{by}' (choose from {', '.join(GROUPINGS)})")
    names = np.array(
        ["all" if by == "all" else frames[i].info.get(by) or "-" for i in range(len(frames))]
    )
    return {str(name): np.flatnonzero(names == name) for name in sorted(set(names.tolist()))}


def matched_size(groups: dict[str, np.ndarray], size: int | None) -> int | None:
    """The common subset size: ``size`` (checked against every group), else the smallest group
    when there are several groups, else None."""
    if size is None:
        return min(len(idx) for idx in groups.values()) if len(groups) > 1 else None
    if size < 1:
        raise InputError(f"--size must be at least 1, got {size}")
    for name, idx in groups.items():
        if size > len(idx):
            raise InputError(f"--size {size} is larger than group '{name}' ({len(idx)} frames)")
    return size


def group_metrics(
    frames: Sequence[Atoms],
    env: Environments,
    energies: np.ndarray,
    references: dict[str, EnergyReference],
    settings: DiversitySettings,
    reference_env: Environments | None,
    size: int | None,
) -> dict[str, Any]:
    """Every metric of one group of frames (with their environments and energies per atom)."""
    h = settings.bandwidth
    info = information(env.x, h)
    kernel = structure_kernel(env, h)
    shortest, close = contact_scan(frames, settings.contact_fraction)
    out: dict[str, Any] = {
        "n_frames": len(frames),
        "n_environments": env.n_environments,
        "entropy": info.entropy,
        "diversity": info.diversity,
        "vendi": vendi_score(kernel, settings.q),
        "nn_similarity": nearest_neighbour_similarity(kernel),
        "min_distance": distance_statistics(shortest),
        "close_contact_fraction": float(close.mean()),
        "autocorrelation": run_correlation(frames, energies),
        "energy": energy_metrics(frames, energies, references, settings),
    }
    if reference_env is not None:
        covered = coverage(reference_env.x, env.x, h)
        out["coverage"] = {"fraction": covered.fraction, "mean_dH": covered.mean_dh}
    if size is not None:
        out["matched"] = size_matched(env, kernel, size, settings, reference_env)
    return out


def distance_statistics(d: np.ndarray) -> dict[str, float] | None:
    """Minimum, 5th percentile, mean and maximum of per-frame shortest distances (Å)."""
    d = d[np.isfinite(d)]
    if not len(d):
        return None
    return {
        "min": float(d.min()),
        "p05": float(np.percentile(d, 5)),
        "mean": float(d.mean()),
        "max": float(d.max()),
    }


def energy_metrics(
    frames: Sequence[Atoms],
    energies: np.ndarray,
    references: dict[str, EnergyReference],
    settings: DiversitySettings,
) -> dict[str, Any] | None:
    """Energy per atom above the reference (eV/atom) of the labelled frames, and the share of
    them beyond ``kt_multiple`` kT at their own temperature (``settings.temperature`` for frames
    without one). None without labelled frames."""
    labelled = np.flatnonzero(np.isfinite(energies))
    if not len(labelled):
        return None
    chosen = [frames[i] for i in labelled]
    excess = energies[labelled] - np.array(
        [references[a.info.get("system", "")].energy_per_atom for a in chosen]
    )
    recorded = [a.info.get("temperature") for a in chosen]
    temperatures = np.array([settings.temperature if t is None else t for t in recorded])
    n_assumed = sum(t is None for t in recorded)
    return {
        "n_labelled": len(labelled),
        "above_reference": {
            "mean": float(excess.mean()),
            "median": float(np.median(excess)),
            "max": float(excess.max()),
        },
        "beyond_kT_fraction": float(
            beyond_thermal(excess, temperatures, settings.kt_multiple).mean()
        ),
        "frames_at_assumed_temperature": n_assumed,
    }


def size_matched(
    env: Environments,
    kernel: np.ndarray,
    size: int,
    settings: DiversitySettings,
    reference_env: Environments | None,
) -> dict[str, Any]:
    """Mean and standard deviation over seeded random subsets of ``size`` frames of entropy,
    diversity, Vendi score, nearest-neighbour similarity and coverage (one draw when the
    subset is the whole group)."""
    h = settings.bandwidth
    n = len(env)
    repeats = 1 if size == n else settings.repeats
    draws: dict[str, list[float]] = {}
    for r in range(repeats):
        idx = np.sort(np.random.default_rng([settings.seed, r]).choice(n, size, replace=False))
        sub = env.subset(idx)
        info = information(sub.x, h)
        sub_kernel = kernel[np.ix_(idx, idx)]
        values = {
            "entropy": info.entropy,
            "diversity": info.diversity,
            "vendi": vendi_score(sub_kernel, settings.q),
            "nn_similarity": nearest_neighbour_similarity(sub_kernel),
        }
        if reference_env is not None:
            values["coverage"] = coverage(reference_env.x, sub.x, h).fraction
        for key, value in values.items():
            draws.setdefault(key, []).append(value)
    out: dict[str, Any] = {"size": size, "repeats": repeats}
    for key, values in draws.items():
        out[key] = {
            "mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        }
    return out


def draw_map(
    env: Environments,
    groups: dict[str, np.ndarray],
    reference_env: Environments | None,
    reference_label: str | None,
    plot_dir: Path,
    title: str,
) -> dict[str, Any]:
    """PCA map of the structures (per-species mean descriptors), coloured by group, with the
    reference's structures underneath; written to ``plot_dir``."""
    species = set(env.numbers.tolist())
    if reference_env is not None:
        species |= set(reference_env.numbers.tolist())
    species = sorted(species)
    vectors = [env.structure_vectors(species)]
    labels = np.empty(len(env), dtype=object)
    for name, idx in groups.items():
        labels[idx] = name
    labels = labels.tolist()
    if reference_env is not None:
        vectors.append(reference_env.structure_vectors(species))
        labels += [reference_label] * len(reference_env)
    coords, share = principal_components(np.concatenate(vectors))
    path = plot_map(coords, labels, share, Path(plot_dir) / PCA_FILE, title, reference_label)
    return {"pca_map": str(path), "explained_variance": share.tolist()}
