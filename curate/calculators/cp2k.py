"""CP2K (Debian's ``cp2k_shell``) as a labeller: Kohn–Sham DFT with Gaussian basis sets and
plane-wave densities (GPW), energies, forces, the analytic stress and the band edges from CP2K's
own eigenvalues.

One ``cp2k_shell`` process per worker stays alive across frames (ASE's CP2K calculator), so the
basis sets and grids are set up once and each SCF starts from the previous frame's
wavefunction. Each frame's part of CP2K's output file is read back for the molecular-orbital
eigenvalues and occupations (``&PRINT &MO`` at the end of the SCF) and for the SCF's verdict: an
SCF that did not converge is an error carrying CP2K's own warning, so the frame is a physics
failure and no label of it is kept.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.calculators.calculator import all_changes
from ase.calculators.cp2k import CP2K
from ase.units import Rydberg
from pydantic import Field

from curate.core.errors import CurateError
from curate.core.settings import Settings

SHELL = "cp2k_shell"
PROJECT = "cp2k"
"""CP2K's project name: its input and output files in the scratch folder."""
"""The CP2K executable curate drives (Debian's ``cp2k`` package puts it on PATH)."""


class Cp2kSettings(Settings):
    """The level of theory and the SCF, every field settable through ``--kwargs``. The defaults
    converge a 40-atom Ag3SBr frame in about 15 SCF steps, 40 s on 2 cores (70 s on one)."""

    xc: str = Field("PBE", description="Exchange–correlation functional (CP2K's XC_FUNCTIONAL).")
    basis: str = Field(
        "SZV-MOLOPT-SR-GTH",
        description="Basis set of every element (DZVP-MOLOPT-SR-GTH: about 3x the time).",
    )
    potential: str = Field("GTH-PBE", description="Pseudopotential of every element.")
    basis_file: str = Field("BASIS_MOLOPT", description="CP2K data file holding the basis.")
    potential_file: str = Field("GTH_POTENTIALS", description="CP2K data file of the potential.")
    cutoff: float = Field(300.0, gt=0, description="Plane-wave cutoff of the density (Ry).")
    rel_cutoff: float = Field(40.0, gt=0, description="Cutoff of the reference grid (Ry).")
    eps_scf: float = Field(1e-6, gt=0, description="SCF convergence on the density (Hartree).")
    max_scf: int = Field(100, ge=1, description="SCF steps before the frame is a failure.")
    added_mos: int = Field(10, ge=1, description="Empty orbitals computed (the CBM needs one).")
    mixing_alpha: float = Field(0.3, gt=0, le=1, description="Broyden density-mixing weight.")
    kpoints: tuple[int, int, int] | None = Field(
        None, description="Monkhorst–Pack mesh; None: Γ only (no band edges with a mesh)."
    )


def input_text(settings: Cp2kSettings) -> str:
    """The CP2K input sections ASE's calculator does not write itself."""
    kpoints = ""
    if settings.kpoints is not None:
        mesh = " ".join(str(k) for k in settings.kpoints)
        kpoints = f"    &KPOINTS\n      SCHEME MONKHORST-PACK {mesh}\n    &END KPOINTS\n"
    return f"""&FORCE_EVAL
  &DFT
    &MGRID
      REL_CUTOFF {settings.rel_cutoff}
    &END MGRID
{kpoints}    &SCF
      EPS_SCF {settings.eps_scf}
      ADDED_MOS {settings.added_mos}
      &DIAGONALIZATION
        ALGORITHM STANDARD
      &END DIAGONALIZATION
      &MIXING
        METHOD BROYDEN_MIXING
        ALPHA {settings.mixing_alpha}
      &END MIXING
      &PRINT
        &RESTART OFF
        &END RESTART
      &END PRINT
    &END SCF
    &PRINT
      &MO
        EIGENVALUES T
        OCCUPATION_NUMBERS T
        &EACH
          QS_SCF 0
        &END EACH
      &END MO
    &END PRINT
  &END DFT
&END FORCE_EVAL
"""


class SCFNotConverged(CurateError):
    """CP2K's SCF stopped at ``max_scf`` steps without reaching ``eps_scf``."""


@dataclass(frozen=True)
class Orbitals:
    """Γ-point Kohn–Sham eigenvalues (eV) and occupations of one frame, and the HOMO–LUMO gap
    CP2K printed for it (eV)."""

    eigenvalues: np.ndarray
    occupations: np.ndarray
    printed_gap: float | None


_MO_ROW = re.compile(r"^ MO\|\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
_GAP = re.compile(r"^ MO\| Band gap:\s+\S+ a\.u\.\s+(\S+) eV", re.MULTILINE)


def read_orbitals(output: str) -> Orbitals | None:
    """The last eigenvalue table (and printed band gap) in a stretch of CP2K output."""
    start = output.rfind("MO| EIGENVALUES AND OCCUPATION NUMBERS")
    if start < 0:
        return None
    rows = [_MO_ROW.match(line) for line in output[start:].splitlines()]
    table = np.array([[float(m[3]), float(m[4])] for m in rows if m])
    gaps = _GAP.findall(output[start:])
    return Orbitals(table[:, 0], table[:, 1], float(gaps[0]) if gaps else None)


def failure(output: str) -> str | None:
    """CP2K's own warning or abort message in a stretch of output, if it has one."""
    for line in output.splitlines():
        if "SCF run NOT converged" in line or "ABORT" in line:
            return " ".join(line.strip(" *").split())
    return None


class Cp2kCalculator(CP2K):
    """ASE's CP2K calculator with curate's defaults, its own scratch folder, SCF failures
    raised, and the eigenvalue interface ASE's band-gap utility reads (Γ only, one spin; the
    Fermi level taken midway between the highest occupied and lowest empty orbital)."""

    def __init__(self, settings: Cp2kSettings | None = None, **kwargs) -> None:
        self.settings = settings or Cp2kSettings()
        s = self.settings
        self.folder = Path(tempfile.mkdtemp(prefix="curate-cp2k-"))
        # The shell runs in the scratch folder and names its files relative to it: CP2K refuses
        # input strings longer than 80 characters, which a deep TMPDIR's paths exceed.
        super().__init__(
            command=f"cd {shlex.quote(str(self.folder))} && exec {SHELL}",
            label=PROJECT,
            xc=s.xc,
            basis_set=s.basis,
            basis_set_file=s.basis_file,
            potential_file=s.potential_file,
            pseudo_potential=s.potential,
            cutoff=s.cutoff * Rydberg,
            max_scf=s.max_scf,
            stress_tensor=True,
            print_level="MEDIUM",
            inp=input_text(s),
            **kwargs,
        )
        self.orbitals: Orbitals | None = None

    @property
    def output_path(self) -> Path:
        return self.folder / f"{PROJECT}.out"

    def close(self) -> None:
        """Stop the CP2K shell and remove the scratch folder (made again if used after)."""
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def calculate(self, atoms=None, properties=None, system_changes=all_changes) -> None:
        self.folder.mkdir(exist_ok=True)
        path = self.output_path
        offset = path.stat().st_size if path.exists() else 0
        self.orbitals = None
        try:
            super().calculate(atoms, properties, system_changes)
        except Exception as exc:  # the shell died or answered nonsense: say what CP2K said
            said = failure(self._output_since(offset))
            if said is None:
                raise
            raise CurateError(f"CP2K: {said}") from exc
        output = self._output_since(offset)
        if (said := failure(output)) is not None:
            self.results = {}
            raise SCFNotConverged(
                f"CP2K: {said} in {self.settings.max_scf} steps (EPS_SCF {self.settings.eps_scf})"
            )
        if self.settings.kpoints is None:
            self.orbitals = read_orbitals(output)

    def _output_since(self, offset: int) -> str:
        path = self.output_path
        if not path.exists():
            return ""
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")

    def _require_orbitals(self) -> Orbitals:
        if self.orbitals is None:
            from ase.calculators.calculator import PropertyNotImplementedError

            raise PropertyNotImplementedError("CP2K gave no Γ-point eigenvalues for this frame")
        return self.orbitals

    def get_eigenvalues(self, kpt: int = 0, spin: int = 0) -> np.ndarray:
        return self._require_orbitals().eigenvalues.copy()

    def get_occupation_numbers(self, kpt: int = 0, spin: int = 0) -> np.ndarray:
        return self._require_orbitals().occupations.copy()

    def get_fermi_level(self) -> float:
        orbitals = self._require_orbitals()
        occupied = orbitals.occupations > 1e-6
        return float(
            (orbitals.eigenvalues[occupied].max() + orbitals.eigenvalues[~occupied].min()) / 2
        )

    def get_number_of_spins(self) -> int:
        return 1

    def get_ibz_k_points(self) -> np.ndarray:
        return np.zeros((1, 3))

    def get_k_point_weights(self) -> np.ndarray:
        return np.ones(1)
