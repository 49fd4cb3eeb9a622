"""Thermal frames from molecular dynamics with the labeller itself as the force field (AIMD).

Frames keep trajectory order and carry the MD calculator's energies, forces and stress, which go
into that calculator's label set: MD frames are never labelled twice.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from ase import Atoms
from pydantic import Field, PositiveFloat, field_validator

from curate.calculators import parse_spec
from curate.md import run_md
from curate.provenance import Provenance
from curate.samplers.base import Sampler, SamplerParams
from curate.store.uid import atoms_uid


class MDParams(SamplerParams):
    """Temperature (K) or temperatures (``200,400,600``: one run each, frames split evenly), the
    MD calculator, thermostat, timestep (fs), equilibration steps and steps between frames."""

    temperature: list[PositiveFloat]
    calculator: str = "chgnet"
    thermostat: Literal["langevin", "nose-hoover"] = "langevin"
    timestep: float = Field(4.0, gt=0)
    equilibration: int = Field(200, ge=0)
    stride: int = Field(10, ge=1)

    @field_validator("temperature", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(",") if part.strip()]
        return [value] if isinstance(value, int | float) else value


class MolecularDynamics(Sampler):
    """NVT molecular dynamics with the labelling calculator; the frames come labelled. Run ``k``
    (one per temperature) uses seed ``[seed, k]``."""

    name: ClassVar[str] = "aimd"
    Params: ClassVar[type[SamplerParams]] = MDParams

    @property
    def labels_from(self) -> str:
        """The calculator whose results the frames carry."""
        return self.params.calculator

    def sample(
        self, reference: Atoms, n: int, seed: int, system: str = ""
    ) -> tuple[list[Atoms], list[Provenance]]:
        p = self.params
        spec = parse_spec(p.calculator)
        parent = atoms_uid(reference)
        shares = np.array_split(np.arange(n), len(p.temperature))
        frames, provenance = [], []
        for k, (temperature, share) in enumerate(zip(p.temperature, shares, strict=True)):
            if not len(share):
                continue
            run_seed = int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
            trajectory = run_md(
                reference,
                spec,
                temperature,
                len(share),
                p.stride,
                p.equilibration,
                p.timestep,
                run_seed,
                p.thermostat,
            )
            common = {
                "calculator": p.calculator,
                "thermostat": p.thermostat,
                "timestep_fs": p.timestep,
                "equilibration": p.equilibration,
                "stride": p.stride,
                "run": k,
                "cost": {"md_calls": trajectory.calls, "md_cpu_s": trajectory.cpu_s},
            }
            frames += trajectory.frames
            provenance += [
                Provenance(
                    scheme=self.name,
                    system=system,
                    seed=seed,
                    parent=parent,
                    temperature=temperature,
                    params={**common, "step": p.equilibration + (i + 1) * p.stride},
                )
                for i in range(len(trajectory.frames))
            ]
        return frames, provenance
