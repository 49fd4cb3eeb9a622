"""Diversity, coverage, correlation and physicality metrics: each against a hand-computable or
independent reference, then the rankings `curate diversity` must get right."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.units import kB
from quests.descriptor import get_descriptors
from quests.entropy import entropy
from scipy.spatial.distance import cdist

from curate.calculators import parse_spec
from curate.metrics.autocorrelation import autocorrelation, integrated_time
from curate.metrics.descriptors import Environments, environments
from curate.metrics.information import coverage, information
from curate.metrics.kernels import nearest_neighbour_similarity, structure_kernel
from curate.metrics.physicality import beyond_thermal, contact_scan
from curate.metrics.settings import DescriptorSettings
from curate.metrics.trajectories import ordered_runs, rms_displacement, run_correlation
from curate.metrics.vendi import vendi_score
from curate.store import Store
from curate.systems.relax import relax

H = 0.015


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def copper_file(tmp_path):
    path = tmp_path / "Cu.cif"
    write(path, bulk("Cu", cubic=True))
    return path


def gaussian_sums(y: np.ndarray, x: np.ndarray, h: float = H) -> np.ndarray:
    """Σ_j exp(−|y_i − x_j|² / 2h²), brute force with scipy."""
    return np.exp(-(cdist(y, x) ** 2) / (2 * h * h)).sum(axis=1)


# ---------------------------------------------------------------- Vendi score
def test_vendi_of_identical_items_is_one_and_of_orthogonal_items_is_n():
    assert vendi_score(np.ones((7, 7))) == pytest.approx(1.0)
    assert vendi_score(np.eye(7)) == pytest.approx(7.0)
    for q in (0.0, 0.5, 2.0, math.inf):
        assert vendi_score(np.eye(5), q) == pytest.approx(5.0)
        assert vendi_score(np.ones((5, 5)), q) == pytest.approx(1.0)


@pytest.mark.parametrize("s", [0.0, 0.3, 0.9])
def test_vendi_of_two_items_matches_the_eigenvalues_by_hand(s):
    lam = np.array([(1 + s) / 2, (1 - s) / 2])  # eigenvalues of [[1, s], [s, 1]] / 2
    kernel = np.array([[1.0, s], [s, 1.0]])
    assert vendi_score(kernel) == pytest.approx(np.exp(-np.sum(lam * np.log(lam))))
    assert vendi_score(kernel, 2.0) == pytest.approx(1 / np.sum(lam**2))
    assert vendi_score(kernel, math.inf) == pytest.approx(1 / lam.max())


def test_vendi_counts_a_set_repeated_twice_once_and_refuses_a_non_unit_diagonal():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 4))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    kernel = features @ features.T
    doubled = np.block([[kernel, kernel], [kernel, kernel]])
    assert vendi_score(doubled) == pytest.approx(vendi_score(kernel))
    with pytest.raises(Exception, match="unit self-similarity"):
        vendi_score(2 * kernel)


# ---------------------------------------------------------------- structure kernel
def ragged_environments(seed: int, sizes: list[int], d: int = 5) -> Environments:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.01, size=(sum(sizes), d))
    return Environments(x, np.ones(len(x), dtype=int), np.concatenate([[0], np.cumsum(sizes)]))


def test_structure_kernel_is_the_normalised_mean_kernel_in_any_block_size(monkeypatch):
    env = ragged_environments(1, [3, 5, 1, 4, 2])
    frames = [env.x[env.ptr[i] : env.ptr[i + 1]] for i in range(len(env))]
    mean = np.array(
        [[gaussian_sums(a, b).sum() / (len(a) * len(b)) for b in frames] for a in frames]
    )
    expected = mean / np.sqrt(np.outer(np.diag(mean), np.diag(mean)))
    assert np.allclose(structure_kernel(env, H), expected, atol=1e-12)
    monkeypatch.setattr("curate.metrics.kernels.BLOCK_ELEMENTS", 7)  # several frames per block
    kernel = structure_kernel(env, H)
    assert np.allclose(kernel, expected, atol=1e-12)
    assert np.allclose(np.diag(kernel), 1.0) and np.linalg.eigvalsh(kernel).min() > -1e-10


def test_nearest_neighbour_similarity_ignores_self():
    kernel = np.array([[1.0, 0.2, 0.9], [0.2, 1.0, 0.4], [0.9, 0.4, 1.0]])
    assert nearest_neighbour_similarity(kernel) == pytest.approx((0.9 + 0.4 + 0.9) / 3)
    assert math.isnan(nearest_neighbour_similarity(np.ones((1, 1))))


# ---------------------------------------------------------------- QUESTS information
def test_entropy_and_diversity_follow_their_definitions():
    x = np.random.default_rng(2).normal(scale=0.02, size=(300, 6))
    p = gaussian_sums(x, x)
    result = information(x, H)
    assert result.entropy == pytest.approx(-np.mean(np.log(p / len(x))), rel=1e-10)
    assert result.diversity == pytest.approx(np.log(np.sum(1 / p)), rel=1e-10)


def test_coverage_needs_a_kernel_sum_of_one():
    # A reference point halfway between two points of the set, δ from each, is covered exactly
    # when 2 exp(−δ²/2h²) ≥ 1, i.e. δ ≤ h √(2 ln 2).
    limit = H * np.sqrt(2 * np.log(2))
    far = 100 * H * np.arange(4)[:, None] * np.eye(3)[0]  # four well separated sites
    for delta, covered in ((0.95 * limit, 1.0), (1.05 * limit, 0.0)):
        x = np.concatenate([far + delta * np.eye(3)[1], far - delta * np.eye(3)[1]])
        result = coverage(far, x, H)
        assert result.fraction == covered
        assert result.mean_dh == pytest.approx(-np.log(2 * np.exp(-(delta**2) / (2 * H * H))))
    x = np.random.default_rng(3).normal(scale=0.02, size=(200, 6))
    assert coverage(x, x, H).fraction == 1.0  # every set covers itself


# ---------------------------------------------------------------- autocorrelation
def ar1(phi: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=n)
    x = np.empty(n)
    x[0] = noise[0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    return x


def test_autocorrelation_function_matches_the_direct_sum():
    x = ar1(0.5, 64, 4)
    y = x - x.mean()
    direct = np.array([np.dot(y[: len(y) - t], y[t:]) for t in range(len(y))]) / np.dot(y, y)
    assert np.allclose(autocorrelation(x), direct, atol=1e-12)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_integrated_time_of_an_ar1_process(phi):
    # Exact: τ = (1 + φ) / (1 − φ).
    estimate = integrated_time(ar1(phi, 100_000, 5))
    assert estimate.tau == pytest.approx((1 + phi) / (1 - phi), rel=0.1)
    assert estimate.reliable and estimate.ess == pytest.approx(100_000 / estimate.tau)
    assert math.isnan(integrated_time(np.ones(10)).tau)


def test_a_series_shorter_than_its_correlation_time_is_not_called_uncorrelated():
    # A third of a slow oscillation: its sample ACF falls through zero (every sample ACF sums
    # to −1/2), so Sokal's window alone would close on the falling partial sums (τ ≈ 3.2).
    estimate = integrated_time(np.sin(2 * np.pi * np.arange(24) / 72))
    assert estimate.tau > 5 and estimate.ess < 5 and not estimate.reliable


def test_rms_displacement_is_measured_from_the_mean_structure_across_periodic_images():
    atoms = bulk("Cu", cubic=True)
    amplitude = np.array([0.1, -0.2, 0.3, 0.0])
    frames = []
    for t, sign in enumerate([1, -1, 1, -1]):
        frame = atoms.copy()
        frame.positions[:, 0] += sign * amplitude[t]
        frame.positions[0] += atoms.cell[1] * (t % 2)  # wrapped differently: same structure
        frames.append(frame)
    u = np.array([1, -1, 1, -1]) * amplitude
    expected = np.abs(u - u.mean())
    assert np.allclose(rms_displacement(frames), expected, atol=1e-12)


# ---------------------------------------------------------------- physicality
def test_contacts_and_shortest_distances_include_periodic_images():
    # Cu (r_cov 1.32 Å): contact below 0.75 × 2.64 = 1.98 Å.
    dimer = Atoms("Cu2", positions=[(0, 0, 0), (1.9, 0, 0)], cell=[20, 20, 20], pbc=True)
    chain = Atoms("Cu", positions=[(0, 0, 0)], cell=[2.2, 20, 20], pbc=True)
    apart = Atoms("Cu2", positions=[(0, 0, 0), (2.5, 0, 0)], cell=[20, 20, 20], pbc=True)
    shortest, close = contact_scan([dimer, chain, apart])
    assert np.allclose(shortest, [1.9, 2.2, 2.5]) and close.tolist() == [True, False, False]
    assert contact_scan([chain], fraction=0.9)[1].tolist() == [True]


def test_beyond_thermal_compares_with_k_t_at_each_frames_temperature():
    excess = np.array([0.05, 0.05, 0.2])
    temperatures = np.array([100.0, 300.0, 600.0])
    assert (
        beyond_thermal(excess, temperatures, 3.0).tolist()
        == (excess > 3 * kB * temperatures).tolist()
    )
    assert beyond_thermal(excess, temperatures, 3.0).tolist() == [True, False, True]


# ---------------------------------------------------------------- constructed sets
@pytest.fixture(scope="module")
def md_runs():
    """One Langevin run of EMT Cu (4-atom cubic cell) at 600 K, 2 fs steps: 24 frames 25 steps
    apart, then 24 consecutive frames."""
    rng = np.random.default_rng(1)
    atoms = bulk("Cu", cubic=True)
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=1200, rng=rng)  # equipartition: → 600 K
    Stationary(atoms)
    dyn = Langevin(atoms, 2 * units.fs, temperature_K=600, friction=0.01 / units.fs, rng=rng)
    dyn.run(100)

    def frames(stride: int) -> list[Atoms]:
        out = []
        for step in range(24):
            dyn.run(stride)
            frame = atoms.copy()
            frame.calc = SinglePointCalculator(frame, energy=atoms.get_potential_energy())
            frame.info.update(scheme="aimd", system="Cu", seed=1, temperature=600.0)
            frame.info["params"] = {"stride": stride, "step": step * stride}
            out.append(frame)
        return out

    decorrelated = frames(25)
    return frames(1), decorrelated


def test_stride_one_md_is_less_diverse_and_more_correlated_than_decorrelated_frames(md_runs):
    correlated, decorrelated = md_runs
    settings = DescriptorSettings()
    scores = {}
    for name, frames in (("stride-1", correlated), ("stride-25", decorrelated)):
        env = environments(frames, settings)
        energies = np.array([f.get_potential_energy() / len(f) for f in frames])
        scores[name] = {
            "entropy": information(env.x, H).entropy,
            "vendi": vendi_score(structure_kernel(env, H)),
            "ess": run_correlation(frames, energies)["ess"],
        }
        # curate's entropy is quests's entropy of quests's descriptors.
        assert scores[name]["entropy"] == pytest.approx(entropy(get_descriptors(frames), h=H))
    for metric in ("entropy", "vendi", "ess"):
        assert scores["stride-1"][metric] < scores["stride-25"][metric], metric
    assert scores["stride-1"]["ess"] < 6 < scores["stride-25"]["ess"]


def test_duplicating_frames_lowers_the_vendi_score(md_runs):
    frames = md_runs[1][:16]
    half = frames[:8]
    settings = DescriptorSettings()

    def vendi(subset):
        return vendi_score(structure_kernel(environments(subset, settings), H))

    assert vendi(half + half) < vendi(frames)
    assert vendi(half + half) == pytest.approx(vendi(half))


def test_ordered_runs_follow_the_steps_and_keep_runs_apart(md_runs):
    correlated, decorrelated = md_runs
    shuffled = [*decorrelated[::-1], *correlated]
    runs = ordered_runs(shuffled)
    assert [r.tolist() for r in runs] == [list(range(23, -1, -1)), list(range(24, 48))]
    assert ordered_runs(correlated[: 8 - 1]) == []  # too short for an autocorrelation time


# ---------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def copper_sets(tmp_path_factory):
    """Cu 2×2×2 (EMT-relaxed): random displacements of 0.8 Å and phonon frames at 300 K, all
    labelled with EMT."""
    from curate.cli.app import app
    from typer.testing import CliRunner

    root = tmp_path_factory.mktemp("copper")
    structure, path = root / "Cu.cif", root / "S.zarr"
    write(structure, bulk("Cu", cubic=True))
    common = ["--system", structure, "--supercell", "2", "--relax", "emt", "--out", path]
    random = ["--scheme", "random", "--amplitude", "0.8", "-n", "12", "--allow-close"]
    phonon = ["--scheme", "phonon", "--temperature", "300", "--calculator", "emt"]
    commands = [
        ["sample", *common, *random],
        ["sample", *common, *phonon, "--imaginary", "abs", "-n", "12", "--seed", "1"],
        ["label", path, "--calculator", "emt", "--workers", "1"],
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CURATE_CACHE", str(root / "cache"))
        for command in commands:
            result = CliRunner().invoke(app, [str(a) for a in command])
            assert result.exit_code == 0, result.stderr
    return path


@pytest.fixture
def copper_store(copper_sets, monkeypatch):
    """The copper sets, with the relaxation cache they were sampled with."""
    monkeypatch.setenv("CURATE_CACHE", str(copper_sets.parent / "cache"))
    return copper_sets


def test_random_displacements_are_less_physical_than_phonon_frames(cli, copper_store, tmp_path):
    report = cli.json("diversity", copper_store, "--by", "scheme", "--plot", tmp_path / "plots")
    random, phonon = report["groups"]["random"], report["groups"]["phonon"]
    assert random["close_contact_fraction"] > phonon["close_contact_fraction"] == 0.0
    assert random["min_distance"]["min"] < phonon["min_distance"]["min"]
    assert random["energy"]["beyond_kT_fraction"] > phonon["energy"]["beyond_kT_fraction"]
    for group in (random, phonon):
        assert set(group) >= {"n_frames", "entropy", "diversity", "vendi", "min_distance"}
        assert group["n_frames"] == 12 and group["energy"]["n_labelled"] == 12
        assert group["matched"]["size"] == 12 and group["autocorrelation"] is None
    # Phonon frames at 300 K hold about 3/2 kT per atom above the EMT minimum.
    assert 0.5 < phonon["energy"]["above_reference"]["mean"] / (kB * 300) < 2.5
    assert report["label_set"] == "emt"
    # The reference is the EMT-relaxed cell, computed independently here.
    relaxed = relax(bulk("Cu", cubic=True).repeat(2), parse_spec("emt"))
    reference = report["energy_reference"]["Cu"]
    assert reference["kind"] == "relaxed"
    assert reference["energy_per_atom"] == pytest.approx(relaxed.info["relaxed_energy"] / 32)
    png = tmp_path / "plots" / "diversity_pca.png"
    assert report["plot"]["pca_map"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_set_covers_itself_and_size_matching_is_seeded(cli, copper_store):
    first = cli.json("diversity", copper_store, "--reference", copper_store, "--size", "8")
    assert first["reference"]["n_frames"] == 24 and first["matched_size"] == 8
    for group in first["groups"].values():
        assert group["coverage"]["fraction"] < 1.0  # one scheme alone misses the other's
        matched = group["matched"]
        assert matched["repeats"] == 5 and matched["entropy"]["std"] > 0
    # Well separated environments: fewer frames, less entropy.
    random = first["groups"]["random"]
    assert random["matched"]["entropy"]["mean"] < random["entropy"]
    whole = cli.json("diversity", copper_store, "--by", "all", "--reference", copper_store)
    assert whole["groups"]["all"]["coverage"]["fraction"] == 1.0
    assert whole["groups"]["all"]["coverage"]["mean_dH"] < 0
    again = cli.json("diversity", copper_store, "--size", "8")
    assert again["groups"]["random"]["matched"]["vendi"] == random["matched"]["vendi"]
    reseeded = cli.json("diversity", copper_store, "--size", "8", "--seed", "1")
    assert reseeded["groups"]["random"]["matched"]["vendi"] != random["matched"]["vendi"]


def test_md_frames_report_their_effective_sample_size(cli, tmp_path, copper_file):
    path = tmp_path / "md.zarr"
    cli.json(
        "sample",
        *("--system", copper_file, "--supercell", "2", "--scheme", "aimd", "--calculator", "emt"),
        *("-n", "24", "--temperature", "300", "--stride", "1", "--equilibration", "20"),
        *("--timestep", "2", "--out", path),
    )
    report = cli.json("diversity", path)
    correlation = report["groups"]["aimd"]["autocorrelation"]
    assert correlation["runs"] == 1 and correlation["frames"] == 24
    assert set(correlation["series"]) == {"rms_displacement", "energy_per_atom"}
    assert 1 <= correlation["ess"] < 24
    assert report["energy_reference"]["Cu"]["kind"] == "lowest-frame"  # never relaxed
    assert report["groups"]["aimd"]["energy"]["above_reference"]["mean"] >= 0
    assert report["matched_size"] is None and "matched" not in report["groups"]["aimd"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "no store at"),
        (["{store}", "--by", "colour"], "unknown --by 'colour'"),
        (["{store}", "--size", "100"], "--size 100 is larger than group 'random' (12 frames)"),
        (["{store}", "--reference", "{missing}"], "no store at"),
        (["{store}", "--labels", "gpaw"], "no label set 'gpaw'"),
        (["{store}", "--bandwidth", "0"], "bandwidth must be positive"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, random_store, tmp_path, args, message):
    fill = {"store": random_store, "missing": tmp_path / "nowhere.zarr"}
    result = cli("diversity", *[a.format(**fill) for a in args])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("curate: error: ")
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_store_without_labels_reports_no_energies(cli, random_store):
    report = cli.json("diversity", random_store)
    group = report["groups"]["random"]
    assert report["label_set"] is None and group["energy"] is None
    assert report["energy_reference"] == {} and "coverage" not in group
    assert 0 < group["close_contact_fraction"] <= 1 and 1 <= group["vendi"] <= 12
    assert Store.open(random_store).n_frames == 12


def test_diversity_of_the_band_gap_campaign_prints_no_library_warnings():
    """On the shipped 350-frame campaign, with torch's OpenMP loaded as in `curate compare`,
    the report leaves stderr free of OpenBLAS's threading warnings (scipy's own OpenBLAS is
    loaded after numpy's and must be held to one thread too)."""
    import subprocess
    import sys
    from pathlib import Path

    shipped = Path(__file__).parents[1] / "datasets" / "bandgap"
    code = (
        "import torch\n"
        "from curate.metrics.diversity import diversity_report\n"
        f"diversity_report('{shipped / 'sets.zip'}', by='scheme',"
        f" reference='{shipped / 'reference.zip'}', label_set='cp2k')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "OpenBLAS" not in done.stderr
