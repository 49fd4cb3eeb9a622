"""curate active: a loop of tiny MACE committees on EMT-labelled Cu spends no more than its
budget, tags its frames with their round, and resumes a killed run in the round and phase it
was in without redoing finished work."""

from __future__ import annotations

import json

import pytest
from gnn_data import labelled_store, strained_frames

from curate.calculators import parse_spec
from curate.core.errors import InputError
from curate.core.labels import Status
from curate.potentials.active import PHASES, ActiveLoop, ActiveSettings, load_state, run_active
from curate.potentials.mace import MACESettings
from curate.store import Store

TINY = MACESettings(channels=4, interactions=1, correlation=1, r_max=3.5, epochs=2, batch_size=4)


def settings(**changes) -> ActiveSettings:
    base = {
        "committee": 2,
        "budget": 8,
        "batch": 2,
        "probe": 2,
        "target_error": 1e-4,  # every candidate is worth labelling
        "starts": 1,
        "md_frames": 4,
        "temperatures": (1500.0,),  # hot, so the MD leaves the training frames behind
        "stride": 10,
        "equilibration": 20,
        "max_rounds": 2,
        "mace": TINY,
    }
    return ActiveSettings.build(**(base | changes))


@pytest.fixture
def cu_store(tmp_path):
    path = tmp_path / "cu.zarr"
    return labelled_store(path, strained_frames("Cu", 12, seed=1, repeat=2))


def test_bad_settings_and_stores_are_refused(tmp_path, cu_store):
    with pytest.raises(InputError, match="at least 2 models"):
        settings(committee=1)
    with pytest.raises(InputError, match="no store"):
        run_active(tmp_path / "none.zarr", tmp_path / "out", parse_spec("emt"), settings())
    with pytest.raises(InputError, match="no 'chgnet' labels"):
        run_active(cu_store, tmp_path / "out", parse_spec("chgnet"), settings())


def test_a_folder_started_with_other_settings_is_refused_in_one_line(tmp_path, cu_store):
    out = tmp_path / "active"
    out.mkdir()
    load_state(out, settings()).save()
    with pytest.raises(InputError) as caught:
        run_active(cu_store, out, parse_spec("emt"), settings(budget=9))
    assert str(caught.value) == (
        f"{out / 'active.json'} was started with other settings; use another --out or the same "
        "options"
    )
    state = json.loads((out / "active.json").read_text())
    assert state["format"] == "curate-steps-1" and state["steps"] == {}
    assert state["settings"]["budget"] == 8 and state["rounds"] == []


@pytest.mark.slow
def test_a_killed_loop_resumes_in_its_round_and_phase(tmp_path, cu_store, monkeypatch):
    out = tmp_path / "active"
    emt = parse_spec("emt")
    real_select = ActiveLoop.select

    def killed_in_round_two(self, record):
        if record["round"] == 2:
            raise KeyboardInterrupt
        return real_select(self, record)

    monkeypatch.setattr(ActiveLoop, "select", killed_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        run_active(cu_store, out, emt, settings(), {"workers": 1})
    state = json.loads((out / "active.json").read_text())
    assert [r["done"] for r in state["rounds"]] == [
        ["train", "explore", "probe", "select", "label"],
        ["train", "explore", "probe"],
    ]
    # The phases are steps of the step engine, each on the one before it.
    assert list(state["steps"]) == [
        *(f"round-1/{phase}" for phase in PHASES),
        *(f"round-2/{phase}" for phase in PHASES[:3]),
    ]
    assert state["steps"]["round-2/train"]["depends"] == ["round-1/label"]
    assert {s["status"] for s in state["steps"].values()} == {"done"}
    stamps = {
        p: p.stat().st_mtime_ns
        for p in (out / "round-1" / "committee" / "committee.json",
                  out / "round-2" / "committee" / "committee.json")
    }  # fmt: skip
    monkeypatch.setattr(ActiveLoop, "select", real_select)
    result = run_active(cu_store, out, emt, settings(), {"workers": 1})
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # no committee trained again
    assert len(result["rounds"]) == 2 and result["finished"] in (
        "budget spent",
        "reached --max-rounds",
    )
    with Store.open(cu_store) as store:
        rounds = store.rounds()
        status = store.labels("emt").status
        provenance = store.provenance()
    added = rounds > 0
    assert 0 < added.sum() <= 8 and set(rounds[added]) == {1, 2}
    assert (status[added] == Status.OK).all()
    assert {p.params["role"] for p, a in zip(provenance, added, strict=True) if a} == {
        "probe",
        "selected",
    }
    # Selected frames carry the committee's disagreement that chose them.
    assert all(
        p.params["force_disagreement"] > 0 for p in provenance if p.params.get("role") == "selected"
    )
    # The same command again does nothing more.
    again = run_active(cu_store, out, emt, settings(), {"workers": 1})
    assert again["rounds"] == result["rounds"]
    with Store.open(cu_store) as store:
        assert (store.rounds() > 0).sum() == added.sum()


@pytest.mark.slow
def test_the_loop_stops_when_fresh_md_stays_below_the_target_error(tmp_path, cu_store):
    """No candidate's calibrated error exceeds a generous target: the round labels its probe
    and nothing else, and the loop ends converged with budget left."""
    result = run_active(
        cu_store,
        tmp_path / "active",
        parse_spec("emt"),
        settings(target_error=100.0, budget=20, max_rounds=3),
        {"workers": 1},
    )
    assert result["finished"].startswith("converged")
    (only,) = result["rounds"]
    assert only["fraction_above_target"] == 0.0 and only["selected"] == 0
    assert not (tmp_path / "active" / "round-1" / "selection.json").exists()
    with Store.open(cu_store) as store:
        provenance = [p for p, r in zip(store.provenance(), store.rounds(), strict=True) if r > 0]
    assert len(provenance) == 2 and {p.params["role"] for p in provenance} == {"probe"}
