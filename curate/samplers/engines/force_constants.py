"""Harmonic force constants with phonopy from any calculator, cached with their provenance.

The reference structure itself (a supercell of the crystal, e.g. the 40-atom Ag3SBr cell) is
phonopy's unit cell with an identity supercell matrix, so its Γ-point modes are exactly the
commensurate q-points of the primitive cell, and force constants come from symmetry-reduced
finite displacements of that cell.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from curate.calculators import CalculatorSpec
from curate.calculators.backends import cached_calculator
from curate.core.cache import cache_root
from curate.core.errors import InputError
from curate.core.identity import cache_key
from curate.report.figures import pyplot, save_figure
from curate.systems.symmetry import SYMPREC, is_exactly_symmetric, space_group

DISPLACEMENT = 0.01
"""Å, phonopy's default finite displacement."""


@dataclass
class ForceConstants:
    """Phonopy object with force constants, and what computing them cost."""

    phonon: object
    calls: int
    cpu_s: float
    cached: bool
    key: str = ""
    """The cache file's stem, which names these force constants."""
    meta: dict | None = None


def to_phonopy_atoms(atoms: Atoms):
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(),
        cell=atoms.cell.array,
        scaled_positions=atoms.get_scaled_positions(),
        masses=atoms.get_masses(),
    )


def _key(atoms: Atoms, spec: CalculatorSpec, displacement: float) -> str:
    return cache_key(
        spec.canonical(),
        displacement,
        arrays=(atoms.numbers, atoms.positions, atoms.cell.array),
        size=10,
    )


_LOADED: dict[Path, ForceConstants] = {}
"""Force constants already read in this process, by cache path."""


def _load(path: Path) -> ForceConstants | None:
    """Force constants cached at ``path`` (phonopy YAML of the cell, the constants as .npy, a
    JSON of their cost), if there. Read once per process."""
    import phonopy

    if path in _LOADED:
        return _LOADED[path]
    meta_path, fc_path = path.with_suffix(".json"), path.with_suffix(".npy")
    if not (path.exists() and meta_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    if fc_path.exists():
        phonon = phonopy.load(path, produce_fc=False, is_symmetry=False, log_level=0)
        phonon.force_constants = np.load(fc_path)
    else:  # constants written inside the YAML (slow to parse): move them to .npy
        phonon = phonopy.load(path, produce_fc=False, is_symmetry=False, log_level=0)
        np.save(fc_path, phonon.force_constants)
    _LOADED[path] = ForceConstants(phonon, meta["calls"], meta["cpu_s"], True, path.stem, meta)
    return _LOADED[path]


def cached_force_constants(key: str) -> ForceConstants | None:
    """Force constants cached under ``key`` (a frame's ``params["force_constants"]``), if there."""
    return _load(cache_root("force-constants") / f"{key}.yaml")


def _store(phonon, path: Path, meta: dict) -> ForceConstants:
    """Cache freshly computed force constants and return them as read back, so a later call
    with the same seed samples from exactly the same numbers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    phonon.save(path, settings={"force_constants": False})
    np.save(path.with_suffix(".npy"), phonon.force_constants)
    path.with_suffix(".json").write_text(json.dumps(meta))
    _LOADED.pop(path, None)
    loaded = _load(path)
    return ForceConstants(loaded.phonon, loaded.calls, loaded.cpu_s, False, loaded.key, meta)


def _new_phonopy(atoms: Atoms):
    """Phonopy on ``atoms`` as its own unit and primitive cell. The structure must carry its
    symmetry exactly (:func:`curate.systems.symmetry.symmetrized`): symfc maps atoms under the
    operations far more strictly than the tolerance that finds them, and a fit on a structure
    whose symmetry is only approximate comes out wrong without a warning."""
    import phonopy

    if not is_exactly_symmetric(atoms):
        raise InputError(
            f"the reference structure has space group {space_group(atoms)} at {SYMPREC} Å "
            "but not exactly; symmetrise it first (curate.systems.symmetry.symmetrized)"
        )
    return phonopy.Phonopy(
        to_phonopy_atoms(atoms), supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P"
    )


def harmonic_force_constants(
    atoms: Atoms, spec: CalculatorSpec, displacement: float = DISPLACEMENT
) -> ForceConstants:
    """Force constants of ``atoms`` (periodic, at equilibrium) from ``spec``; cached on disk."""
    path = cache_root("force-constants") / f"{_key(atoms, spec, displacement)}.yaml"
    if (cached := _load(path)) is not None:
        return cached
    phonon = _new_phonopy(atoms)
    phonon.generate_displacements(distance=displacement)
    calc = cached_calculator(spec, reset=True)
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
    meta = {
        "calls": len(forces),
        "cpu_s": cpu,
        "calculator": spec.text,
        "displacement": displacement,
    }
    return _store(phonon, path, meta)


def gamma_frequencies(phonon) -> np.ndarray:
    """Frequencies (THz; imaginary as negative) at the commensurate q-points of the cell."""
    phonon.run_qpoints([[0, 0, 0]])
    return np.asarray(phonon.qpoints.frequencies[0])


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
    from curate.core.geometry import displacements
    from curate.samplers.engines.md import run_md

    settings = [temperature, snapshots, stride, equilibration, timestep_fs, seed]
    digest = cache_key(settings, size=4)
    path = (
        cache_root("force-constants")
        / f"renormalized-{_key(atoms, spec, DISPLACEMENT)}{digest}.yaml"
    )
    if (cached := _load(path)) is not None:
        return cached
    trajectory = run_md(
        atoms, spec, temperature, snapshots, stride, equilibration, timestep_fs, seed
    )
    forces = np.array([frame.get_forces() for frame in trajectory.frames])
    phonon = fit_force_constants(atoms, displacements(trajectory.frames, atoms), forces)
    meta = {
        "calls": trajectory.calls,
        "cpu_s": trajectory.cpu_s,
        "calculator": spec.text,
        "settings": settings,
    }
    return _store(phonon, path, meta)


SNAPSHOT_FACTOR = 4
"""Snapshots per the minimum a symfc fit needs (its basis size over 3N force components a
snapshot gives): phonopy's own margin for ``number_of_snapshots="auto"``."""


def _symfc(atoms: Atoms, displacements: np.ndarray | None = None, forces: np.ndarray | None = None):
    """phonopy's symfc solver on ``atoms`` (as its own supercell) with the operations phonopy
    finds, and the phonopy object it belongs to."""
    from phonopy.interface.symfc import SymfcFCSolver

    phonon = _new_phonopy(atoms)
    solver = SymfcFCSolver(phonon.supercell, displacements, forces, symmetry=phonon.symmetry)
    return solver, phonon


def snapshots_needed(atoms: Atoms) -> int:
    """Snapshots for a well-posed fit of the force constants of ``atoms``: ``SNAPSHOT_FACTOR``
    times symfc's estimate of the minimum (what phonopy's ``number_of_snapshots="auto"`` takes)."""
    solver, _ = _symfc(atoms)
    return SNAPSHOT_FACTOR * solver.estimate_numbers_of_supercells(orders=[2])[2]


def fit_force_constants(atoms: Atoms, displacements: np.ndarray, forces: np.ndarray):
    """Phonopy object on ``atoms`` with harmonic force constants fitted by least squares (symfc)
    to displacement–force pairs. Raises InputError, before solving, when the pairs give fewer
    force components than the force constants have free parameters."""
    solver, phonon = _symfc(atoms, np.asarray(displacements, float), np.asarray(forces, float))
    n_basis = solver.compute_basis_set(orders=[2])[2].basis_set.shape[1]
    n_equations = displacements.size
    if n_equations < n_basis:
        raise InputError(
            f"fitting force constants: {len(displacements)} snapshots give {n_equations} force "
            f"components for {n_basis} free parameters (space group {space_group(atoms)}, "
            f"{len(atoms)} atoms); take at least {snapshots_needed(atoms)} snapshots"
        )
    solver.solve(orders=[2])
    phonon.force_constants = solver.force_constants[2]
    return phonon


def self_consistent_force_constants(
    atoms: Atoms,
    spec: CalculatorSpec,
    start: ForceConstants,
    temperature: float,
    statistics: str,
    iterations: int,
    snapshots: int,
    tolerance: float = 0.02,
    mixing: float = 0.5,
    seed: int = 0,
) -> ForceConstants:
    """Stochastic self-consistent harmonic force constants at ``temperature``: sample the
    Gaussian of the current force constants, compute forces, fit, mix the fit into the current
    force constants (``mixing``, which also averages the sampling noise), until the frequencies at
    the commensurate q-points change by less than ``tolerance`` on average, relatively (or
    ``iterations`` is reached).

    The fixed point Φ = ⟨∂²V⟩ over the Gaussian of Φ is the self-consistent harmonic
    approximation (without relaxing the centroids). Cached; the cost includes ``start``'s.
    """
    from phonopy.phonon.random_displacements import RandomDisplacements

    settings = [start.key, temperature, statistics, iterations, snapshots, tolerance, mixing, seed]
    digest = cache_key(settings, size=10)
    path = cache_root("force-constants") / f"self-consistent-{digest}.yaml"
    if (cached := _load(path)) is not None:
        return cached
    calc = cached_calculator(spec, reset=True)
    phonon = start.phonon
    frequencies = [np.sort(gamma_frequencies(phonon))]
    calls, cpu, change = 0, 0.0, np.inf
    for iteration in range(iterations):
        sampler = RandomDisplacements(
            phonon.supercell,
            phonon.primitive,
            phonon.force_constants,
            dist_func=statistics,
            cutoff_frequency=0.01,
        )
        sampler.run(temperature, number_of_snapshots=snapshots, random_seed=seed + iteration)
        start_cpu = time.process_time()
        forces = []
        for u in sampler.u:
            frame = atoms.copy()
            frame.positions += u
            frame.calc = calc
            forces.append(frame.get_forces())
        cpu += time.process_time() - start_cpu
        calls += snapshots
        fitted = fit_force_constants(atoms, sampler.u, np.array(forces))
        fitted.force_constants = (
            mixing * fitted.force_constants + (1 - mixing) * phonon.force_constants
        )
        phonon = fitted
        frequencies.append(np.sort(gamma_frequencies(phonon)))
        old, new = np.abs(frequencies[-2]), np.abs(frequencies[-1])
        modes = old > 0.01
        change = float(np.mean(np.abs(new[modes] - old[modes]) / old[modes]))
        if change < tolerance:
            break
    meta = {
        "calls": start.calls + calls,
        "cpu_s": start.cpu_s + cpu,
        "calculator": spec.text,
        "settings": settings,
        "iterations": len(frequencies) - 1,
        "converged": change < tolerance,
        "last_change": change,
    }
    return _store(phonon, path, meta)


BAND_PATH = {"Γ": (0, 0, 0), "X": (0, 0.5, 0), "M": (0.5, 0.5, 0), "R": (0.5, 0.5, 0.5)}
"""High-symmetry points (reciprocal coordinates of the cell, cubic names) of the plotted path."""


def plot_phonons(spectra: dict[str, object], path: Path, mesh: int = 8) -> Path:
    """Band structure along Γ–X–M–Γ–R–X of the cell and density of states on a ``mesh``³ grid,
    one curve set per labelled phonopy object (e.g. harmonic and renormalised); imaginary
    frequencies drawn negative. Bands are those of the cell the force constants belong to
    (folded, for a supercell)."""
    plt = pyplot()

    names = ["Γ", "X", "M", "Γ", "R", "X"]
    corners = [np.array(BAND_PATH[n], dtype=float) for n in names]
    segments = [np.linspace(a, b, 41) for a, b in itertools.pairwise(corners)]
    fig, (bands, dos) = plt.subplots(
        1, 2, figsize=(9, 4.5), sharey=True, gridspec_kw={"width_ratios": [3, 1]}
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (label, phonon) in enumerate(spectra.items()):
        colour = colours[k % len(colours)]
        phonon.run_band_structure(segments)
        result = phonon.get_band_structure_dict()
        for x, freqs in zip(result["distances"], result["frequencies"], strict=True):
            bands.plot(x, freqs, color=colour, lw=0.7)
        bands.plot([], [], color=colour, label=label)
        phonon.run_mesh([mesh] * 3)
        phonon.run_total_dos()
        total = phonon.get_total_dos_dict()
        dos.plot(total["total_dos"], total["frequency_points"], color=colour, lw=1.2)
    ticks = [result["distances"][0][0]] + [d[-1] for d in result["distances"]]
    bands.set_xticks(ticks, names)
    bands.set_xlim(ticks[0], ticks[-1])
    for x in ticks:
        bands.axvline(x, color="0.8", lw=0.5)
    bands.axhline(0, color="0.5", lw=0.5)
    bands.set(ylabel="frequency (THz)")
    bands.legend(fontsize=8, loc="upper right")
    dos.set(xlabel="DOS")
    save_figure(fig, path, dpi=130)
    return path


def plot_sampled_phonons(params: dict, path: Path) -> Path:
    """The spectra phonon frames were drawn from (their ``params``): harmonic, and the
    renormalised or self-consistent force constants where those were used."""
    harmonic = cached_force_constants(params["harmonic_force_constants"])
    used = cached_force_constants(params["force_constants"])
    spectra = {"harmonic": harmonic.phonon}
    if used.key != harmonic.key:
        spectra[f"{params['imaginary']} at T"] = used.phonon
    return plot_phonons(spectra, path)
