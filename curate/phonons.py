"""Harmonic force constants with phonopy from any calculator, cached with their provenance.

The reference structure itself (a supercell of the crystal, e.g. the 40-atom Ag3SBr cell) is
phonopy's unit cell with an identity supercell matrix, so its Γ-point modes are exactly the
commensurate q-points of the primitive cell, and force constants come from symmetry-reduced
finite displacements of that cell.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from curate.cache import cache_root
from curate.calculators import CalculatorSpec, build_calculator

DISPLACEMENT = 0.01
"""Å, phonopy's default finite displacement."""


@dataclass
class ForceConstants:
    """Phonopy object with force constants, and what computing them cost."""

    phonon: object
    calls: int
    cpu_s: float
    cached: bool


def to_phonopy_atoms(atoms: Atoms):
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(),
        cell=atoms.cell.array,
        scaled_positions=atoms.get_scaled_positions(),
        masses=atoms.get_masses(),
    )


def _key(atoms: Atoms, spec: CalculatorSpec, displacement: float) -> str:
    payload = [
        atoms.numbers.tolist(),
        np.round(atoms.positions, 8).tolist(),
        np.round(atoms.cell.array, 8).tolist(),
        spec.canonical(),
        displacement,
    ]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:20]


def harmonic_force_constants(
    atoms: Atoms, spec: CalculatorSpec, displacement: float = DISPLACEMENT
) -> ForceConstants:
    """Force constants of ``atoms`` (periodic, at equilibrium) from ``spec``; cached on disk."""
    import phonopy

    path = cache_root("force-constants") / f"{_key(atoms, spec, displacement)}.yaml"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        phonon = phonopy.load(path, produce_fc=False, log_level=0)
        return ForceConstants(phonon, meta["calls"], meta["cpu_s"], cached=True)
    phonon = phonopy.Phonopy(
        to_phonopy_atoms(atoms), supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P"
    )
    phonon.generate_displacements(distance=displacement)
    calc = build_calculator(spec)
    start = time.process_time()
    forces = []
    for displaced in phonon.supercells_with_displacements:
        frame = Atoms(
            displaced.symbols,
            cell=displaced.cell,
            scaled_positions=displaced.scaled_positions,
            pbc=True,
        )
        frame.calc = calc
        forces.append(frame.get_forces())
    cpu = time.process_time() - start
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    path.parent.mkdir(parents=True, exist_ok=True)
    phonon.save(path, settings={"force_constants": True})
    meta_path.write_text(
        json.dumps(
            {
                "calls": len(forces),
                "cpu_s": cpu,
                "calculator": spec.text,
                "displacement": displacement,
            }
        )
    )
    return ForceConstants(phonon, len(forces), cpu, cached=False)


def gamma_frequencies(phonon) -> np.ndarray:
    """Frequencies (THz; imaginary as negative) at the commensurate q-points of the cell."""
    phonon.run_qpoints([[0, 0, 0]])
    return phonon.get_qpoints_dict()["frequencies"][0]


def renormalized_force_constants(
    atoms: Atoms,
    spec: CalculatorSpec,
    temperature: float,
    snapshots: int = 80,
    stride: int = 10,
    equilibration: int = 200,
    timestep_fs: float = 4.0,
    seed: int = 0,
) -> ForceConstants:
    """Effective harmonic force constants at ``temperature``: a least-squares fit (phonopy with
    symfc) to displacement–force pairs from NVT MD with the same calculator. Cached."""
    import phonopy
    from ase.geometry import find_mic

    from curate.md import run_md

    settings = [temperature, snapshots, stride, equilibration, timestep_fs, seed]
    key = (
        _key(atoms, spec, DISPLACEMENT)
        + hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:8]
    )
    path = cache_root("force-constants") / f"renormalized-{key}.yaml"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        phonon = phonopy.load(path, produce_fc=False, log_level=0)
        return ForceConstants(phonon, meta["calls"], meta["cpu_s"], cached=True)
    trajectory = run_md(
        atoms, spec, temperature, snapshots, stride, equilibration, timestep_fs, seed
    )
    displacements = np.array(
        [
            find_mic(frame.positions - atoms.positions, atoms.cell, atoms.pbc)[0]
            for frame in trajectory.frames
        ]
    )
    forces = np.array([frame.get_forces() for frame in trajectory.frames])
    phonon = phonopy.Phonopy(
        to_phonopy_atoms(atoms), supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P"
    )
    phonon.dataset = {"displacements": displacements, "forces": forces}
    phonon.produce_force_constants(fc_calculator="symfc")
    path.parent.mkdir(parents=True, exist_ok=True)
    phonon.save(path, settings={"force_constants": True})
    meta_path.write_text(
        json.dumps(
            {
                "calls": trajectory.calls,
                "cpu_s": trajectory.cpu_s,
                "calculator": spec.text,
                "settings": settings,
            }
        )
    )
    return ForceConstants(
        phonopy.load(path, produce_fc=False, log_level=0),
        trajectory.calls,
        trajectory.cpu_s,
        cached=False,
    )
