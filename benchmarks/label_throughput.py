"""Labelling throughput: ``label_store`` on a local Dask cluster against a plain ASE loop.

Three ratios, each measured in one run on the same frames:

(a) CHGNet, ``label_store`` with 2 workers vs a plain loop calling the CHGNet ASE calculator
    frame by frame in one process (torch using both cores) — goal ≥ 1.5×;
(b) EMT (cheap), ``label_store`` with 1 worker vs the plain loop: the pipeline's own cost per
    frame;
(c) CHGNet, ``label_store`` with 2 workers vs 1 worker — goal ≥ 1.7×.

Times are end to end (cluster start, model loading, writing the store) and, for the pipeline,
also steady state (after every worker has built its calculator). Every label written is compared
with the plain loop's value for the same frame.

    python benchmarks/label_throughput.py --frames 200 \
        --out benchmarks/results/label_throughput.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import numpy as np
from ase.build import bulk

from curate.calculators import build_calculator, parse_spec
from curate.calculators.labeller import compute_labels
from curate.cluster import local_cores
from curate.labelling import label_store
from curate.samplers import get_sampler
from curate.store import Store
from curate.systems import build_system


def make_store(path: Path, reference, n: int, amplitude: float) -> list:
    """A fresh store of ``n`` random-displacement frames of ``reference``."""
    shutil.rmtree(path, ignore_errors=True)
    frames, provenance = get_sampler("random", {"amplitude": amplitude}).sample(reference, n, 0)
    with Store.create(path) as store:
        store.append(frames, provenance)
    return frames


def plain_loop(calculator: str, frames: list) -> tuple[float, list[dict]]:
    """Seconds to build the calculator and label every frame in this process, and the labels."""
    start = time.perf_counter()
    calc = build_calculator(parse_spec(calculator))
    labels = [compute_labels(calc, atoms) for atoms in frames]
    return time.perf_counter() - start, labels


def pipeline(calculator: str, path: Path, workers: int, reference: list[dict]) -> dict:
    """Run label_store on a fresh label set and check its labels against the plain loop."""
    name = f"bench{workers}"
    summary = label_store(
        path, parse_spec(calculator), label_set=name, client_options={"workers": workers}
    )
    labels = Store.open(path).labels(name)
    assert summary.counts["ok"] == len(reference)
    for prop in ("energy", "stress"):
        expected = np.array([r[prop] for r in reference])
        assert np.allclose(labels[prop], expected, rtol=1e-6, atol=1e-6), prop
    return {
        "wall_s": summary.wall_s,
        "startup_s": summary.startup_s,
        "steady_s": summary.wall_s - summary.startup_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/work"))
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/label_throughput.json")
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    n = args.frames

    ag3sbr = make_store(args.workdir / "label-chgnet.zarr", build_system("Ag3SBr")[0], n, 0.3)
    copper = make_store(args.workdir / "label-emt.zarr", bulk("Cu", cubic=True).repeat(2), n, 0.1)

    t_plain_chgnet, chgnet_labels = plain_loop("chgnet", ag3sbr)
    two = pipeline("chgnet", args.workdir / "label-chgnet.zarr", 2, chgnet_labels)
    one = pipeline("chgnet", args.workdir / "label-chgnet.zarr", 1, chgnet_labels)
    t_plain_emt, emt_labels = plain_loop("emt", copper)
    emt = pipeline("emt", args.workdir / "label-emt.zarr", 1, emt_labels)

    report = {
        "benchmark": "label_throughput",
        "frames": n,
        "cores": local_cores(),
        "a_chgnet_2_workers_vs_plain_loop": {
            "plain_loop_s": t_plain_chgnet,
            "pipeline": two,
            "ratio_end_to_end": t_plain_chgnet / two["wall_s"],
            "goal": 1.5,
        },
        "b_emt_pipeline_overhead": {
            "plain_loop_s": t_plain_emt,
            "pipeline": emt,
            "overhead_per_frame_ms_end_to_end": 1e3 * (emt["wall_s"] - t_plain_emt) / n,
            "overhead_per_frame_ms_steady": 1e3 * (emt["steady_s"] - t_plain_emt) / n,
        },
        "c_chgnet_2_vs_1_worker": {
            "one_worker": one,
            "two_workers": two,
            "ratio_end_to_end": one["wall_s"] / two["wall_s"],
            "ratio_steady": one["steady_s"] / two["steady_s"],
            "goal": 1.7,
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
