"""Thermal frames from NVT molecular dynamics: with the labeller as the force field (``aimd``),
or with a machine-learned potential (``mlip-md``).

AIMD frames keep trajectory order and carry the MD calculator's energies, forces and stress, which
go into that calculator's label set: MD frames are never labelled twice. MLIP-MD frames are left
for the oracle to label; with a committee of models the per-frame force disagreement is stored.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from ase import Atoms
from pydantic import Field, PositiveFloat, field_validator

from curate.calculators import parse_spec
from curate.calculators.committee import Disagreement, committee_forces
from curate.core.identity import atoms_uid
from curate.core.provenance import Provenance
from curate.samplers.base import Sampler, SamplerParams, SamplingStopped, derived_seed
from curate.samplers.engines.md import MDBlowUp, Trajectory, run_md


def _comma_list(value: object) -> object:
    """``"a,b"`` → ``["a", "b"]``; a scalar → a one-item list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value] if isinstance(value, int | float) else value


class MDSettings(SamplerParams):
    """Temperature (K) or temperatures (``200,400,600``: one run each, frames split evenly),
    thermostat, timestep (fs), equilibration steps and steps between frames."""

    temperature: list[PositiveFloat]
    thermostat: Literal["langevin", "nose-hoover"] = "langevin"
    timestep: float = Field(4.0, gt=0)
    equilibration: int = Field(200, ge=0)
    stride: int = Field(10, ge=1)

    _temperatures = field_validator("temperature", mode="before")(_comma_list)


class MDParams(MDSettings):
    """MD settings and the calculator that drives and labels the run."""

    calculator: str = "chgnet"


class MLIPMDParams(MDSettings):
    """MD settings and the potential: one calculator spec, or a committee whose first member
    drives the MD and all of which judge the frames."""

    mlip: list[str] = Field(min_length=1)

    _models = field_validator("mlip", mode="before")(_comma_list)


class MolecularDynamics(Sampler):
    """NVT molecular dynamics with the labelling calculator; the frames come labelled. Run ``k``
    (one per temperature) uses seed ``[seed, k]``."""

    name: ClassVar[str] = "aimd"
    Params: ClassVar[type[SamplerParams]] = MDParams

    @property
    def force_field(self) -> str:
        """The calculator spec that drives the MD."""
        return self.params.calculator

    @property
    def labels_from(self) -> str | None:
        """The calculator whose results the frames carry."""
        return self.params.calculator

    def sample(
        self, reference: Atoms, n: int, seed: int, system: str = ""
    ) -> tuple[list[Atoms], list[Provenance]]:
        p = self.params
        spec = parse_spec(self.force_field)
        parent = atoms_uid(reference)
        shares = np.array_split(np.arange(n), len(p.temperature))
        frames, provenance = [], []
        for k, (temperature, share) in enumerate(zip(p.temperature, shares, strict=True)):
            if not len(share):
                continue
            try:
                trajectory = run_md(
                    reference,
                    spec,
                    temperature,
                    len(share),
                    p.stride,
                    p.equilibration,
                    p.timestep,
                    derived_seed(seed, k),
                    p.thermostat,
                )
            except MDBlowUp as exc:
                frames += exc.trajectory.frames
                provenance += self._provenance(exc.trajectory, k, temperature, seed, parent, system)
                raise SamplingStopped(str(exc), frames, provenance) from None
            frames += trajectory.frames
            provenance += self._provenance(trajectory, k, temperature, seed, parent, system)
        return frames, provenance

    def frame_params(self, frames: list[Atoms]) -> list[dict]:
        """Extra per-frame parameters (none for AIMD)."""
        return [{} for _ in frames]

    def _provenance(
        self,
        trajectory: Trajectory,
        run: int,
        temperature: float,
        seed: int,
        parent: int,
        system: str,
    ) -> list[Provenance]:
        """Provenance of the frames of one run, with its cost and each frame's MD step."""
        p = self.params
        common = {
            "calculator": self.force_field,
            "thermostat": p.thermostat,
            "timestep_fs": p.timestep,
            "equilibration": p.equilibration,
            "stride": p.stride,
            "run": run,
            "cost": {"md_calls": trajectory.calls, "md_cpu_s": trajectory.cpu_s},
        }
        extras = self.frame_params(trajectory.frames)
        return [
            Provenance(
                scheme=self.name,
                system=system,
                seed=seed,
                parent=parent,
                temperature=temperature,
                params={**common, **extra, "step": p.equilibration + (i + 1) * p.stride},
            )
            for i, extra in enumerate(extras)
        ]


class MLIPMolecularDynamics(MolecularDynamics):
    """NVT MD driven by a machine-learned potential; frames are left for the oracle. With a
    committee, each frame records the largest per-atom force disagreement (eV/Å: the RMS over
    models of the deviation from their mean force, DP-GEN's ``max_devi_f``) and its mean."""

    name: ClassVar[str] = "mlip-md"
    Params: ClassVar[type[SamplerParams]] = MLIPMDParams

    @property
    def force_field(self) -> str:
        return self.params.mlip[0]

    @property
    def labels_from(self) -> str | None:
        return None

    def frame_params(self, frames: list[Atoms]) -> list[dict]:
        models = self.params.mlip
        if len(models) < 2 or not frames:
            return [{} for _ in frames]
        # The first member drove the MD: its forces are on the frames already.
        others = committee_forces(frames, models[1:])
        forces = [
            np.concatenate([frame.calc.results["forces"][None], rest])
            for frame, rest in zip(frames, others, strict=True)
        ]
        disagreement = Disagreement.from_forces(forces)
        return [
            {
                "committee": list(models),
                "force_disagreement": float(largest),
                "force_disagreement_mean": float(mean),
            }
            for largest, mean in zip(disagreement.max, disagreement.mean, strict=True)
        ]
