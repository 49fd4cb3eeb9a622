"""One active-learning round broken down: committee training, committee-MD exploration, probe
labelling, selection and labelling, each as seconds and as a share of the round (the baseline is
the whole round).

The default is small and fast (32-atom fcc Cu, EMT labels, a two-member committee of small MACE
models), so the loop's own overhead shows; ``--system Ag3SBr --oracle chgnet`` measures the
default oracle on the paper's system (about 5 minutes per round on 2 cores at 20 epochs).

    python benchmarks/active_iteration.py --out benchmarks/results/active_iteration.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from report import write_report

from curate.calculators import parse_spec
from curate.labelling.run import label_store
from curate.potentials.active import PHASES, ActiveSettings, run_active
from curate.potentials.settings import MACESettings
from curate.samplers.batch import sample_into_store
from curate.samplers.settings import SampleSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--system", default="cu")
    parser.add_argument("--oracle", default="emt")
    parser.add_argument("--frames", type=int, default=30, help="initial labelled frames")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--channels", type=int, default=16)
    args = parser.parse_args()
    oracle = parse_spec(args.oracle)
    with tempfile.TemporaryDirectory(prefix="curate-bench-") as tmp:
        tmp = Path(tmp)
        system = args.system
        if system == "cu":
            from ase.build import bulk
            from ase.io import write

            system = tmp / "Cu.xyz"
            write(system, bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2))
        drawn = SampleSettings(
            system=str(system), scheme="random", n=args.frames, seed=1, params={"amplitude": 0.1}
        )
        sample_into_store(tmp / "S.zarr", drawn)
        label_store(tmp / "S.zarr", oracle, client_options={"workers": 2})
        settings = ActiveSettings(
            temperatures=(300.0, 600.0),
            budget=10_000,
            batch=10,
            committee=2,
            max_rounds=1,
            mace=MACESettings(epochs=args.epochs, channels=args.channels),
        )
        start = time.perf_counter()
        result = run_active(tmp / "S.zarr", tmp / "al", oracle, settings, {"workers": 2})
        wall = time.perf_counter() - start
    round_ = result["rounds"][0]
    seconds = {phase: round_["seconds"][phase] for phase in PHASES}
    total = sum(seconds.values())
    write_report(
        {
            "benchmark": "active_iteration",
            "system": str(args.system),
            "oracle": oracle.text,
            "initial_frames": args.frames,
            "mace": {"epochs": args.epochs, "channels": args.channels, "committee": 2},
            "seconds": seconds,
            "share_of_round": {p: round(s / total, 3) for p, s in seconds.items()},
            "round_wall_s": round(wall, 2),
            "candidates": round_["candidates"],
            "selected": round_["selected"],
            "calibration": round_["calibration"],
        },
        args.out,
    )


if __name__ == "__main__":
    main()
