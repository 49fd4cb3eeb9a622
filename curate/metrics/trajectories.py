"""Ordered runs (MD trajectories) in a set of frames, their structural and energy series, and
how correlated consecutive frames are."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.geometry import find_mic

from curate.metrics.autocorrelation import integrated_time

MIN_RUN = 8
"""Runs with fewer frames give no autocorrelation time."""


def ordered_runs(frames: Sequence[Atoms]) -> list[np.ndarray]:
    """Indices of the frames of each trajectory, in step order. Frames belong to one run when
    their provenance carries a ``step`` and agrees on everything but the step and the cost;
    runs shorter than MIN_RUN are left out."""
    runs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, atoms in enumerate(frames):
        params = atoms.info.get("params") or {}
        if "step" not in params:
            continue
        rest = {k: v for k, v in params.items() if k not in ("step", "cost")}
        key = json.dumps(
            [atoms.info.get(k) for k in ("scheme", "system", "seed", "parent", "temperature")]
            + [rest],
            sort_keys=True,
            default=str,
        )
        runs[key].append((int(params["step"]), i))
    return [
        np.array([i for _, i in sorted(members)])
        for members in runs.values()
        if len(members) >= MIN_RUN
    ]


def rms_displacement(frames: Sequence[Atoms]) -> np.ndarray:
    """Per frame, the RMS displacement of the atoms from their mean positions over the run
    (positions unwrapped by the minimum image from the first frame)."""
    first = frames[0]
    if any(len(atoms) != len(first) for atoms in frames):
        raise ValueError("frames of one run must have the same atoms")
    unwrapped = np.array(
        [
            first.positions + find_mic(a.positions - first.positions, a.cell, a.pbc)[0]
            for a in frames
        ]
    )
    u = unwrapped - unwrapped.mean(axis=0)
    return np.sqrt((u**2).sum(axis=2).mean(axis=1))


def run_correlation(frames: Sequence[Atoms], energies: np.ndarray) -> dict | None:
    """Autocorrelation time (in frames) and effective sample size of each series over the
    ordered runs in ``frames``: ``rms_displacement`` always, ``energy_per_atom`` when every run
    frame has an energy (``energies``, NaN where unlabelled). ESS adds up over runs, and τ is
    the frame-weighted harmonic mean. None when there is no run."""
    runs = ordered_runs(frames)
    if not runs:
        return None
    series = {"rms_displacement": [rms_displacement([frames[i] for i in run]) for run in runs]}
    if all(np.isfinite(energies[run]).all() for run in runs):
        series["energy_per_atom"] = [energies[run] for run in runs]
    n_total = sum(len(run) for run in runs)
    out: dict = {"runs": len(runs), "frames": n_total, "series": {}}
    for name, values in series.items():
        times = [integrated_time(v) for v in values]
        ess = float(sum(t.ess for t in times))
        out["series"][name] = {
            "tau": n_total / ess,
            "ess": ess,
            "reliable": all(t.reliable for t in times),
        }
    finite = [s["ess"] for s in out["series"].values() if np.isfinite(s["ess"])]
    out["ess"] = min(finite) if finite else float("nan")
    return out
