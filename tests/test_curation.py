"""Curating an existing pool: ``curate select``, ``filter`` and ``dedupe`` choose the frames a
user expects (checked against brute force and direct calculator calls), write them with their
labels and a record of the choice, and never change the source store."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.geometry import find_mic
from gnn_data import labelled_store

from curate.core.labels import LabelResult, Status
from curate.core.provenance import Provenance
from curate.curation.selectors import share_turns
from curate.curation.vectors import frame_vectors
from curate.store import Store

LATTICES = (3.45, 3.61, 3.80)
"""Three well-separated groups of fcc Cu frames (strained cells, small rattles)."""


def grouped_frames(per_group: int = 6, seed: int = 0) -> tuple[list, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames, group = [], []
    for g, a in enumerate(LATTICES):
        for _ in range(per_group):
            atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat(2)
            atoms.positions += rng.normal(0, 0.03, atoms.positions.shape)
            frames.append(atoms)
            group.append(g)
    return frames, np.array(group)


@pytest.fixture
def pool(tmp_path):
    """18 EMT-labelled frames in three groups, one scheme per group."""
    frames, group = grouped_frames()
    provenance = [
        Provenance(scheme=("random", "phonon", "aimd")[g], system="Cu", seed=0, temperature=t)
        for g, t in zip(group, (300.0, 300.0, 600.0) * 6, strict=True)
    ]
    return labelled_store(tmp_path / "pool.zarr", frames, provenance=provenance), frames, group


def chosen(cli, pool_path, out, *args) -> dict:
    return cli.json("select", pool_path, "--out", out, *args)


def brute_fps(x: np.ndarray, start: int, n: int) -> list[int]:
    picked = [start]
    while len(picked) < n:
        d = np.array([min(np.linalg.norm(x[i] - x[j]) for j in picked) for i in range(len(x))])
        picked.append(int(np.argmax(d)))
    return picked


def test_fps_matches_brute_force_farthest_points(pool, tmp_path, cli, snapshot):
    path, frames, _ = pool
    before = snapshot(path)
    payload = chosen(cli, path, tmp_path / "fps.zarr", "-n", "5", "--method", "fps", "--seed", "3")
    x = frame_vectors(frames, "quests")
    start = payload["details"]["start"]
    assert payload["indices"] == brute_fps(x, start, 5)
    assert snapshot(path) == before  # the pool is never changed


@pytest.mark.parametrize("method", ["kmeans", "msc", "fps"])
def test_descriptor_methods_take_one_frame_from_each_distinct_group(pool, tmp_path, cli, method):
    path, _, group = pool
    payload = chosen(cli, path, tmp_path / f"{method}.zarr", "-n", "3", "--method", method)
    assert sorted(group[payload["indices"]]) == [0, 1, 2]


def test_cur_picks_distinct_frames_and_refuses_beyond_the_rank(pool, tmp_path, cli):
    path, _, group = pool
    payload = chosen(cli, path, tmp_path / "cur.zarr", "-n", "6", "--method", "cur")
    assert len(set(payload["indices"])) == 6 and len(set(group[payload["indices"]])) >= 2
    x = frame_vectors(pool[1], "quests")
    rank = np.linalg.matrix_rank(x)
    if rank < len(x):
        result = cli(
            "select", path, "-n", str(rank + 1), "--method", "cur", "--out", tmp_path / "c"
        )
        assert result.exit_code == 2 and "rank" in result.stderr


def test_the_chosen_frames_keep_labels_provenance_and_a_record(pool, tmp_path, cli):
    path, _, _ = pool
    out = tmp_path / "sub.zarr"
    payload = chosen(cli, path, out, "-n", "4", "--method", "random", "--seed", "9")
    again = chosen(
        cli, path, tmp_path / "again.zarr", "-n", "4", "--method", "random", "--seed", "9"
    )
    assert payload["indices"] == again["indices"]  # a seed reproduces the choice
    idx = payload["indices"]
    with Store.open(path) as source, Store.open(out) as sub:
        assert sub.n_frames == 4
        assert np.array_equal(sub.uids(), source.uids()[idx])
        assert sub.provenance() == source.provenance(idx)
        a, b = source.labels("emt", idx), sub.labels("emt")
        for prop in ("energy", "forces", "stress"):
            assert np.array_equal(a[prop], b[prop])
        (record,) = sub.history()
        assert record["step"] == "select" and record["indices"] == idx
        assert record["settings"]["method"] == "random" and record["settings"]["seed"] == 9
        assert record["source"] == str(path) and record["source_frames"] == 18
    info = cli.json("info", out)
    assert info["history"][0]["step"] == "select"


def test_energy_uniform_spans_the_energies(pool, tmp_path, cli):
    path, frames, _ = pool
    energies = []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = EMT()
        energies.append(atoms.get_potential_energy() / len(atoms))
    energies = np.array(energies)
    payload = chosen(cli, path, tmp_path / "e.zarr", "-n", "4", "--method", "energy-uniform")
    picked = energies[payload["indices"]]
    assert picked[0] == energies.min() and picked[1] == energies.max()  # then the widest gap
    targets = np.linspace(energies.min(), energies.max(), 4)
    # No other 4 frames lie closer, target by target, to an even spread.
    best = min(
        np.abs(np.sort(energies[list(c)]) - targets).max()
        for c in itertools.combinations(range(len(energies)), 4)
    )
    assert np.abs(np.sort(picked) - targets).max() == pytest.approx(best)


def test_uncertainty_takes_the_frames_a_committee_disagrees_on_most(pool, tmp_path, cli):
    path, frames, _ = pool
    # With two models, σ of an atom is half the distance of their forces; a frame scores its
    # largest σ.
    sigma = []
    for atoms in frames:
        forces = []
        for calc in (EMT(), LennardJones()):
            atoms = atoms.copy()
            atoms.calc = calc
            forces.append(atoms.get_forces())
        sigma.append((np.linalg.norm(forces[0] - forces[1], axis=1) / 2).max())
    models = "emt,ase:ase.calculators.lj.LennardJones"
    payload = chosen(
        cli, path, tmp_path / "u.zarr", "-n", "3", "--method", "uncertainty", "--committee", models
    )
    assert payload["indices"] == np.argsort(-np.array(sigma), kind="stable")[:3].tolist()


def test_stratified_takes_equal_shares_of_each_scheme(pool, tmp_path, cli):
    path, _, group = pool
    payload = chosen(cli, path, tmp_path / "s.zarr", "-n", "7", "--method", "stratified")
    counts = np.bincount(group[payload["indices"]], minlength=3)
    assert sorted(counts) == [2, 2, 3]
    by_temperature = chosen(
        cli, path, tmp_path / "t.zarr", "-n", "4", "--method", "stratified", "--by", "temperature"
    )
    assert by_temperature["details"]["per_stratum"] == {"300.0": 2, "600.0": 2}


def test_share_turns_make_every_prefix_the_most_even_split():
    sizes = {"a": 1, "b": 5, "c": 3}
    turns = share_turns(sizes, 9)
    for n in range(1, 10):
        assert share_turns(sizes, n) == turns[:n]
        share = [turns[:n].count(s) for s in sizes]
        assert sum(share) == n and all(k <= v for k, v in zip(share, sizes.values(), strict=True))
        # The most even split: the smallest largest share among all feasible splits.
        feasible = [
            c for c in itertools.product(*(range(v + 1) for v in sizes.values())) if sum(c) == n
        ]
        assert max(share) == min(max(c) for c in feasible)


@pytest.mark.parametrize("method", ["random", "fps", "cur", "msc", "stratified"])
def test_the_first_frames_of_a_choice_are_the_methods_smaller_choice(pool, tmp_path, cli, method):
    """Learning curves on a choice's first frames (compare --order chosen) rely on this."""
    path, _, _ = pool
    large = chosen(cli, path, tmp_path / "large.zarr", "-n", "6", "--method", method)
    small = chosen(cli, path, tmp_path / "small.zarr", "-n", "3", "--method", method)
    assert large["indices"][:3] == small["indices"]


def test_energy_uniform_leads_with_spread_energies(pool, tmp_path, cli):
    """Its first frames are not the lowest energies of the choice."""
    path, _, group = pool
    payload = chosen(cli, path, tmp_path / "c.zarr", "-n", "9", "--method", "energy-uniform")
    assert len(set(group[payload["indices"][:3]])) >= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "50", "--method", "random"], "holds 18"),
        (["-n", "2", "--method", "magic"], "unknown --method"),
        (["-n", "2", "--method", "stratified", "--by", "colour"], "by must be one of"),
        (["-n", "2", "--method", "uncertainty"], "needs a committee"),
    ],
)
def test_bad_selections_are_one_line_and_change_nothing(
    pool, tmp_path, cli, snapshot, args, message
):
    path, _, _ = pool
    before = snapshot(path)
    result = cli("select", path, "--out", tmp_path / "x.zarr", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.zarr").exists() and snapshot(path) == before


def test_energy_methods_refuse_an_unlabelled_pool(tmp_path, cli):
    frames, _ = grouped_frames(2)
    with Store.create(tmp_path / "raw.zarr") as store:
        store.append(frames, Provenance(scheme="md"))
    result = cli(
        "select",
        tmp_path / "raw.zarr",
        "-n",
        "2",
        "--method",
        "energy-uniform",
        "--out",
        tmp_path / "x.zarr",
    )
    assert result.exit_code == 2 and "no label sets" in result.stderr
    # Descriptor methods need no labels: selection is how a user decides what to label.
    payload = chosen(cli, tmp_path / "raw.zarr", tmp_path / "y.zarr", "-n", "3", "--method", "fps")
    assert len(payload["indices"]) == 3


def test_soap_vectors_follow_dscribe(pool):
    from dscribe.descriptors import SOAP

    frames = pool[1][:3]
    x = frame_vectors(frames, "soap")
    direct = SOAP(
        species=[29], r_cut=5.0, n_max=6, l_max=4, sigma=0.5, periodic=True, average="inner"
    ).create(frames)
    assert np.allclose(x, direct)


def test_soap_without_dscribe_says_how_to_get_it(pool, tmp_path, cli, monkeypatch):
    import builtins

    real = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("dscribe"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    result = cli(
        "select",
        pool[0],
        "-n",
        "2",
        "--method",
        "fps",
        "--descriptor",
        "soap",
        "--out",
        tmp_path / "x.zarr",
    )
    assert result.exit_code == 2 and "curate[soap]" in result.stderr


# ---------------------------------------------------------------------------------- filter
def test_filter_gives_a_reason_for_every_dropped_frame(pool, tmp_path, cli, snapshot):
    path, frames, _ = pool
    with Store.open(path, "a") as store:
        squeezed = frames[0].copy()
        squeezed.positions[1] = squeezed.positions[0] + [0.9, 0, 0]  # Cu–Cu at 0.9 Å
        store.append([squeezed], Provenance(scheme="random", system="Cu"))
        store.write_labels("emt", [LabelResult(3, Status.FAILED_PHYSICS, error="diverged")])
    before = snapshot(path)
    forces = []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = EMT()
        forces.append(np.linalg.norm(atoms.get_forces(), axis=1).max())
    limit = float(np.sort(forces)[-3])  # the two frames with larger forces go
    dry = cli.json("filter", path, "--max-force", str(limit), "--dry-run")
    assert snapshot(path) == before and dry["out"] is None
    reasons = {d["frame"]: d["reasons"] for d in dry["dropped_frames"]}
    assert any(r.startswith("close contact") for r in reasons[18])
    assert reasons[18] == [reasons[18][0], "labels: no label"]
    assert reasons[3][0].startswith("labels: label failed-physics (diverged)")
    too_strong = {i for i, f in enumerate(forces) if f > limit and i != 3}
    assert {
        i for i, r in reasons.items() if any(x.startswith("max force") for x in r)
    } == too_strong
    out = tmp_path / "clean.zarr"
    done = cli.json("filter", path, "--max-force", str(limit), "--out", out)
    with Store.open(out) as clean:
        assert clean.n_frames == 19 - len(reasons) == done["kept"]
        assert clean.history()[0]["dropped"] == dry["dropped_frames"]


def test_filter_energy_window_and_band_gap(pool, tmp_path, cli):
    path, _, _ = pool
    with Store.open(path) as store:
        e = store.labels("emt")["energy"] / 32
    lo, hi = float(np.sort(e)[2]), float(np.sort(e)[-3])
    payload = cli.json("filter", path, "--energy-window", f"{lo}:{hi}", "--dry-run")
    dropped = {d["frame"] for d in payload["dropped_frames"]}
    assert dropped == set(np.flatnonzero((e < lo) | (e > hi)).tolist()) and len(dropped) == 4
    result = cli("filter", path, "--min-band-gap", "0.1", "--dry-run")
    assert result.exit_code == 2 and "no band_gap" in result.stderr
    result = cli("filter", path, "--energy-window", "1:0", "--dry-run")
    assert result.exit_code == 2 and "empty" in result.stderr
    result = cli("filter", path, "--contact-fraction", "-1", "--dry-run")
    assert result.exit_code == 2 and "must be positive" in result.stderr
    assert (
        "contact_fraction"
        not in cli.json("filter", path, "--contact-fraction", "0", "--dry-run")["rules"]
    )


def test_filter_thermal_rule_measures_from_the_relaxed_structure(tmp_path, cli):
    out = tmp_path / "hot.zarr"
    bulk("Cu", "fcc", a=3.6, cubic=True).write(tmp_path / "Cu.cif")
    args = ["sample", "--system", tmp_path / "Cu.cif", "--supercell", "2", "-n", "8"]
    result = cli(*args, "--amplitude", "0.02:0.3", "--relax", "emt", "--seed", "2", "--out", out)
    assert result.exit_code == 0, result.stderr
    assert cli("label", out, "--calculator", "emt", "--workers", "1").exit_code == 0
    payload = cli.json("filter", out, "--kt-multiple", "3", "--dry-run")
    with Store.open(out) as store:
        e = store.labels("emt")["energy"] / np.diff(store.atom_ptr())
    (entry,) = payload["rules"]["energy_references"].values()
    assert entry["kind"] == "relaxed"
    hot = set(np.flatnonzero(e - entry["energy_per_atom"] > 3 * 8.617333e-5 * 300).tolist())
    assert {d["frame"] for d in payload["dropped_frames"]} == hot


# ---------------------------------------------------------------------------------- dedupe
def brute_rmsd(a, b) -> float:
    d, _ = find_mic(b.positions - a.positions, a.cell, a.pbc)
    d -= d.mean(axis=0)
    return float(np.sqrt((d**2).sum(axis=1).mean()))


def test_dedupe_finds_shifted_and_nearly_equal_copies(tmp_path, cli, snapshot):
    frames, _ = grouped_frames(3, seed=4)
    rng = np.random.default_rng(5)
    copies = []
    for k, shift in ((0, [1.3, -0.4, 7.0]), (4, [0.0, 0.0, 0.0])):
        twin = frames[k].copy()
        twin.positions += shift + rng.normal(0, 0.002, twin.positions.shape)
        twin.wrap()
        copies.append(twin)
    pool = frames + copies  # frames 9 and 10 repeat 0 and 4
    with Store.create(tmp_path / "dup.zarr") as store:
        store.append(pool, Provenance(scheme="md", system="Cu"))
    before = snapshot(tmp_path / "dup.zarr")
    payload = cli.json("dedupe", tmp_path / "dup.zarr", "--tolerance", "0.01", "--dry-run")
    expected = {}
    for j in range(len(pool)):
        earlier = [
            i
            for i in range(j)
            if i not in expected
            and len(pool[i]) == len(pool[j])
            and np.allclose(pool[i].cell, pool[j].cell)
            and brute_rmsd(pool[i], pool[j]) <= 0.01
        ]
        if earlier:
            expected[j] = earlier[0]
    assert expected == {9: 0, 10: 4}
    assert {d["frame"]: d["duplicate_of"] for d in payload["duplicates"]} == expected
    for d in payload["duplicates"]:
        assert d["distance"] == pytest.approx(brute_rmsd(pool[d["duplicate_of"]], pool[d["frame"]]))
    assert snapshot(tmp_path / "dup.zarr") == before
    out = tmp_path / "unique.zarr"
    cli.json("dedupe", tmp_path / "dup.zarr", "--out", out)
    with Store.open(out) as unique:
        assert unique.n_frames == 9 and unique.history()[0]["step"] == "dedupe"
    by_descriptor = cli.json("dedupe", tmp_path / "dup.zarr", "--by", "descriptor", "--dry-run")
    assert {d["frame"] for d in by_descriptor["duplicates"]} >= {9, 10}


def test_outputs_are_never_overwritten(pool, tmp_path, cli):
    path, _, _ = pool
    out = tmp_path / "taken.zarr"
    chosen(cli, path, out, "-n", "2", "--method", "random")
    result = cli("select", path, "-n", "2", "--method", "random", "--out", out)
    assert result.exit_code == 2 and "already exists" in result.stderr
    result = cli("select", path, "-n", "2", "--method", "random", "--out", path)
    assert result.exit_code == 2
    assert json.loads(cli("info", path, "--json").stdout)["n_frames"] == 18
