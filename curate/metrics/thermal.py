"""How thermal a set of frames is: displacements, close contacts, pair distances, and (once
labelled) energy and pressure, each against an independent reference where one exists (phonopy's
analytic thermal displacements, MD at the same temperature and calculator)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.units import _amu, _k

from curate.core.geometry import NeighborFinder, displacements
from curate.core.labels import hydrostatic_stress

PAIR_RMAX = 6.0
"""Å, the range of the pair-distance distributions."""
PAIR_BINS = 120


def species_msd(frames: Sequence[Atoms], reference: Atoms) -> dict[str, float]:
    """Mean-square displacement ⟨|u|²⟩ (Å²) per species."""
    u2 = (displacements(frames, reference) ** 2).sum(axis=-1)
    symbols = np.array(reference.get_chemical_symbols())
    return {s: float(u2[:, symbols == s].mean()) for s in dict.fromkeys(symbols)}


def phonopy_msd(phonon, reference: Atoms, temperature: float, statistics: str) -> dict[str, float]:
    """Analytic ⟨|u|²⟩ (Å²) per species from force constants at the commensurate q-points:
    phonopy's thermal displacements (Bose–Einstein) for ``quantum``, kT/(mω²) per mode for
    ``classical``. Modes below 0.01 THz (acoustic at Γ, imaginary) are left out."""
    phonon.run_mesh([1, 1, 1], with_eigenvectors=True, is_mesh_symmetry=False)
    if statistics == "quantum":
        phonon.run_thermal_displacements(temperatures=[temperature], freq_min=0.01)
        per_dof = np.asarray(phonon.thermal_displacements.thermal_displacements[0])
        per_atom = per_dof.reshape(-1, 3).sum(axis=1)
    else:
        mesh = phonon.get_mesh_dict()
        freqs, vectors = mesh["frequencies"][0], mesh["eigenvectors"][0]
        keep = freqs > 0.01
        omega = 2 * np.pi * freqs[keep] * 1e12
        weights = (np.abs(vectors[:, keep]) ** 2 / omega**2).sum(axis=1).reshape(-1, 3).sum(axis=1)
        per_atom = _k * temperature * weights / (reference.get_masses() * _amu) * 1e20
    symbols = np.array(reference.get_chemical_symbols())
    return {s: float(per_atom[symbols == s].mean()) for s in dict.fromkeys(symbols)}


@dataclass
class PairStatistics:
    """What one neighbour search per frame up to ``rmax`` gives, per species pair (``"Ag-S"``,
    alphabetical): the distribution of pair distances (bin centres in Å, pairs per frame per Å;
    the paper's Supp. Fig. 11) and the shortest distance each pair reaches; and each frame's
    shortest interatomic distance (``rmax`` if none is shorter)."""

    centres: np.ndarray
    distributions: dict[str, np.ndarray]
    minima: dict[str, float]
    shortest: np.ndarray


def pair_statistics(
    frames: Sequence[Atoms], rmax: float = PAIR_RMAX, bins: int = PAIR_BINS
) -> PairStatistics:
    """Pair-distance distributions and minima, and per-frame shortest distances, of ``frames``."""
    from ase.data import chemical_symbols

    edges = np.linspace(0.0, rmax, bins + 1)
    finder = NeighborFinder(rmax)
    counts: dict[str, np.ndarray] = {}
    minima: dict[str, float] = {}
    shortest = np.full(len(frames), rmax)
    for k, atoms in enumerate(frames):
        i, j, _, d = finder(atoms.positions, atoms.cell.array, atoms.pbc)
        shortest[k] = d.min(initial=rmax)
        z = atoms.numbers
        first, second = z[i], z[j]
        names = sorted(chemical_symbols[n] for n in np.unique(z))
        for a, b in itertools.combinations_with_replacement(names, 2):
            za, zb = chemical_symbols.index(a), chemical_symbols.index(b)
            pair = d[((first == za) & (second == zb)) | ((first == zb) & (second == za))]
            name = f"{a}-{b}"  # each pair is listed from both ends, an atom's own image included
            counts[name] = counts.get(name, 0) + np.histogram(pair, edges)[0]
            minima[name] = min(minima.get(name, rmax), float(pair.min(initial=rmax)))
    width = edges[1] - edges[0]
    return PairStatistics(
        centres=0.5 * (edges[1:] + edges[:-1]),
        distributions={name: c / (2 * len(frames) * width) for name, c in counts.items()},
        minima=minima,
        shortest=shortest,
    )


def thermal_summary(
    energies: np.ndarray, stresses: np.ndarray | None, n_atoms: np.ndarray
) -> dict[str, float]:
    """Mean and spread of energy per atom (eV/atom) and pressure (GPa) over labelled frames."""
    per_atom = np.asarray(energies) / np.asarray(n_atoms)
    summary = {
        "n_labelled": len(per_atom),
        "energy_per_atom_mean": float(per_atom.mean()),
        "energy_per_atom_std": float(per_atom.std()),
    }
    if stresses is not None and len(stresses):
        pressure = -hydrostatic_stress(np.asarray(stresses))  # compressive positive
        summary |= {"pressure_mean": float(pressure.mean()), "pressure_std": float(pressure.std())}
    return summary


def against(summary: dict[str, float], reference: dict[str, float]) -> dict[str, float]:
    """Offsets of a summary from a reference one: energy offset (eV/atom), width ratio,
    pressure offset (GPa), band-gap offset (eV) and width ratio, and per-species
    RMS-displacement ratios where both have them."""
    out = {}
    if "energy_per_atom_mean" in summary and "energy_per_atom_mean" in reference:
        out["energy_offset"] = summary["energy_per_atom_mean"] - reference["energy_per_atom_mean"]
        out["energy_width_ratio"] = (
            summary["energy_per_atom_std"] / reference["energy_per_atom_std"]
        )
    if "pressure_mean" in summary and "pressure_mean" in reference:
        out["pressure_offset"] = summary["pressure_mean"] - reference["pressure_mean"]
    if "band_gap_mean" in summary and "band_gap_mean" in reference:
        out["band_gap_offset"] = summary["band_gap_mean"] - reference["band_gap_mean"]
        out["band_gap_width_ratio"] = summary["band_gap_std"] / reference["band_gap_std"]
    for species, msd in summary.get("msd", {}).items():
        if species in reference.get("msd", {}):
            out[f"rms_ratio_{species}"] = float(np.sqrt(msd / reference["msd"][species]))
    return out
