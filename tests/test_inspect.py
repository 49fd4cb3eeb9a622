"""`curate inspect`: diagnostics against phonopy, brute-force distances and a reference store."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.geometry import get_distances
from ase.io import write

from curate.calculators import parse_spec
from curate.metrics.thermal import pair_statistics
from curate.systems.relax import relax


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def cu3au_file(tmp_path):
    cell = Atoms(
        "AuCu3",
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=np.eye(3) * 3.75,
        pbc=True,
    )
    path = tmp_path / "Cu3Au.cif"
    write(path, relax(cell, parse_spec("emt")))
    return path


def test_pair_minima_and_distributions_match_brute_force():
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(3):
        atoms = Atoms("Cu2Au2", cell=[[3.1, 0.2, 0], [0.1, 2.9, 0.3], [0, 0.4, 3.3]], pbc=True)
        atoms.set_scaled_positions(rng.random((4, 3)))
        frames.append(atoms.repeat(2))
    rmax = 6.0
    expected = {"Au-Au": rmax, "Au-Cu": rmax, "Cu-Cu": rmax}
    counts = dict.fromkeys(expected, 0)
    for atoms in frames:
        # Brute force over periodic images: every image within ±3 cells.
        shifts = np.array(np.meshgrid(*[np.arange(-3, 4)] * 3)).reshape(3, -1).T @ atoms.cell.array
        symbols = atoms.get_chemical_symbols()
        for i in range(len(atoms)):
            for j in range(len(atoms)):
                d = np.linalg.norm(atoms.positions[j] + shifts - atoms.positions[i], axis=1)
                d = d[(d > 1e-9) & (d < rmax)]
                pair = "-".join(sorted((symbols[i], symbols[j])))
                expected[pair] = min(expected[pair], d.min(initial=rmax))
                counts[pair] += len(d)
    stats = pair_statistics(frames, rmax)
    for pair, value in expected.items():
        assert stats.minima[pair] == pytest.approx(value, abs=1e-9)
    width = stats.centres[1] - stats.centres[0]
    for pair, total in counts.items():  # every ordered pair counted twice by brute force
        assert stats.distributions[pair].sum() * width * len(frames) == pytest.approx(total / 2)
    for atoms, value in zip(frames, stats.shortest, strict=True):
        _, d = get_distances(atoms.positions, cell=atoms.cell, pbc=True)
        assert value == pytest.approx(d[d > 1e-9].min(), abs=1e-9)


def test_inspect_checks_phonon_frames_against_phonopy_and_a_reference(cli, tmp_path, cu3au_file):
    store = tmp_path / "S.zarr"
    common = ["--system", cu3au_file, "--supercell", "2", "--seed", "1", "--out", store]
    phonon = ["--scheme", "phonon", "--calculator", "emt", "--imaginary", "abs"]
    assert cli.json("sample", *common, *phonon, "--temperature", "300", "-n", "120")["added"]
    assert cli.json("sample", *common, "--scheme", "random", "--amplitude", "0.8", "-n", "10")
    assert cli.json("label", store, "--calculator", "emt", "--workers", "1")["failed"] == 0
    reference = tmp_path / "MD.zarr"
    md = ["--scheme", "aimd", "--calculator", "emt", "--temperature", "300", "--timestep", "4"]
    md += ["--equilibration", "60", "--stride", "5", "-n", "30"]
    assert cli.json("sample", "--system", cu3au_file, "--supercell", "2", *md, "--out", reference)
    report = cli.json("inspect", store, "--reference", reference, "--plot", tmp_path / "figs")
    groups = report["groups"]
    assert set(groups) == {"phonon", "random", "reference"}
    for species, ratio in groups["phonon"]["msd_ratio_phonopy"].items():
        assert ratio == pytest.approx(1.0, abs=0.1), species
    assert groups["random"]["close_fraction"]["2"] > groups["phonon"]["close_fraction"]["2"]
    versus = groups["phonon"]["versus_reference"]
    # EMT Cu3Au is nearly harmonic: phonon frames sit close to MD in energy and displacement.
    assert abs(versus["energy_offset"]) < 0.01
    assert versus["rms_ratio_Cu"] == pytest.approx(1.0, abs=0.2)
    assert groups["random"]["versus_reference"]["energy_offset"] > 0.1
    assert sorted(p.rsplit("/", 1)[1] for p in report["figures"]) == [
        "energy_per_atom.png",
        "pair_distances.png",
        "rms_displacement.png",
        "shortest_distance.png",
    ]


def test_inspect_refuses_bad_input(cli, tmp_path, random_store):
    result = cli("inspect", random_store, "--by", "colour")
    assert result.exit_code == 2 and "--by" in result.stderr
    result = cli("inspect", random_store, "--label-set", "dft")
    assert result.exit_code == 2 and "no label set 'dft'" in result.stderr
    result = cli("inspect", tmp_path / "missing.zarr")
    assert result.exit_code == 2 and "no store" in result.stderr


def test_inspect_gives_band_gaps_and_the_share_of_closed_ones(cli, tmp_path, cu3au_file):
    """Gaps of ok frames only; a gap at most 0.1 eV is closed; a frame without one is left out."""
    from curate.calculators.backends import build_calculator
    from curate.core.labels import LabelResult, Status
    from curate.store import Store

    store = tmp_path / "S.zarr"
    common = ["--system", cu3au_file, "--supercell", "2", "--out", store, "--amplitude", "0.1"]
    assert cli.json("sample", *common, "--scheme", "random", "-n", "6", "--seed", "1")
    gaps = [0.05, 0.1, 0.3, 0.55, np.nan, 2.0]  # frame 4 has no gap; frame 5 failed
    with Store.open(store, "a") as opened:
        frames = opened.atoms()
        opened.create_label_set("dft", "emt", ["energy", "band_gap"])
        results = []
        for i, (atoms, gap) in enumerate(zip(frames, gaps, strict=True)):
            atoms.calc = build_calculator(parse_spec("emt"))
            values = {"energy": atoms.get_potential_energy()}
            values |= {} if np.isnan(gap) else {"band_gap": gap}
            status = Status.FAILED_PHYSICS if i == 5 else Status.OK
            results.append(LabelResult(i, status, values if i != 5 else {}, "SCF"))
        opened.write_labels("dft", results)
    report = cli.json("inspect", store, "--label-set", "dft", "--plot", tmp_path / "figs")
    gap = report["groups"]["random"]["band_gap"]
    assert gap["n"] == 4 and gap["closed_fraction"] == 0.5
    assert gap["mean"] == pytest.approx(np.mean(gaps[:4])) and gap["max"] == 0.55
    assert any(p.endswith("band_gap.png") for p in report["figures"])
    versus = cli.json("inspect", store, "--label-set", "dft", "--reference", store)["groups"]
    assert versus["random"]["versus_reference"]["band_gap_offset"] == pytest.approx(0.0)
