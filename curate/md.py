"""Molecular dynamics with any calculator: the driver behind the AIMD and MLIP-MD schemes.

Frames keep the energies, forces and stress the MD calculator computed for them (as a
SinglePointCalculator), so they are never paid for twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixCom
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from curate.calculators import CalculatorSpec, build_calculator

Thermostat = Literal["langevin", "nose-hoover"]


@dataclass
class Trajectory:
    """Kept frames (with the MD calculator's results) and what the run cost."""

    frames: list[Atoms]
    calls: int
    cpu_s: float


def run_md(
    atoms: Atoms,
    spec: CalculatorSpec,
    temperature: float,
    n_frames: int,
    stride: int,
    equilibration: int,
    timestep_fs: float,
    seed: int,
    thermostat: Thermostat = "langevin",
) -> Trajectory:
    """NVT MD from ``atoms``: ``equilibration`` steps, then a frame every ``stride`` steps."""
    calc = build_calculator(spec)
    atoms = atoms.copy()
    atoms.info.clear()
    atoms.calc = calc
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    Stationary(atoms)
    timestep = timestep_fs * units.fs
    if thermostat == "langevin":
        from ase.md.langevin import Langevin

        atoms.set_constraint(FixCom())
        dyn = Langevin(
            atoms,
            timestep,
            temperature_K=temperature,
            friction=0.01 / units.fs,
            fixcm=False,
            rng=rng,
        )
    else:
        from ase.md.nose_hoover_chain import NoseHooverChainNVT

        dyn = NoseHooverChainNVT(atoms, timestep, temperature_K=temperature, tdamp=100 * timestep)
    frames: list[Atoms] = []

    def keep() -> None:
        frame = atoms.copy()
        frame.set_constraint()
        results = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(apply_constraint=False),
        }
        if "stress" in calc.implemented_properties and atoms.pbc.all():
            results["stress"] = atoms.get_stress()
        frame.calc = SinglePointCalculator(frame, **results)
        frames.append(frame)

    start = time.process_time()
    dyn.run(equilibration)
    for _ in range(n_frames):
        dyn.run(stride)
        keep()
    return Trajectory(frames, 1 + equilibration + stride * n_frames, time.process_time() - start)
