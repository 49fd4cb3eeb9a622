"""Thermal frames from molecular dynamics with the labeller itself as the force field (AIMD).

Frames keep trajectory order and carry the MD calculator's energies, forces and stress, which go
into that calculator's label set: MD frames are never labelled twice.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from ase import Atoms
from pydantic import Field

from curate.calculators import parse_spec
from curate.md import run_md
from curate.provenance import Provenance
from curate.samplers.base import Sampler, SamplerParams
from curate.store.uid import atoms_uid


class MDParams(SamplerParams):
    """Temperature (K), the MD calculator, thermostat, timestep (fs), equilibration steps and
    steps between kept frames."""

    temperature: float = Field(gt=0)
    calculator: str = "chgnet"
    thermostat: Literal["langevin", "nose-hoover"] = "langevin"
    timestep: float = Field(4.0, gt=0)
    equilibration: int = Field(200, ge=0)
    stride: int = Field(10, ge=1)


class MolecularDynamics(Sampler):
    """NVT molecular dynamics with the labelling calculator; the frames come labelled."""

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
        trajectory = run_md(
            reference,
            parse_spec(p.calculator),
            p.temperature,
            n,
            p.stride,
            p.equilibration,
            p.timestep,
            seed,
            p.thermostat,
        )
        common = {
            "calculator": p.calculator,
            "thermostat": p.thermostat,
            "timestep_fs": p.timestep,
            "equilibration": p.equilibration,
            "stride": p.stride,
            "cost": {"md_calls": trajectory.calls, "md_cpu_s": trajectory.cpu_s},
        }
        parent = atoms_uid(reference)
        provenance = [
            Provenance(
                scheme=self.name,
                system=system,
                seed=seed,
                parent=parent,
                temperature=p.temperature,
                params={**common, "step": p.equilibration + (i + 1) * p.stride},
            )
            for i in range(len(trajectory.frames))
        ]
        return trajectory.frames, provenance
