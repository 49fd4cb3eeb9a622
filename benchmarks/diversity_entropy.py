"""QUESTS descriptors plus information entropy for 100,000 atomic environments, and the share of
the first call that numba spends compiling.

Frames: 40-atom Ag3SBr with random displacements (0.1–0.8 Å), enough of them for
``--environments`` environments. Three measurements, each in a fresh Python process:

* cold: numba's on-disk cache pointed at an empty folder, so the first call compiles quests's
  kernels (a tiny first call, timed alone), then descriptors and entropy of the full set;
* cached: the usual case after the first run ever, where the first call loads the compiled
  kernels from quests's cache instead;
* baseline: the same kernel sum in plain numpy (blocked BLAS distances, then exp), in the cold
  process after quests, which must give the same entropy.

    python benchmarks/diversity_entropy.py --environments 100000 \\
        --out benchmarks/results/diversity_entropy.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from report import write_report

ATOMS_PER_FRAME = 40
BANDWIDTH = 0.015


def frames(n_environments: int) -> list:
    from curate.samplers.registry import get_sampler
    from curate.systems.builtin import build_system

    reference, _ = build_system("Ag3SBr")
    n_frames = -(-n_environments // ATOMS_PER_FRAME)
    sampled, _ = get_sampler("random").sample(reference, n_frames, seed=0)
    return sampled


def numpy_entropy(x: np.ndarray, h: float, block: int = 2000) -> float:
    """The QUESTS entropy estimator in plain numpy: the baseline."""
    squares = np.einsum("ij,ij->i", x, x)
    p = np.empty(len(x))
    for start in range(0, len(x), block):
        d2 = x[start : start + block] @ x.T
        d2 *= -2.0
        d2 += squares[start : start + block, None]
        d2 += squares[None, :]
        np.maximum(d2, 0.0, out=d2)
        d2 *= -0.5 / (h * h)
        np.exp(d2, out=d2)
        p[start : start + block] = d2.sum(axis=1)
    return float(-np.mean(np.log(p / len(x))))


def worker(n_environments: int, full: bool) -> dict:
    """Timings in this process: the first (tiny) call, then the full set if asked."""
    start = time.perf_counter()
    from curate.metrics.descriptors import environments
    from curate.metrics.information import information
    from curate.metrics.settings import DescriptorSettings

    import_s = time.perf_counter() - start
    data = frames(n_environments if full else ATOMS_PER_FRAME)
    settings = DescriptorSettings()
    start = time.perf_counter()
    env = environments(data[:1], settings)
    information(env.x, BANDWIDTH)
    out = {"import_s": import_s, "first_call_s": time.perf_counter() - start}
    if not full:
        return out
    start = time.perf_counter()
    env = environments(data, settings)
    x = env.x[:n_environments]
    out["descriptors_s"] = time.perf_counter() - start
    start = time.perf_counter()
    out["entropy"] = information(x, BANDWIDTH).entropy
    out["entropy_s"] = time.perf_counter() - start
    start = time.perf_counter()
    out["numpy_entropy"] = numpy_entropy(x, BANDWIDTH)
    out["numpy_entropy_s"] = time.perf_counter() - start
    out["n_environments"] = len(x)
    return out


def in_fresh_process(n_environments: int, full: bool, cache_dir: str | None) -> dict:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    args = [sys.executable, __file__, "--worker", "--environments", str(n_environments)]
    result = subprocess.run(
        [*args, *(["--full"] if full else [])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--environments", type=int, default=100_000)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/diversity_entropy.json")
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.environments, args.full)))
        return
    with tempfile.TemporaryDirectory() as empty_cache:
        cold = in_fresh_process(args.environments, True, empty_cache)
    cached = in_fresh_process(args.environments, False, None)
    assert abs(cold["entropy"] - cold["numpy_entropy"]) < 1e-8 * abs(cold["numpy_entropy"])
    work = cold["descriptors_s"] + cold["entropy_s"]
    report = {
        "benchmark": "diversity_entropy",
        "n_environments": cold["n_environments"],
        "atoms_per_frame": ATOMS_PER_FRAME,
        "descriptor": {"name": "QUESTS", "k": 32, "cutoff": 5.0},
        "bandwidth": BANDWIDTH,
        "entropy_nats": cold["entropy"],
        "seconds": {
            "compile_first_call": cold["first_call_s"],
            "cached_first_call": cached["first_call_s"],
            "descriptors": cold["descriptors_s"],
            "entropy": cold["entropy_s"],
            "numpy_entropy_baseline": cold["numpy_entropy_s"],
        },
        "compile_share_of_first_run": cold["first_call_s"] / (cold["first_call_s"] + work),
        "cached_load_share": cached["first_call_s"] / (cached["first_call_s"] + work),
        "ratio_entropy_vs_numpy": cold["numpy_entropy_s"] / cold["entropy_s"],
        "microseconds_per_environment": {
            "descriptors": 1e6 * cold["descriptors_s"] / cold["n_environments"],
            "entropy": 1e6 * cold["entropy_s"] / cold["n_environments"],
        },
        "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
    }
    write_report(report, args.out)


if __name__ == "__main__":
    main()
