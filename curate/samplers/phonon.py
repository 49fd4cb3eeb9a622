"""Phonon-informed thermal displacements (Benítez et al., Eq. 3).

Gaussian normal-mode coordinates over the cell's commensurate q-points, with variances from
Bose–Einstein occupation at T (``quantum``) or equipartition (``classical``); the acoustic modes
at Γ are left out. phonopy's ``RandomDisplacements`` does the sampling. Imaginary modes follow a
named policy: ``renormalize`` (default) replaces the harmonic force constants by effective ones
fitted to MD at T with the same calculator (phonopy with symfc), ``abs`` samples imaginary modes
at |ω| (phonopy's choice), ``skip`` leaves them out. Modes still imaginary after renormalisation
are sampled at |ω| and counted in the provenance.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from ase import Atoms
from pydantic import Field

from curate.calculators import parse_spec
from curate.core.errors import InputError
from curate.core.geometry import NeighborFinder, contact_limits
from curate.core.identity import atoms_uid
from curate.core.provenance import Provenance
from curate.samplers.base import (
    Sampler,
    SamplerParams,
    SamplingStopped,
    derived_seed,
    displaced,
)
from curate.samplers.engines.force_constants import (
    gamma_frequencies,
    harmonic_force_constants,
    renormalized_force_constants,
    self_consistent_force_constants,
)
from curate.samplers.engines.md import MDBlowUp, run_md

CUTOFF_THZ = 0.01
"""Modes below this |frequency| (the Γ acoustic modes) are not sampled."""
MAX_DRAWS_PER_FRAME = 50
ROUND_DECIMALS = 9
"""Displacements are rounded to 1e-9 Å: phonopy reproduces a seeded snapshot only to roundoff
(1e-15 Å here), and exact repeats are what lets a re-run with the same seed add no duplicates."""


class PhononParams(SamplerParams):
    """Temperature (K), statistics, imaginary-mode policy, the calculator for the force constants,
    the renormalisation MD, ``contact_fraction`` (frames bringing a pair of species closer than
    this fraction of their wall are redrawn; 0 keeps all), ``self_consistent`` (at most this many
    rounds of refitting the force constants to forces on their own samples, ``sc_snapshots``
    each) and ``thermalize`` (MD steps with the calculator from each drawn frame; 0: none)."""

    temperature: float = Field(gt=0)
    statistics: Literal["quantum", "classical"] = "quantum"
    imaginary: Literal["renormalize", "abs", "skip"] = "renormalize"
    calculator: str = "chgnet"
    md_snapshots: int = Field(80, ge=10)
    md_stride: int = Field(10, ge=1)
    md_equilibration: int = Field(200, ge=0)
    md_timestep: float = Field(4.0, gt=0)
    contact_fraction: float = Field(0.8, ge=0, lt=1)
    self_consistent: int = Field(0, ge=0)
    sc_snapshots: int = Field(40, ge=10)
    thermalize: int = Field(0, ge=0)


class PhononDisplacements(Sampler):
    """Thermal displacements along the harmonic phonons of the reference structure."""

    name: ClassVar[str] = "phonon"
    Params: ClassVar[type[SamplerParams]] = PhononParams

    @property
    def labels_from(self) -> str | None:
        """Thermalised frames carry the calculator's results from their last MD step."""
        return self.params.calculator if self.params.thermalize else None

    def sample(
        self, reference: Atoms, n: int, seed: int, system: str = ""
    ) -> tuple[list[Atoms], list[Provenance]]:
        from phonopy.phonon.random_displacements import RandomDisplacements

        p = self.params
        spec = parse_spec(p.calculator)
        fc = harmonic_force_constants(reference, spec)
        harmonic_key = fc.key
        cost = {"force_constant_calls": fc.calls, "force_constant_cpu_s": fc.cpu_s}
        n_harmonic_imaginary = int((gamma_frequencies(fc.phonon) < -CUTOFF_THZ).sum())
        if p.imaginary == "renormalize":
            fc = renormalized_force_constants(
                reference,
                spec,
                p.temperature,
                p.md_snapshots,
                p.md_stride,
                p.md_equilibration,
                p.md_timestep,
                seed=0,
            )
            cost |= {"renormalization_md_calls": fc.calls, "renormalization_md_cpu_s": fc.cpu_s}
        self_consistency = {}
        if p.self_consistent:
            start = fc
            fc = self_consistent_force_constants(
                reference,
                spec,
                start,
                p.temperature,
                p.statistics,
                p.self_consistent,
                p.sc_snapshots,
            )
            cost |= {
                "self_consistent_calls": fc.calls - start.calls,
                "self_consistent_cpu_s": fc.cpu_s - start.cpu_s,
            }
            self_consistency = {
                "self_consistent_iterations": fc.meta["iterations"],
                "self_consistent_converged": fc.meta["converged"],
            }
        phonon = fc.phonon
        frequencies = gamma_frequencies(phonon)
        sampler = RandomDisplacements(
            phonon.supercell,
            phonon.primitive,
            phonon.force_constants,
            dist_func=p.statistics,
            cutoff_frequency=CUTOFF_THZ,
        )
        n_imaginary = int((frequencies < -CUTOFF_THZ).sum())
        if p.imaginary == "skip" and n_imaginary:
            sampler.frequencies = np.where(sampler.frequencies < 0, 0.0, sampler.frequencies)
        too_close = ContactCheck(reference, p.contact_fraction)
        accepted: list[tuple[int, np.ndarray]] = []
        drawn = 0
        while len(accepted) < n:
            if drawn >= MAX_DRAWS_PER_FRAME * n:
                raise InputError(
                    f"phonon sampler: only {len(accepted)} of {drawn} frames at "
                    f"{p.temperature} K kept their atoms apart; lower the temperature or "
                    "--imaginary renormalize"
                )
            batch = n - len(accepted)
            sampler.run(
                p.temperature, number_of_snapshots=batch, random_seed=seed, first_snapshot=drawn
            )
            for k, u in enumerate(sampler.u):
                u = np.round(u, ROUND_DECIMALS)
                if not too_close(u):
                    accepted.append((drawn + k, u))
            drawn += batch
        parent = atoms_uid(reference)
        common = {
            "statistics": p.statistics,
            "imaginary": p.imaginary,
            "calculator": p.calculator,
            "n_imaginary": n_imaginary,
            "n_harmonic_imaginary": n_harmonic_imaginary,
            "lowest_thz": float(frequencies.min()),
            "force_constants": fc.key,
            "harmonic_force_constants": harmonic_key,
            "contact_fraction": p.contact_fraction,
            "rejection_rate": 1 - n / drawn,
            "thermalize": p.thermalize,
            **self_consistency,
            "cost": cost,
        }
        frames, provenance = [], []
        for i, u in accepted[:n]:
            params = {**common, "draw": i}
            frame = displaced(reference, u)
            if p.thermalize:
                try:
                    frame, thermalize_cost = self._thermalize(frame, seed, i)
                except MDBlowUp as exc:
                    raise SamplingStopped(str(exc), frames, provenance) from None
                params["cost"] = {**cost, **thermalize_cost}
            frames.append(frame)
            provenance.append(
                Provenance(
                    scheme=self.name,
                    system=system,
                    seed=seed,
                    parent=parent,
                    temperature=p.temperature,
                    params=params,
                )
            )
        return frames, provenance

    def _thermalize(self, frame: Atoms, seed: int, draw: int) -> tuple[Atoms, dict]:
        """The frame after ``thermalize`` Langevin steps at T from Maxwell–Boltzmann velocities,
        with the calculator's results of that last step, and what the steps cost."""
        p = self.params
        trajectory = run_md(
            frame,
            parse_spec(p.calculator),
            p.temperature,
            1,
            p.thermalize,
            0,
            p.md_timestep,
            derived_seed(seed, draw),
        )
        return trajectory.frames[0], {
            "thermalize_calls": trajectory.calls,
            "thermalize_cpu_s": trajectory.cpu_s,
        }


class ContactCheck:
    """Whether a displacement field brings any pair of ``reference`` under its species' limit
    (:func:`curate.core.geometry.contact_limits`); one neighbour search reused across frames."""

    def __init__(self, reference: Atoms, fraction: float):
        self.reference = reference
        self.limits = contact_limits(reference.numbers, fraction, reference)
        cutoff = float(self.limits.max())
        self.finder = NeighborFinder(cutoff) if cutoff > 0 else None

    def __call__(self, u: np.ndarray) -> bool:
        if self.finder is None:
            return False
        ref = self.reference
        i, j, _, d = self.finder(ref.positions + u, ref.cell.array, ref.pbc)
        z = ref.numbers
        return bool((d < self.limits[z[i], z[j]]).any())
