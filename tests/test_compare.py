"""curate compare: cost accounting from provenance, nested subsets and fixed test splits,
errors on every test set from the cached predictions, the cell cache, and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gnn_data import labelled_store, strained_frames

from curate.compare.costs import scheme_costs
from curate.compare.grid import COMBINED, REFERENCE, Cell, plan
from curate.compare.run import compare
from curate.compare.scores import cell_rows, curve_area, needed_to_reach, summarise
from curate.compare.settings import CompareSettings
from curate.core.errors import InputError
from curate.core.provenance import Provenance
from curate.store import Store

FAST = {"cutoff": 4.0, "max_epochs": 4, "patience": 2, "hidden": 8, "batch_size": 4}


@pytest.fixture(autouse=True)
def graph_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))


def _phonon(seed: int, draw: int) -> Provenance:
    cost = {
        "force_constant_calls": 3,
        "force_constant_cpu_s": 1.5,
        "renormalization_md_calls": 100,
        "renormalization_md_cpu_s": 50.0,
    }
    params = {
        "calculator": "emt",
        "harmonic_force_constants": "h1",
        "force_constants": "r1",
        "draw": draw,
        "cost": cost,
    }
    return Provenance("phonon", "test", params, seed=seed)


def _md(seed: int, run: int, calculator: str = "emt", scheme: str = "aimd") -> Provenance:
    params = {"calculator": calculator, "run": run, "cost": {"md_calls": 60, "md_cpu_s": 6.0}}
    return Provenance(scheme, "test", params, seed=seed, temperature=300.0)


@pytest.fixture(scope="module")
def schemes_store(tmp_path_factory):
    """24 frames of each of three schemes of 4-atom Cu, EMT labels costing 2 CPU-s each."""
    path = tmp_path_factory.mktemp("cmp") / "s.zarr"
    frames = strained_frames("Cu", 72, seed=3)
    provenance = [Provenance("random", "test", {}, seed=1) for _ in range(24)]
    provenance += [_phonon(seed=2, draw=k) for k in range(24)]
    provenance += [_md(seed=3, run=k // 12) for k in range(24)]
    return labelled_store(path, frames, provenance=provenance, cpu_s=2.0)


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    return labelled_store(path, strained_frames("Cu", 10, seed=9))


def test_costs_count_each_run_once_and_split_fixed_from_per_frame(tmp_path):
    frames = strained_frames("Cu", 9, seed=0)
    provenance = [_phonon(seed=1, draw=k) for k in range(4)]  # one set of force constants
    provenance += [_md(seed=5, run=0), _md(seed=5, run=0), _md(seed=5, run=1)]  # two MD runs
    provenance += [_md(seed=6, run=0, calculator="mace:m.model", scheme="mlip-md")] * 2
    path = labelled_store(tmp_path / "c.zarr", frames, provenance=provenance, cpu_s=2.0)
    with Store.open(path) as store:
        costs = scheme_costs(store, "emt")
    phonon, aimd, mlip = costs["phonon"], costs["aimd"], costs["mlip-md"]
    assert phonon.frames == 4 and phonon.fixed.calls == 103 and phonon.fixed.cpu_s == 51.5
    assert phonon.labels.calls == 4 and phonon.per_frame().calls == 1.0
    assert phonon.at(10).calls == 113 and phonon.at(10).cpu_s == pytest.approx(71.5)
    # Every AIMD frame in this store was labelled too (2 CPU-s), on top of 2 runs × 60 calls.
    assert aimd.fixed.calls == 0 and aimd.per_run.calls == 120 and aimd.labels.calls == 3
    assert aimd.per_frame().calls == pytest.approx(41.0)
    # The MLIP's MD steps are not oracle calls; only the labels are.
    assert mlip.total.calls == 2 and mlip.as_dict()["other_calculators"] == {
        "mace:m.model (md)": {"calls": 60.0, "cpu_s": 6.0}
    }


def test_settings_take_their_family_defaults_and_load_no_torch():
    """Each model names one family, which fills in what is left out; checking settings (as a
    recipe does) imports neither torch, Dask nor MACE."""
    import subprocess
    import sys

    from curate.compare.families import FAMILIES, family_of
    from curate.models.networks import MODELS

    assert FAMILIES["property"].models() == tuple(MODELS)
    assert {family_of(m).name for m in MODELS} == {"property"}
    assert family_of("mace").name == "mace"
    gnn, mace = CompareSettings(), CompareSettings.build("compare", model="mace", lr=None)
    assert gnn.targets == ("energy_per_atom",)
    assert (gnn.lr, gnn.max_epochs, gnn.patience) == (3e-3, 300, 50)
    assert (mace.lr, mace.max_epochs, mace.patience) == (0.01, 60, 15)
    assert CompareSettings(sizes=(40, 20, 40)).sizes == (20, 40)
    assert "[default: 5]" in CompareSettings.describe("seeds")
    code = (
        "import sys\n"
        "from curate.compare.settings import CompareSettings\n"
        "CompareSettings(); CompareSettings(model='mace')\n"
        "print(sorted(m for m in ('torch', 'dask', 'distributed', 'mace') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_splits_are_fixed_disjoint_and_subsets_nested(schemes_store):
    settings = CompareSettings(sizes=(5, 10), seeds=2, **FAST)
    with Store.open(schemes_store) as store:
        grid = plan(store, settings)
    assert grid.schemes == ["aimd", "phonon", "random"]
    for scheme in grid.schemes:
        assert len(grid.tests[scheme]) == 5 and len(grid.pools[scheme]) == 19
        assert not set(grid.tests[scheme]) & set(grid.pools[scheme])
        for seed in range(2):
            small = grid.subset(Cell(scheme, "energy_per_atom", 5, seed), 0.2)
            large = grid.subset(Cell(scheme, "energy_per_atom", 10, seed), 0.2)
            chosen_small = set(small["train"]) | set(small["val"])
            assert len(chosen_small) == 5 and len(small["val"]) == 1
            assert chosen_small <= set(large["train"]) | set(large["val"])
            assert not set(large["train"]) & set(large["val"])
            assert np.array_equal(small["test"], grid.tests[scheme])
        assert grid.sizes(scheme, (5, 19, 20)) == [5, 19]  # a curve stops at its pool
    with Store.open(schemes_store) as store, pytest.raises(InputError, match="larger than"):
        plan(store, CompareSettings(sizes=(20, 25), **FAST))


def test_chosen_order_trains_on_the_first_frames_and_tests_on_the_last(schemes_store):
    settings = CompareSettings(sizes=(5, 10), seeds=2, order="chosen", **FAST)
    with Store.open(schemes_store) as store:
        grid = plan(store, settings)
        schemes = store.categorical("scheme")
    for scheme in grid.schemes:
        members = np.flatnonzero(schemes == scheme)  # store order: the order they were chosen
        assert np.array_equal(grid.tests[scheme], members[-5:])
        for seed in range(2):
            cell = grid.subset(Cell(scheme, "energy_per_atom", 5, seed), 0.2)
            assert sorted({*cell["train"], *cell["val"]}) == members[:5].tolist()


def test_errors_on_every_test_set_come_from_the_predictions(schemes_store, reference_store):
    """Predictions offset by a known amount per scheme give exactly that MAE everywhere."""
    from curate.compare.grid import load_reference

    settings = CompareSettings(sizes=(5,), seeds=1, **FAST)
    with Store.open(schemes_store) as store:
        grid = plan(store, settings)
        costs = scheme_costs(store, "emt")
    reference = load_reference(reference_store, settings, "emt")
    union = grid.test_union
    truth = grid.values["energy_per_atom"][union]
    offsets = {"aimd": 0.1, "phonon": -0.2, "random": 0.3}
    results = {
        Cell(s, "energy_per_atom", 5, 0): {
            "tests": (truth + d).tolist(),
            "reference": (reference.values["energy_per_atom"] + d).tolist(),
            "epochs": 1,
            "seconds": 0.0,
        }
        for s, d in offsets.items()
    }
    rows = cell_rows(grid, results, costs, reference)
    for row in rows:
        assert row["mae"] == pytest.approx(abs(offsets[row["scheme"]]))
        assert row["bias"] == pytest.approx(offsets[row["scheme"]])
    sets = {r["test_set"] for r in rows}
    assert sets == {"aimd", "phonon", "random", COMBINED, REFERENCE}
    combined = next(r for r in rows if r["test_set"] == COMBINED)
    assert combined["n"] == 15
    phonon = next(r for r in rows if r["scheme"] == "phonon")
    assert phonon["cost_calls"] == 103 + 5  # force constants once, then one label per frame
    assert summarise(rows)[0]["n_seeds"] == 1


def test_no_model_is_scored_on_a_frame_it_was_fitted_on(schemes_store, reference_store):
    """Selections from one pool share frames: a test frame with the content of a frame a model
    trained on leaves that model's scores, and the union counts each distinct frame once."""
    from curate.compare.grid import load_reference

    settings = CompareSettings(sizes=(5,), seeds=1, **FAST)
    with Store.open(schemes_store) as store:
        grid = plan(store, settings)
        costs = scheme_costs(store, "emt")
    reference = load_reference(reference_store, settings, "emt")
    aimd, phonon = Cell("aimd", "energy_per_atom", 5, 0), Cell("phonon", "energy_per_atom", 5, 0)
    trained = grid.subset(aimd, settings.val_fraction)["train"][0]
    grid.uids = grid.uids.copy()
    grid.uids[grid.tests["phonon"][0]] = grid.uids[trained]  # phonon tests a frame aimd fitted
    grid.uids[grid.tests["random"][0]] = grid.uids[grid.tests["aimd"][0]]  # one frame twice
    reference.uids = reference.uids.copy()
    reference.uids[0] = grid.uids[trained]
    union = grid.test_union
    truth = grid.values["energy_per_atom"][union]
    outcome = {
        "tests": truth.tolist(),
        "reference": reference.values["energy_per_atom"].tolist(),
        "epochs": 1,
        "seconds": 0.0,
    }
    rows = cell_rows(grid, {aimd: outcome, phonon: outcome}, costs, reference)
    n = {(r["scheme"], r["test_set"]): r["n"] for r in rows}
    n_reference = len(reference.uids)
    assert n[("aimd", "phonon")] == 4 and n[("phonon", "phonon")] == 5
    assert n[("aimd", COMBINED)] == 13 and n[("phonon", COMBINED)] == 14
    assert n[("aimd", REFERENCE)] == n_reference - 1 and n[("phonon", REFERENCE)] == n_reference
    assert n[("aimd", "random")] == n[("phonon", "random")] == 5  # a scheme's own split is whole


def test_a_combined_set_draws_from_every_pool_and_is_tested_on_the_union(schemes_store):
    """The paper's combined set: one more scheme whose first frames come from every scheme in
    turn, whose own test split is the union, and which pays every scheme's fixed cost."""
    from curate.compare.run import check_inputs
    from curate.compare.scores import test_sets

    settings = CompareSettings(sizes=(6, 30), seeds=1, combined=True, **FAST)
    with Store.open(schemes_store) as store:
        grid = plan(store, settings)
        schemes = store.categorical("scheme")
    own = ["aimd", "phonon", "random"]
    assert grid.schemes == ["aimd", COMBINED, "phonon", "random"]
    pool = grid.pools[COMBINED]
    assert sorted(pool) == sorted(np.concatenate([grid.pools[s] for s in own]).tolist())
    assert sorted(schemes[pool[:6]].tolist()) == sorted(own * 2)
    assert np.array_equal(grid.tests[COMBINED], grid.test_union) and len(grid.test_union) == 15
    assert grid.sizes(COMBINED, settings.sizes) == [6, 30] and grid.sizes("aimd", (6, 30)) == [6]
    assert test_sets(grid, None) == [*own, COMBINED]
    _, costs = check_inputs(schemes_store, settings)
    combined = costs[COMBINED]
    assert combined.frames == 72 and combined.fixed.calls == 103  # phonon's force constants
    assert combined.at(0).calls == 103
    spent = sum(c.total.calls for name, c in costs.items() if name != COMBINED)
    assert combined.at(72).calls == pytest.approx(spent)
    union = grid.test_union
    outcome = {"tests": grid.values["energy_per_atom"][union].tolist(), "reference": None}
    rows = cell_rows(
        grid,
        {Cell(COMBINED, "energy_per_atom", 6, 0): outcome | {"epochs": 1, "seconds": 0.0}},
        costs,
        None,
    )
    assert [(r["test_set"], r["n"], r["mae"]) for r in rows] == [
        ("aimd", 5, 0.0),
        ("phonon", 5, 0.0),
        ("random", 5, 0.0),
        (COMBINED, 15, 0.0),
    ]


def test_curve_area_and_size_to_goal():
    points = [
        {"size": 10, "mae_mean": 0.4, "cost_calls": 110},
        {"size": 100, "mae_mean": 0.1, "cost_calls": 200},
    ]
    assert curve_area(points) == pytest.approx(0.25)
    assert needed_to_reach(points, 0.4, "size") == 10
    assert needed_to_reach(points, 0.2, "size") == pytest.approx(10**1.5)  # halfway in log–log
    assert needed_to_reach(points, 0.05, "size") is None


def test_compare_writes_the_report_and_reuses_trained_cells(
    schemes_store, reference_store, tmp_path
):
    out = tmp_path / "report"
    settings = CompareSettings(
        targets=("energy_per_atom", "hydrostatic_stress"), sizes=(5, 10), seeds=2, **FAST
    )
    seen = []
    report = compare(
        schemes_store,
        settings,
        out,
        reference=reference_store,
        with_diversity=False,
        client_options={"workers": 1},
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (24, 24)
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["headline_test_set"] == REFERENCE
    keys = {(c["scheme"], c["target"], c["size"], c["test_set"]) for c in on_disk["curves"]}
    assert len(keys) == 3 * 2 * 2 * 5  # schemes × targets × sizes × test sets
    assert all(c["n_seeds"] == 2 for c in on_disk["curves"])
    assert set(report["cross_test"]["hydrostatic_stress"]["mae"]) == {"aimd", "phonon", "random"}
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 6  # 3 figures × 2 targets, embedded
    cells = sorted((out / "cells").glob("*.json"))
    assert len(cells) == 24
    stamps = {p: p.stat().st_mtime_ns for p in cells}
    # The same grid again trains nothing; one more seed trains only the new cells.
    seen.clear()
    again = compare(schemes_store, settings, out, reference=reference_store, with_diversity=False)
    assert seen == [] and again["curves"] == report["curves"]
    assert {p: p.stat().st_mtime_ns for p in cells} == stamps
    more = CompareSettings(
        targets=("energy_per_atom", "hydrostatic_stress"), sizes=(5, 10), seeds=3, **FAST
    )
    compare(
        schemes_store,
        more,
        out,
        reference=reference_store,
        with_diversity=False,
        client_options={"workers": 1},
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (24, 36) and seen[-1] == (36, 36)


def test_compare_command_refuses_bad_input_in_one_line(cli, schemes_store, tmp_path):
    out = tmp_path / "never"
    for args, message in (
        (["--sizes", "500"], "larger than the frames left"),
        (["--model", "mace", "--target", "band_gap"], "a MACE potential predicts"),
        (["--sizes", "2"], "at least 3"),
        (["--model", "gcn"], "unknown model"),
        (["--target", "band_gap"], "no 'band_gap' labels"),
        (["--reference", tmp_path / "missing.zarr"], "no store at"),
    ):
        result = cli("compare", schemes_store, "--out", out, *args)
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not out.exists()


@pytest.mark.slow
def test_mace_cells_score_energy_forces_and_stress_of_their_own_model(
    schemes_store, reference_store, tmp_path
):
    """One MACE potential per cell serves every target; the reported errors on the reference
    are those of the kept model called directly through its ASE calculator."""
    from mace.calculators import MACECalculator

    from curate.core.labels import EV_PER_A3_TO_GPA

    out = tmp_path / "mace"
    settings = CompareSettings(
        model="mace", sizes=(5,), seeds=1, hidden=4, max_epochs=2, patience=2, batch_size=4
    )
    assert settings.targets == ("energy_per_atom", "forces", "stress")
    report = compare(
        schemes_store,
        settings,
        out,
        reference=reference_store,
        with_diversity=False,
        client_options={"workers": 2},
    )
    cached = sorted((out / "cells").glob("*.json"))
    assert len(cached) == 3  # one potential per scheme, not one per target
    with Store.open(reference_store) as store:
        frames = store.atoms(label_set="emt")
    curves = report["curves"]
    for path in cached:
        scheme = json.loads(path.read_text())["cell"]["scheme"]
        model = path.with_suffix("") / "model.model"
        calc = MACECalculator(model_paths=str(model), device="cpu", default_dtype="float64")
        errors = {"forces": [], "stress": [], "energy_per_atom": []}
        for atoms in frames:
            bare = atoms.copy()
            bare.calc = calc
            errors["forces"] += list((bare.get_forces() - atoms.arrays["REF_forces"]).ravel())
            errors["stress"] += list(
                (bare.get_stress() - atoms.info["REF_stress"]) * EV_PER_A3_TO_GPA
            )
            e = (bare.get_potential_energy() - atoms.info["REF_energy"]) / len(atoms)
            errors["energy_per_atom"].append(e)
        for target, err in errors.items():
            row = next(
                c
                for c in curves
                if c["scheme"] == scheme and c["target"] == target and c["test_set"] == REFERENCE
            )
            assert row["mae_mean"] == pytest.approx(np.abs(err).mean(), rel=1e-6)
    forces = next(c for c in curves if c["target"] == "forces" and c["test_set"] == REFERENCE)
    assert forces["n_test"] == 10 * 4 * 3  # every force component of the reference


def test_frames_with_a_closed_gap_are_left_out_and_counted(tmp_path):
    """min_band_gap: the paper kept gaps above 0.1 eV; frames at or below it (or without a gap)
    leave every split, and each scheme says how many went."""
    from ase.calculators.emt import EMT

    from curate.core.labels import LabelResult, Status

    frames = strained_frames("Cu", 24, seed=4)
    provenance = [
        Provenance("random" if i < 12 else "phonon", "test", {}, seed=1) for i in range(24)
    ]
    gaps = np.where(np.isin(np.arange(24), [0, 1, 2, 12]), 0.05, 0.4)
    results = []
    for i, atoms in enumerate(frames):
        atoms = atoms.copy()
        atoms.calc = EMT()
        values = {"energy": atoms.get_potential_energy(), "band_gap": float(gaps[i])}
        results.append(LabelResult(i, Status.OK, values))
    with Store.create(tmp_path / "g.zarr") as store:
        store.append(frames, provenance)
        store.create_label_set("dft", "emt", ["energy", "band_gap"])
        store.write_labels("dft", results)
        kept = plan(store, CompareSettings(sizes=(3,), targets=("band_gap",), min_band_gap=0.1))
        every = plan(store, CompareSettings(sizes=(3,), targets=("band_gap",)))
    assert kept.closed == {"random": 3, "phonon": 1} and every.closed == {"random": 0, "phonon": 0}
    for scheme, n in (("random", 9), ("phonon", 11)):
        frames_kept = np.concatenate([kept.tests[scheme], kept.pools[scheme]])
        assert len(frames_kept) == n and (gaps[frames_kept] > 0.1).all()
