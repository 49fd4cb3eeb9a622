"""The step engine: a step done before with the same key is skipped with its recorded result; a
changed key, a forced step or a missing output runs it again, and every step depending on it."""

from __future__ import annotations

import json

import pytest

from curate.core.errors import InputError
from curate.core.steps import FORMAT, Step, StepRunner, StepState, chain_keys, step_key


def chain(folder, inputs: dict[str, int], calls: list[str], fail: str = "") -> list[Step]:
    """Steps a -> b -> c (and d on a), each returning its inputs and counting its runs."""

    def action(name):
        def run():
            calls.append(name)
            if name == fail:
                raise RuntimeError(name)
            (folder / f"{name}.out").write_text(name)
            return {"value": inputs[name]}

        return run

    depends = {"a": (), "b": ("a",), "c": ("b",), "d": ("a",)}
    steps = [Step(n, inputs[n], depends[n], (f"{n}.out",), action(n)) for n in inputs]
    chain_keys(steps)
    return steps


def run_all(folder, inputs, force=(), fail=""):
    calls: list[str] = []
    state = StepState.load(folder / "steps.json")
    steps = chain(folder, inputs, calls, fail)
    runner = StepRunner(state, force=force, plan=steps)
    outcomes = {s.name: runner.run(s) for s in steps}
    return {n: (o.status, o.result["value"]) for n, o in outcomes.items()}, calls


def test_steps_resume_and_rerun_only_what_changed(tmp_path):
    inputs = {"a": 1, "b": 2, "c": 3, "d": 4}
    first, calls = run_all(tmp_path, inputs)
    assert calls == ["a", "b", "c", "d"] and set(s for s, _ in first.values()) == {"done"}
    again, calls = run_all(tmp_path, inputs)
    assert calls == [] and again == {n: ("skipped", v) for n, v in inputs.items()}

    changed, calls = run_all(tmp_path, inputs | {"b": 20})
    assert calls == ["b", "c"] and changed["b"] == ("done", 20) and changed["d"][0] == "skipped"
    _, calls = run_all(tmp_path, inputs | {"b": 20}, force=["a"])
    assert calls == ["a", "b", "c", "d"]
    (tmp_path / "c.out").unlink()
    _, calls = run_all(tmp_path, inputs | {"b": 20})
    assert calls == ["c"]

    state = json.loads((tmp_path / "steps.json").read_text())
    assert state["format"] == FORMAT
    record = state["steps"]["c"]
    assert record["status"] == "done" and record["depends"] == ["b"]
    assert record["inputs"] == 3 and record["result"] == {"value": 3}
    assert record["key"] == step_key(3, [step_key(20, [step_key(1)])])


def test_a_failed_step_leaves_no_record_and_drops_its_dependents(tmp_path):
    inputs = {"a": 1, "b": 2, "c": 3, "d": 4}
    run_all(tmp_path, inputs)
    with pytest.raises(RuntimeError):
        run_all(tmp_path, inputs | {"b": 5}, fail="b")
    # b changed and failed: neither b nor c (which depends on it) is recorded any more.
    assert list(json.loads((tmp_path / "steps.json").read_text())["steps"]) == ["a", "d"]
    _, calls = run_all(tmp_path, inputs | {"b": 5})
    assert calls == ["b", "c"]


def test_owner_fields_are_kept_and_derived_before_every_write(tmp_path):
    path = tmp_path / "state.json"
    state = StepState.load(path, derive=lambda s: s.fields.update(names=list(s.records)))
    state["settings"] = {"x": 1}
    StepRunner(state).run(Step("only", {}, (), (), lambda: {"ok": True}))
    saved = json.loads(path.read_text())
    assert saved["settings"] == {"x": 1} and saved["names"] == ["only"]
    assert StepState.load(path)["settings"] == {"x": 1}


def test_foreign_state_files_are_refused(tmp_path):
    path = tmp_path / "steps.json"
    path.write_text("{")
    with pytest.raises(InputError, match=r"is unreadable .*; delete it to run every step again"):
        StepState.load(path)
    path.write_text(json.dumps({"settings": {}, "rounds": []}))
    with pytest.raises(InputError, match="is not a curate step record; delete it"):
        StepState.load(path)
