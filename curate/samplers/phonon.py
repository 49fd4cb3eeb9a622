"""Phonon-informed thermal displacements (Benítez et al., Eq. 3).

Gaussian normal-mode coordinates over the cell's commensurate q-points, with variances from
Bose–Einstein occupation at T (``quantum``) or equipartition (``classical``); the acoustic modes
at Γ are left out. phonopy's ``RandomDisplacements`` does the sampling. Imaginary modes follow a
named policy: ``auto`` (default) samples the harmonic force constants when they have no imaginary
mode and renormalises them otherwise; ``renormalize`` always replaces them by effective ones
fitted to MD at T with the same calculator (phonopy with symfc), for stable but anharmonic
crystals; ``abs`` samples imaginary modes at |ω| (phonopy's choice), ``skip`` leaves them out.
Modes still imaginary after renormalisation are sampled at |ω| and counted in the provenance.
The renormalisation takes at least as many MD snapshots as the fit has free parameters need
(:func:`~curate.samplers.engines.force_constants.snapshots_needed`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

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
    snapshots_needed,
)
from curate.samplers.engines.md import MDBlowUp, run_md

CUTOFF_THZ = 0.01
"""Modes below this |frequency| (the Γ acoustic modes) are not sampled."""
MAX_DRAWS_PER_FRAME = 50
ROUND_DECIMALS = 9
"""Displacements are rounded to 1e-9 Å: phonopy reproduces a seeded snapshot only to roundoff
(1e-15 Å here), and exact repeats are what lets a re-run with the same seed add no duplicates."""


Snapshots = Annotated[int, Field(ge=1)] | Literal["auto"]
MIN_MD_SNAPSHOTS = 80
"""MD snapshots a renormalisation takes at least (``md_snapshots: auto``)."""
MIN_SC_SNAPSHOTS = 40
"""Snapshots a self-consistent round takes at least (``sc_snapshots: auto``)."""


class PhononParams(SamplerParams):
    """Temperature (K), statistics, imaginary-mode policy, the calculator for the force constants,
    the renormalisation MD (``md_snapshots: auto`` takes ``MIN_MD_SNAPSHOTS`` or what the fit
    needs, if more), ``contact_fraction`` (frames bringing a pair of species closer than
    this fraction of their wall are redrawn; 0 keeps all), ``self_consistent`` (at most this many
    rounds of refitting the force constants to forces on their own samples, ``sc_snapshots``
    each, ``auto`` as for MD) and ``thermalize`` (MD steps with the calculator from each drawn
    frame; 0: none)."""

    temperature: float = Field(gt=0)
    statistics: Literal["quantum", "classical"] = "quantum"
    imaginary: Literal["auto", "renormalize", "abs", "skip"] = "auto"
    calculator: str = "chgnet"
    md_snapshots: Snapshots = "auto"
    md_stride: int = Field(10, ge=1)
    md_equilibration: int = Field(200, ge=0)
    md_timestep: float = Field(4.0, gt=0)
    contact_fraction: float = Field(0.8, ge=0, lt=1)
    self_consistent: int = Field(0, ge=0)
    sc_snapshots: Snapshots = "auto"
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
        renormalize = p.imaginary == "renormalize" or (
            p.imaginary == "auto" and n_harmonic_imaginary > 0
        )
        fitting = {}
        if renormalize:
            snapshots = enough_snapshots(reference, p.md_snapshots, MIN_MD_SNAPSHOTS, "md")
            fc = renormalized_force_constants(
                reference,
                spec,
                p.temperature,
                snapshots,
                p.md_stride,
                p.md_equilibration,
                p.md_timestep,
                seed=0,
            )
            cost |= {"renormalization_md_calls": fc.calls, "renormalization_md_cpu_s": fc.cpu_s}
            fitting["md_snapshots"] = snapshots
        self_consistency = {}
        if p.self_consistent:
            start = fc
            snapshots = enough_snapshots(reference, p.sc_snapshots, MIN_SC_SNAPSHOTS, "sc")
            fc = self_consistent_force_constants(
                reference,
                spec,
                start,
                p.temperature,
                p.statistics,
                p.self_consistent,
                snapshots,
            )
            cost |= {
                "self_consistent_calls": fc.calls - start.calls,
                "self_consistent_cpu_s": fc.cpu_s - start.cpu_s,
            }
            self_consistency = {
                "self_consistent_iterations": fc.meta["iterations"],
                "self_consistent_converged": fc.meta["converged"],
                "sc_snapshots": snapshots,
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
        if not (np.abs(sampler.frequencies) > CUTOFF_THZ).any():
            raise InputError(
                f"phonon sampler: the {len(reference)}-atom cell has no mode to sample at its "
                "commensurate q-points (only the acoustic ones at Γ"
                f"{' and imaginary ones, skipped' if n_imaginary else ''}); use a larger "
                "--supercell"
            )
        too_close = ContactCheck(reference, p.contact_fraction)
        accepted: list[tuple[int, np.ndarray]] = []
        drawn = 0
        while len(accepted) < n:
            if drawn >= MAX_DRAWS_PER_FRAME * n:
                raise InputError(
                    f"phonon sampler: only {len(accepted)} of {drawn} frames at "
                    f"{p.temperature:g} K kept every pair above {p.contact_fraction:g} of its "
                    f"shortest distance; {crowding_hint(p, renormalize, n_imaginary)}"
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
            "renormalized": renormalize,
            **fitting,
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


def enough_snapshots(reference: Atoms, asked: int | str, least: int, prefix: str) -> int:
    """The snapshots a force-constant fit of ``reference`` takes: ``asked``, or with ``auto`` the
    larger of ``least`` and what the fit needs; an ``asked`` number below that need is refused."""
    needed = snapshots_needed(reference)
    if asked == "auto":
        return max(least, needed)
    if asked < needed:
        raise InputError(
            f"phonon sampler: {prefix}_snapshots={asked} is too few to fit the force constants "
            f"of this {len(reference)}-atom cell; it needs at least {needed} (or auto)"
        )
    return int(asked)


def crowding_hint(p: PhononParams, renormalized: bool, n_imaginary: int) -> str:
    """What to change when too many drawn frames bring atoms into contact."""
    if n_imaginary and p.imaginary != "skip":
        return (
            f"{n_imaginary} imaginary modes are sampled at |ω|; try self_consistent rounds or "
            "--imaginary skip"
        )
    if not renormalized:
        return "try --imaginary renormalize (force constants fitted to MD at this temperature)"
    return "lower the temperature or --contact-fraction"


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
