"""Thermal samplers against their plain baselines, with the same force constants or calculator.

* phonon sampling once force constants exist: ``curate``'s phonon scheme (draws, contact check,
  provenance) against phonopy's own ``generate_displacements(number_of_snapshots=N,
  temperature=T)`` on the same Phonopy object; frames per second and their ratio.
* MD: curate's MD driver (blow-up checks, frames with their labels) against a bare ASE Langevin
  loop with the same calculator, timestep and steps; steps per second and their ratio (goal
  ≥ 0.95).
* renormalisation cost: calculator calls and CPU seconds of the MD fit, from the cache record.

EMT on fcc Cu (a 4×4×4 cubic supercell, 256 atoms) keeps the calculator cheap, so the overhead
shows; ``--calculator chgnet --system Ag3SBr`` measures the default oracle.

    python benchmarks/thermal_sampling.py --out benchmarks/results/thermal_sampling.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import phonopy
from ase import units
from ase.build import bulk
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from report import write_report

from curate.calculators import parse_spec
from curate.calculators.backends import cached_calculator
from curate.samplers.engines.force_constants import (
    harmonic_force_constants,
    renormalized_force_constants,
)
from curate.samplers.engines.md import run_md
from curate.samplers.registry import get_sampler
from curate.systems.builtin import build_system


def best(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_md(atoms, spec, temperature: float, steps: int, timestep_fs: float) -> None:
    """The baseline: ASE's Langevin loop, nothing else."""
    atoms = atoms.copy()
    atoms.calc = cached_calculator(spec)
    rng = np.random.default_rng(0)
    thermalize_momenta(atoms, temperature, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())
    Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature,
        friction=0.01 / units.fs,
        fixcm=False,
        rng=rng,
    ).run(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="Cu", help="Cu (EMT, 256 atoms) or a curate system")
    parser.add_argument("--calculator", default="emt")
    parser.add_argument("--temperature", type=float, default=300.0)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/thermal_sampling.json")
    )
    args = parser.parse_args()
    spec = parse_spec(args.calculator)
    if args.system == "Cu":
        reference = bulk("Cu", cubic=True).repeat(4)
    else:
        reference = build_system(args.system)[0]
    T = args.temperature

    fc = harmonic_force_constants(reference, spec)
    sampler = get_sampler(
        "phonon", {"temperature": T, "calculator": args.calculator, "imaginary": "abs"}
    )
    sampler.sample(reference, 10, seed=0)  # force constants cached, imports done
    ours = best(lambda: sampler.sample(reference, args.frames, seed=1), args.repeats)
    baseline = phonopy.Phonopy(
        fc.phonon.unitcell, supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P"
    )

    def phonopy_snapshots() -> None:
        baseline.force_constants = fc.phonon.force_constants  # a new dataset drops them
        baseline.generate_displacements(
            number_of_snapshots=args.frames, temperature=T, random_seed=1
        )

    phonopy_time = best(phonopy_snapshots, args.repeats)

    cached_calculator(spec)
    md_steps = args.steps
    bare = best(lambda: bare_md(reference, spec, T, md_steps, 2.0), args.repeats)
    driver = best(
        lambda: run_md(reference, spec, T, md_steps // 10, 10, 0, 2.0, seed=0), args.repeats
    )

    renormalized = renormalized_force_constants(
        reference, spec, T, snapshots=40, stride=5, equilibration=100, timestep_fs=2.0
    )
    write_report(
        {
            "benchmark": "thermal_sampling",
            "system": args.system,
            "n_atoms": len(reference),
            "calculator": args.calculator,
            "temperature": T,
            "phonon": {
                "frames": args.frames,
                "curate_frames_per_s": args.frames / ours,
                "phonopy_frames_per_s": args.frames / phonopy_time,
                "ratio_vs_phonopy": phonopy_time / ours,
            },
            "md": {
                "steps": md_steps,
                "curate_steps_per_s": md_steps / driver,
                "bare_ase_steps_per_s": md_steps / bare,
                "ratio_vs_bare_ase": bare / driver,
            },
            "renormalization": {
                "calls": renormalized.calls,
                "cpu_s": renormalized.cpu_s,
                "cached": renormalized.cached,
            },
        },
        args.out,
    )


if __name__ == "__main__":
    main()
