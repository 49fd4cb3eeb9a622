"""Information entropy and diversity of 10⁴–10⁶ atomic environments: curate's blocked, symmetric,
pruned kernel sums (``curate.metrics.information.information``) against QUESTS's own exact
``get_all_metrics``, side by side in one process, on two kinds of set:

* ``random``: 40-atom Ag3SBr with random displacements of 0.1–0.8 Å (curate's random sampler);
* ``thermal``: the same cell with Gaussian displacements of 0.08 Å per Cartesian component, about
  a 300 K set's spread.

Both are compiled (numba) on a small set first, so the timings exclude compilation. At the
``--large`` size only curate runs (QUESTS would take about (10⁶/10⁵)² = 100 times its 10⁵ time);
there the report gives the time and the error bound of the sums.

    python benchmarks/entropy_scale.py --sizes 10000,100000 --large 1000000 \\
        --out benchmarks/results/entropy_scale.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from report import write_report

ATOMS_PER_FRAME = 40
BANDWIDTH = 0.015
THERMAL_SIGMA = 0.08
CHECK_LIMIT = 10_000
"""Up to this size the timed sums are checked against ``information()`` itself (to 1e-12)."""


def environments(kind: str, n_environments: int) -> np.ndarray:
    from curate.metrics.descriptors import environments as describe
    from curate.metrics.settings import DescriptorSettings
    from curate.samplers.registry import get_sampler
    from curate.systems.builtin import build_system

    reference, _ = build_system("Ag3SBr")
    n_frames = -(-n_environments // ATOMS_PER_FRAME)
    if kind == "random":
        frames, _ = get_sampler("random").sample(reference, n_frames, seed=0)
    else:
        rng = np.random.default_rng(0)
        frames = []
        for _ in range(n_frames):
            atoms = reference.copy()
            atoms.positions += rng.normal(0, THERMAL_SIGMA, atoms.positions.shape)
            frames.append(atoms)
    return describe(frames, DescriptorSettings()).x[:n_environments]


def quests_metrics(x: np.ndarray) -> tuple[float, float]:
    from quests.entropy import get_all_metrics

    entropy, diversity, _ = get_all_metrics(x, h=BANDWIDTH, batch_size=2000)
    return float(entropy), float(diversity)


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def measure(kind: str, n: int, with_quests: bool) -> dict:
    from curate.metrics.information import Information, information
    from curate.metrics.kernel_sums import self_kernel_sums

    x, descriptors_s = timed(environments, kind, n)
    sums, curate_s = timed(self_kernel_sums, x, BANDWIDTH)  # what information() computes
    info = Information.from_kernel_sums(sums.p)
    if n <= CHECK_LIMIT:  # the same sums; threads may add blocks in another order
        again = information(x, BANDWIDTH)
        assert np.isclose(info.entropy, again.entropy, rtol=1e-12, atol=0), (info, again)
        assert np.isclose(info.diversity, again.diversity, rtol=1e-12, atol=0), (info, again)
    row = {
        "kind": kind,
        "n_environments": len(x),
        "descriptors_s": descriptors_s,
        "curate_s": curate_s,
        "curate_entropy": info.entropy,
        "curate_diversity": info.diversity,
        "skipped_pair_fraction": float(sums.skipped_fraction),
        "cutoff_bandwidths": sums.cutoff_bandwidths,
        "relative_error_bound": sums.relative_error_bound,
    }
    if with_quests:
        (entropy, diversity), quests_s = timed(quests_metrics, x)
        row |= {
            "quests_s": quests_s,
            "quests_entropy": entropy,
            "quests_diversity": diversity,
            "speedup_vs_quests": quests_s / curate_s,
            "entropy_relative_difference": abs(info.entropy / entropy - 1),
            "diversity_relative_difference": abs(info.diversity / diversity - 1),
        }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--large", type=int, default=0, help="curate only at this size")
    parser.add_argument("--kinds", default="thermal,random")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/entropy_scale.json"))
    args = parser.parse_args()
    warm = environments("thermal", 400)
    from curate.metrics.information import information

    information(warm, BANDWIDTH), quests_metrics(warm)  # compile both
    kinds = args.kinds.split(",")
    sizes = [int(n) for n in args.sizes.split(",") if n]
    rows = [measure(k, n, True) for n in sizes for k in kinds]
    if args.large:
        rows += [measure(k, args.large, False) for k in kinds]
    write_report(
        {
            "benchmark": "entropy_scale",
            "bandwidth": BANDWIDTH,
            "descriptor": {"name": "QUESTS", "k": 32, "cutoff": 5.0},
            "rows": rows,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
