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
from ase.md.velocitydistribution import Stationary, thermalize_momenta

from curate.calculators import CalculatorSpec
from curate.calculators.backends import cached_calculator
from curate.core.errors import CurateError
from curate.core.geometry import shortest_distance

Thermostat = Literal["langevin", "nose-hoover"]
BLOW_UP_TEMPERATURE = 20.0
"""A kinetic temperature this many times the target means the run has blown up."""
COLLAPSE_DISTANCE = 0.5
"""Å: atoms closer than this mean the run has blown up."""
CHECK_EVERY = 10
"""Equilibration steps between blow-up checks."""


@dataclass
class Trajectory:
    """Kept frames (with the MD calculator's results) and what the run cost."""

    frames: list[Atoms]
    calls: int
    cpu_s: float


class MDBlowUp(CurateError):
    """MD that produced non-finite numbers, ran away in temperature or collapsed atoms; carries
    the frames kept before it happened."""

    def __init__(self, message: str, trajectory: Trajectory):
        super().__init__(message)
        self.trajectory = trajectory


def blow_up(atoms: Atoms, temperature: float) -> str | None:
    """Why the MD state in ``atoms`` is no longer physical, or None."""
    if not np.isfinite(atoms.positions).all() or not np.isfinite(atoms.get_momenta()).all():
        return "positions or velocities are not finite"
    if not np.isfinite(atoms.get_potential_energy()):
        return "the energy is not finite"
    kinetic = atoms.get_temperature()
    if kinetic > BLOW_UP_TEMPERATURE * temperature:
        return f"kinetic temperature {kinetic:.0f} K, {kinetic / temperature:.0f}× the target"
    shortest = shortest_distance(atoms, COLLAPSE_DISTANCE)
    if shortest < COLLAPSE_DISTANCE:
        return f"atoms {shortest:.2f} Å apart"
    return None


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
    """NVT MD from ``atoms``: ``equilibration`` steps, then a frame every ``stride`` steps.

    Raises MDBlowUp, with the frames kept so far, when the run stops being physical.
    """
    calc = cached_calculator(spec, reset=True)
    atoms = atoms.copy()
    atoms.info.clear()
    atoms.calc = calc
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature, rng=rng)
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
    steps = 0

    def advance(n: int) -> None:
        nonlocal steps
        dyn.run(n)
        steps += n
        if reason := blow_up(atoms, temperature):
            trajectory = Trajectory(frames, 1 + steps, time.process_time() - start)
            raise MDBlowUp(
                f"MD at {temperature:g} K blew up after {steps} steps: {reason}", trajectory
            )

    for done in range(0, equilibration, CHECK_EVERY):
        advance(min(CHECK_EVERY, equilibration - done))
    for _ in range(n_frames):
        advance(stride)
        keep()
    return Trajectory(frames, 1 + steps, time.process_time() - start)
