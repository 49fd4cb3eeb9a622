"""`curate run`: typed recipes, and a resumable campaign runner that skips finished steps."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.io import write
from curate.pipelines.recipe import load_recipe, validate_recipe
from curate.pipelines.runner import (
    STEPS_FILE,
    Reporter,
    StepError,
    _leaves_frames,
    plan_steps,
    run_recipe,
)

from curate.core.errors import InputError, StoreLockedError
from curate.store import Store


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def cu3au_file(tmp_path) -> Path:
    """An (unrelaxed) L1₂ Cu3Au cell EMT can label."""
    cell = Atoms(
        "AuCu3",
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=np.eye(3) * 3.75,
        pbc=True,
    )
    path = tmp_path / "Cu3Au.cif"
    write(path, cell)
    return path


def tiny_recipe(structure: Path) -> dict:
    return {
        "name": "tiny",
        "system": str(structure),
        "supercell": 2,
        "relax": "emt",
        "oracle": "emt",
        "workers": 1,
        "sets": [
            {"scheme": "random", "n": 5, "seed": 1, "params": {"amplitude": "0.05:0.15"}},
            {"scheme": "mc-rattle", "n": 4, "seed": 2, "params": {"iterations": 2}},
        ],
        "reference": {
            "scheme": "aimd",
            "n": 3,
            "seed": 3,
            "params": {"temperature": 300, "stride": 2, "equilibration": 2},
        },
        "diversity": {"plot": False},
    }


TINY_COMPARE = {
    "targets": ["energy_per_atom"],
    "sizes": [3],
    "seeds": 1,
    "hidden": 8,
    "max_epochs": 2,
    "patience": 1,
}
"""A compare section that trains in seconds."""


class Recorder(Reporter):
    def __init__(self):
        self.messages: list[str] = []

    def log(self, message: str) -> None:
        self.messages.append(message)


def statuses(summary: dict) -> dict[str, str]:
    return {step["name"]: step["status"] for step in summary["steps"]}


def test_bundled_recipes_validate():
    quick, text = load_recipe("quickstart")
    assert text.startswith("#")
    assert [s.name for s in quick.sets] == ["random", "phonon", "aimd", "mlip-md"]
    assert quick.sets[3].params["mlip"] == "active"
    assert quick.active.seed_set.n == 10 and quick.active.settings().budget == 40
    steps = [s.name for s in plan_steps(quick, Path("unused"))]
    assert steps.index("active") < steps.index("sample:mlip-md") < steps.index("label")
    assert [s.name for s in quick.reference] == ["aimd"]
    assert quick.sets[0].params == {"amplitude": "0.1:0.8"}
    # The oracle drives the MD of the aimd sets and the phonon fit unless a set says otherwise.
    assert quick.sets[1].params["calculator"] == "chgnet"
    assert quick.sets[2].params == {
        "temperature": 300,
        "stride": 5,
        "equilibration": 100,
        "calculator": "chgnet",
    }
    assert quick.compare.fields("chgnet") == {
        "targets": ("energy_per_atom", "hydrostatic_stress"),
        "sizes": (20, 40, 80),
        "seeds": 3,
        "model": "schnet",
        "label_set": "chgnet",
        "hidden": 16,
        "lr": 5e-3,
        "batch_size": 8,
        "max_epochs": 120,
        "patience": 40,
    }
    paper, _ = load_recipe("paper.yaml")
    assert paper.oracle.calculator == "gpaw" and paper.oracle.kwargs["mode"]["name"] == "pw"
    assert {s.system for s in paper.sets} == {"Ag3SBr", "Ag3SI", "Ag3SBrI"}
    per_scheme = {}
    for s in paper.sets:
        per_scheme[s.scheme] = per_scheme.get(s.scheme, 0) + s.n
    assert per_scheme == {"random": 2250, "phonon": 2250, "aimd": 2250}
    assert paper.compare.seeds == 10 and max(paper.compare.sizes) == 1800
    assert set(paper.compare.targets) == {
        "energy_per_atom",
        "hydrostatic_stress",
        "band_gap",
        "vbm",
    }
    steps = [s.name for s in plan_steps(paper, Path("unused"))]
    assert steps[:2] == ["sample:random-Ag3SBr", "sample:random-Ag3SI"]
    assert steps[-4:] == ["label", "label:reference", "diversity", "compare"]


def edit(recipe: dict, path: str, value) -> dict:
    """A deep copy of ``recipe`` with ``a.0.b`` set to ``value`` (or removed if ``...``)."""
    recipe = json.loads(json.dumps(recipe))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = recipe
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return recipe


BAD = [
    ("colour", "red", "recipe bad.yaml: colour: unknown field (known: name, system"),
    ("sets.1.colour", "red", "sets.1.colour: unknown field (known: scheme, n, seed"),
    ("sets.1.n", "many", "sets.1.n: Input should be a valid integer"),
    ("workers", 0, "workers: Input should be greater than or equal to 1"),
    ("sets", ..., "sets: Field required"),
    ("sets.0.scheme", "wiggle", "sets.0.scheme: unknown scheme 'wiggle' (known: aimd,"),
    ("sets.0.params.amplitude", "big", "sets.0.params: random sampler: amplitude: expected"),
    ("reference.params.stride", 0, "reference.0.params: aimd sampler: stride: Input should be"),
    ("oracle", "vasp", "oracle.calculator: unknown calculator spec 'vasp'"),
    ("system", "Ag3SCl", "system: unknown system 'Ag3SCl'"),
    ("sets.1.system", "missing.cif", "sets.1.system: unknown system"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_recipes_fail_with_one_line_naming_the_field(
    tmp_path, cu3au_file, path, value, message
):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(yaml.safe_dump(edit(tiny_recipe(cu3au_file), path, value)))
    with pytest.raises(InputError) as caught:
        load_recipe(recipe)
    text = str(caught.value)
    assert "\n" not in text
    assert message in text


def test_bad_compare_and_calculator_clash_are_caught_before_running(cu3au_file):
    recipe = tiny_recipe(cu3au_file)
    recipe["compare"] = {"targets": ["energy_per_atom"], "sizes": [20], "model": "resnet"}
    with pytest.raises(InputError, match=r"^recipe <recipe>: compare: unknown model 'resnet'"):
        validate_recipe(recipe)
    # MD frames carry their calculator's labels: a gpaw MD beside a gpaw oracle with other
    # settings would write two kinds of labels into one label set.
    recipe = tiny_recipe(cu3au_file)
    recipe["oracle"] = {"calculator": "gpaw", "kwargs": {"mode": "pw"}}
    with pytest.raises(InputError, match=r"reference\.0\.params\.calculator: aimd needs"):
        validate_recipe(recipe)
    recipe["reference"]["params"]["calculator"] = "gpaw"
    with pytest.raises(InputError, match=r"label set 'gpaw' with other settings"):
        validate_recipe(recipe)


def test_active_learning_sections_are_checked(cu3au_file):
    recipe = tiny_recipe(cu3au_file)
    md = {"mlip": "active", "temperature": 300}
    recipe["sets"].append({"scheme": "mlip-md", "n": 3, "params": md})
    with pytest.raises(InputError, match=r"sets\.2\.params\.mlip: 'active' names the committee"):
        validate_recipe(recipe)
    recipe["active"] = {
        "seed_set": {"scheme": "random", "n": 4, "params": {"amplitude": "0.05:0.1"}},
        "loop": {"budget": 0},
    }
    with pytest.raises(InputError, match=r"active\.loop: --budget must be at least 1"):
        validate_recipe(recipe)
    recipe["active"]["loop"] = {"colour": "red"}
    with pytest.raises(
        InputError, match=r"active\.loop\.colour: unknown field \(known: temperatures"
    ):
        validate_recipe(recipe)
    recipe["active"]["loop"] = {"budget": 4}
    recipe["active"]["seed_set"]["params"] = {"amplitude": "big"}
    with pytest.raises(InputError, match=r"active\.seed_set\.params: random sampler"):
        validate_recipe(recipe)


@pytest.mark.slow
def test_active_step_gathers_its_set_with_labels_and_drives_mlip_md(tmp_path, cu3au_file):
    """A campaign with active learning: the loop's frames join sets.zarr as scheme active with
    the labels it paid for, and the mlip-md set runs on the committee it trained last."""
    out = tmp_path / "campaign"
    recipe = tiny_recipe(cu3au_file)
    recipe["diversity"]["enabled"] = False
    recipe["sets"].append(
        {
            "scheme": "mlip-md",
            "n": 3,
            "params": {"mlip": "active", "temperature": 300, "stride": 2, "equilibration": 2},
        }
    )
    tiny = {"channels": 4, "interactions": 1, "correlation": 1, "r_max": 3.5, "epochs": 2}
    recipe["active"] = {
        "seed_set": {"scheme": "random", "n": 4, "seed": 5, "params": {"amplitude": "0.05:0.1"}},
        "loop": {
            "budget": 4,
            "batch": 2,
            "probe": 2,
            "committee": 2,
            "md_frames": 3,
            "stride": 2,
            "equilibration": 2,
            "starts": 1,
            "mace": {**tiny, "batch_size": 2},
        },
    }
    summary = run_recipe(recipe, out, reporter=Reporter())
    assert statuses(summary)["active"] == "done"
    state = json.loads((out / "active" / "active.json").read_text())
    with Store.open(out / "active.zarr") as loop, Store.open(out / "sets.zarr") as sets:
        n_loop = loop.n_frames
        assert sets.scheme_counts()["active"] == n_loop >= 6
        active = np.flatnonzero(sets.categorical("scheme") == "active")
        labels = sets.labels("emt", active)
        assert np.array_equal(labels.status, loop.labels("emt").status)
        assert np.allclose(labels["energy"], loop.labels("emt")["energy"], equal_nan=True)
        mlip = np.flatnonzero(sets.categorical("scheme") == "mlip-md")
        driver = sets.provenance(mlip[:1])[0].params["committee"]
    assert driver == state["rounds"][-1]["models"]
    label = next(s for s in summary["steps"] if s["name"] == "label")
    assert label["result"]["submitted"] == len(mlip) + 9  # the static sets and MLIP-MD only


def test_unreadable_recipes(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nsets: [{scheme: random, n: 3\n")
    with pytest.raises(InputError, match=r"^recipe broken.yaml: malformed YAML at line 3"):
        load_recipe(broken)
    with pytest.raises(InputError, match=r"^no recipe file nowhere.yaml \(bundled recipes"):
        load_recipe("nowhere.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(InputError, match="expected a mapping of fields, got list"):
        load_recipe(tmp_path / "list.yaml")


def test_cli_refuses_bad_recipes_without_touching_out(cli, tmp_path, cu3au_file):
    out = tmp_path / "campaign"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(edit(tiny_recipe(cu3au_file), "sets.1.n", "many")))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(tiny_recipe(cu3au_file)))
    for args in (
        [bad],
        [broken],
        [tmp_path / "missing.yaml"],
        [good, "--force-step", "train"],
        [good, "--workers", "0"],
    ):
        result = cli("run", *args, "--out", out)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("curate: error: "), result.stderr
        assert not out.exists()


def test_step_keys_follow_what_each_step_depends_on(cu3au_file):
    base = tiny_recipe(cu3au_file)
    base["compare"] = {"targets": ["energy_per_atom"], "sizes": [3]}

    def keys(recipe: dict) -> dict[str, str]:
        return {s.name: s.key for s in plan_steps(validate_recipe(recipe), Path("unused"))}

    before = keys(base)
    assert list(before) == [
        "sample:random",
        "sample:mc-rattle",
        "reference:aimd",
        "label",
        "label:reference",
        "diversity",
        "compare",
    ]

    def changed(path: str, value) -> set[str]:
        after = keys(edit(base, path, value))
        return {name for name in before if after[name] != before[name]}

    assert changed("sets.1.n", 6) == {"sample:mc-rattle", "label", "diversity", "compare"}
    assert changed("reference.params.stride", 3) == {
        "reference:aimd",
        "label:reference",
        "diversity",
        "compare",
    }
    assert changed("compare.seeds", 2) == {"compare"}
    assert changed("diversity.repeats", 2) == {"diversity", "compare"}
    # Execution settings change nothing that was computed.
    assert changed("workers", 2) == set()
    assert changed("name", "renamed") == set()
    # The oracle labels everything and, by default, drives the MD of the reference set.
    assert changed("oracle", "chgnet") == {
        "reference:aimd",
        "label",
        "label:reference",
        "diversity",
        "compare",
    }


def test_only_a_larger_n_keeps_a_set_clean():
    before = {"set": {"n": 5, "seed": 1}, "relax": None}
    assert not _leaves_frames(before, {"set": {"n": 8, "seed": 1}, "relax": None})
    assert _leaves_frames(before, {"set": {"n": 3, "seed": 1}, "relax": None})
    assert _leaves_frames(before, {"set": {"n": 5, "seed": 2}, "relax": None})
    assert not _leaves_frames(None, {"set": {"n": 5, "seed": 2}, "relax": None})


def test_a_campaign_resumes_and_reruns_only_what_changed(cli, tmp_path, cu3au_file, monkeypatch):
    import curate.samplers.batch

    out = tmp_path / "campaign"
    recipe = tiny_recipe(cu3au_file)
    real = curate.samplers.batch.sample_system

    def stopping(*args, **kwargs):
        batch = real(*args, **kwargs)
        return replace(
            batch,
            frames=batch.frames[:2],
            provenance=batch.provenance[:2],
            stopped="MD blew up at step 9",
        )

    # A sampler that stops early keeps its frames and fails the step, which is not recorded.
    monkeypatch.setattr(curate.samplers.batch, "sample_system", stopping)
    with pytest.raises(StepError, match=r"^step sample:random: MD blew up at step 9; kept the 2"):
        run_recipe(recipe, out, reporter=Reporter())
    monkeypatch.undo()
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))
    assert json.loads((out / STEPS_FILE).read_text())["steps"] == {}
    with Store.open(out / "sets.zarr") as store:
        assert store.n_frames == 2

    first = run_recipe(recipe, out, reporter=Reporter())
    assert set(statuses(first).values()) == {"done"}
    steps = {s["name"]: s["result"] for s in first["steps"]}
    assert steps["sample:random"]["added"] == 3 and steps["sample:random"]["duplicates"] == 2
    assert steps["label"]["ok"] == 9 and steps["label"]["submitted"] == 9
    # MD frames come labelled by the oracle: nothing left to label in the reference.
    assert steps["label:reference"]["submitted"] == 0 and steps["label:reference"]["ok"] == 3
    with Store.open(out / "sets.zarr") as store:
        assert store.n_frames == 9
        assert store.status_counts("emt")["ok"] == 9
        assert store.scheme_counts() == {"random": 5, "mc-rattle": 4}
    assert json.loads((out / "diversity.json").read_text())["reference"]
    assert yaml.safe_load((out / "recipe.yaml").read_text())["name"] == "tiny"

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    again = cli.json("run", path, "--out", out)
    assert set(statuses(again).values()) == {"skipped"}
    assert again["files"]["sets"] == str(out / "sets.zarr")
    assert again["files"]["diversity"] == str(out / "diversity.json")

    recipe["sets"][0]["n"] = 7
    recorder = Recorder()
    grown = run_recipe(recipe, out, reporter=recorder)
    assert statuses(grown) == {
        "sample:random": "done",
        "sample:mc-rattle": "skipped",
        "reference:aimd": "skipped",
        "label": "done",
        "label:reference": "skipped",
        "diversity": "done",
    }
    assert not recorder.messages  # a larger n keeps every earlier frame of the set
    with Store.open(out / "sets.zarr") as store:
        assert store.n_frames == 11 and store.status_counts("emt")["ok"] == 11

    forced = run_recipe(recipe, out, force=["label:reference"], reporter=Reporter())
    assert [s["name"] for s in forced["steps"] if s["status"] == "done"] == [
        "label:reference",
        "diversity",
    ]

    # Adding the comparison runs it alone, with the recipe's settings, the oracle's label set,
    # the reference store and the diversity report already made.
    import curate.compare.run

    calls = []

    def fake_compare(store, settings, out_dir, **kwargs):
        calls.append((store, settings, out_dir, kwargs))
        out_dir.mkdir(exist_ok=True)
        (out_dir / "report.json").write_text("{}")
        return {}

    monkeypatch.setattr(curate.compare.run, "compare", fake_compare)
    recipe["compare"] = {"targets": ["energy_per_atom"], "sizes": [3, 4], "seeds": 1, "lr": 0.01}
    compared = run_recipe(recipe, out, workers=1, reporter=Reporter())
    assert [s["name"] for s in compared["steps"] if s["status"] == "done"] == ["compare"]
    (store, settings, out_dir, kwargs) = calls[0]
    assert (store, out_dir) == (out / "sets.zarr", out)
    assert (settings.targets, settings.sizes, settings.seeds) == (("energy_per_atom",), (3, 4), 1)
    assert (settings.lr, settings.label_set) == (0.01, "emt")
    assert kwargs["reference"] == out / "reference.zarr"
    assert kwargs["diversity"]["groups"].keys() == {"random", "mc-rattle"}
    assert kwargs["client_options"]["workers"] == 1
    assert compared["files"]["report_json"] == str(out / "report.json")


def test_one_runner_per_campaign_folder(tmp_path, cu3au_file):
    from curate.store.lock import WriterLock

    out = tmp_path / "campaign"
    out.mkdir()
    lock = WriterLock(out)
    lock.acquire()
    try:
        with pytest.raises(StoreLockedError, match="open for writing"):
            run_recipe(tiny_recipe(cu3au_file), out, reporter=Reporter())
    finally:
        lock.release()
    assert sorted(p.name for p in out.iterdir()) == ["writer.lock"]


@pytest.mark.slow
def test_compare_step_writes_the_report_and_reruns_only_itself(tmp_path, cu3au_file):
    out = tmp_path / "campaign"
    recipe = tiny_recipe(cu3au_file)
    recipe["diversity"]["enabled"] = False
    recipe["compare"] = dict(TINY_COMPARE)
    first = run_recipe(recipe, out, reporter=Reporter())
    assert statuses(first)["compare"] == "done"
    report = json.loads((out / "report.json").read_text())
    assert report["label_set"] == "emt" and report["reference"]["n_frames"] == 3
    assert first["files"]["report_html"] == str(out / "report.html")
    recipe["compare"]["seeds"] = 2
    second = run_recipe(recipe, out, reporter=Reporter())
    assert [s["name"] for s in second["steps"] if s["status"] == "done"] == ["compare"]


def test_select_section_curates_the_pool_and_scores_the_choices(tmp_path, cu3au_file):
    out = tmp_path / "campaign"
    recipe = tiny_recipe(cu3au_file)
    recipe["select"] = {
        "choices": [
            {"method": "fps", "n": 5},
            {"method": "random", "n": 5, "seed": 1},
            {"method": "random", "n": 5, "seed": 2},
        ]
    }
    recipe["compare"] = dict(TINY_COMPARE)
    first = run_recipe(recipe, out, reporter=Reporter())
    assert statuses(first)["select"] == "done"
    with Store.open(out / "sets.zarr") as pool, Store.open(out / "curated.zarr") as curated:
        assert curated.scheme_counts() == {"fps": 5, "random-1": 5, "random-2": 5}
        (record,) = curated.history()
        for k, (name, picked) in enumerate(record["indices"].items()):
            rows = np.arange(5 * k, 5 * k + 5)
            assert np.array_equal(curated.uids()[rows], pool.uids()[picked]), name
            assert np.allclose(
                curated.labels("emt", rows)["energy"], pool.labels("emt", picked)["energy"]
            )
            prov = curated.provenance(rows)
            assert [p.params["pool_index"] for p in prov] == picked
            assert {p.params["selected_from"] for p in prov} <= {"random", "mc-rattle"}
    report = json.loads((out / "report.json").read_text())
    assert set(report["schemes"]) == {"fps", "random-1", "random-2"}
    diversity = json.loads((out / "diversity.json").read_text())
    assert set(diversity["groups"]) == {"fps", "random-1", "random-2"}
    # Another choice re-makes curated.zarr and re-scores; sampling and labelling stay done.
    recipe["select"]["choices"][0]["n"] = 4
    second = run_recipe(recipe, out, reporter=Reporter())
    assert [s["name"] for s in second["steps"] if s["status"] == "done"] == [
        "select",
        "diversity",
        "compare",
    ]
    with Store.open(out / "curated.zarr") as curated:
        assert curated.scheme_counts()["fps"] == 4


def test_select_section_is_checked(cu3au_file):
    recipe = tiny_recipe(cu3au_file)
    recipe["select"] = {
        "choices": [
            {"method": "fps", "n": 2, "name": "a"},
            {"method": "random", "n": 2, "name": "a"},
        ]
    }
    with pytest.raises(InputError, match=r"select\.choices\.1\.name: duplicate choice name 'a'"):
        validate_recipe(recipe)
    recipe["select"] = {"choices": [{"method": "magic", "n": 2}]}
    with pytest.raises(InputError, match=r"select\.choices\.0\.method"):
        validate_recipe(recipe)
