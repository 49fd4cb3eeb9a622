"""Resumable steps: one engine and one state file for every job that runs in steps and may be
killed (the campaign runner's steps, the active-learning loop's phases), so that the same
command again resumes where the job stopped and repeats no finished work.

A :class:`Step` has a name, its inputs (JSON-able: everything that decides its result), the
names of the steps it depends on, the paths it writes (relative to the state file's folder) and
an action that returns its result record (a JSON-able mapping). Its key hashes its inputs and the
keys of the steps it depends on (:func:`step_key`, :func:`chain_keys`), so a change anywhere
upstream changes the key of every step below it. A :class:`StepRunner` runs steps one at a time,
in dependency order, against a :class:`StepState` (the state file):

- a step recorded ``done`` with an unchanged key, whose outputs exist, that is not forced and
  none of whose dependencies ran in this run is **skipped**: its recorded result is returned;
- any other step **runs**. First its record and those of every step depending on it (directly or
  not) are dropped and the file is written; after the action succeeded its record is added and
  the file is written again. A step that fails leaves no record, and a run killed at any point
  resumes correctly.

The state file is JSON, replaced atomically at every write::

    {
      "format": "curate-steps-1",
      "steps": {
        "<name>": {
          "key": "<16 hex digits: hash of inputs and the keys of the steps depended on>",
          "status": "done",
          "depends": ["<name>", ...],
          "inputs": <the step's inputs>,
          "seconds": 1.234,
          "finished": "2025-01-01T12:00:00+00:00",
          "result": {<what the action returned>}
        }
      },
      "<field>": <value>
    }

Only finished steps are recorded, in the order they finished (``status`` is always ``done``; a
step that is running, failed or was dropped has no record). Beside ``format`` and ``steps`` the
file holds its owner's own fields: the campaign's ``recipe`` (``DIR/steps.json``), the active
loop's ``settings``, ``rounds`` (a view of its steps' records, one a round) and ``finished``
(``OUT/active.json``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from curate.core.errors import InputError
from curate.core.files import write_json
from curate.core.identity import cache_key

FORMAT = "curate-steps-1"
DONE = "done"
SKIPPED = "skipped"
KEY_SIZE = 8  # bytes: 16 hex digits


def step_key(inputs: Any, depends: Iterable[str] = ()) -> str:
    """The key of a step with these inputs that depends on steps with keys ``depends``."""
    return cache_key(inputs, list(depends), size=KEY_SIZE)


@dataclass
class Step:
    """One resumable step: what decides it (its inputs and the steps it depends on), what it
    writes (paths under the state file's folder) and how to run it."""

    name: str
    inputs: Any
    depends: tuple[str, ...]
    outputs: tuple[str, ...]
    action: Callable[[], dict[str, Any]]
    detail: str = ""
    key: str = ""
    """Set by :func:`chain_keys`, or by the runner when the step runs."""


def chain_keys(steps: Iterable[Step]) -> None:
    """Set the key of every step (in dependency order) from its inputs and the keys before."""
    keys: dict[str, str] = {}
    for step in steps:
        step.key = step_key(step.inputs, [keys[d] for d in step.depends])
        keys[step.name] = step.key


@dataclass
class Outcome:
    """What running a step came to: ``done`` (it ran now) or ``skipped`` (done before), the
    seconds it ran now and its result."""

    name: str
    status: str
    seconds: float
    result: dict[str, Any]


class StepEvents:
    """What the runner tells its owner about each step; this one stays silent."""

    def skip(self, step: Step, record: dict[str, Any]) -> None:
        """``step`` finished in an earlier run and is unchanged."""

    def start(self, step: Step, before: dict[str, Any] | None) -> None:
        """``step`` starts; ``before`` is its record from an earlier run, if any."""

    def finish(self, step: Step, seconds: float, result: dict[str, Any]) -> None:
        """``step`` succeeded (and is recorded)."""

    def fail(self, step: Step) -> None:
        """``step`` stopped with an error (raised to the caller after this)."""


class StepState:
    """A state file: the records of the finished steps and the owner's own fields."""

    def __init__(
        self,
        path: str | Path,
        records: dict[str, dict[str, Any]] | None = None,
        fields: dict[str, Any] | None = None,
        derive: Callable[[StepState], None] | None = None,
    ):
        self.path = Path(path)
        self.records = records if records is not None else {}
        self.fields = fields if fields is not None else {}
        self.derive = derive
        """Called before every write, to bring fields that are views of the records up to date."""

    @classmethod
    def load(cls, path: str | Path, derive: Callable[[StepState], None] | None = None):
        """The state in ``path`` (empty where there is no file yet)."""
        path = Path(path)
        if not path.exists():
            return cls(path, derive=derive)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(
                f"{path} is unreadable ({exc}); delete it to run every step again"
            ) from None
        if not (
            isinstance(data, dict)
            and data.get("format") == FORMAT
            and isinstance(data.get("steps"), dict)
        ):
            raise InputError(
                f"{path} is not a curate step record; delete it to run every step again"
            )
        fields = {k: v for k, v in data.items() if k not in ("format", "steps")}
        return cls(path, data["steps"], fields, derive)

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.fields[name] = value

    def done(self, name: str) -> dict[str, Any] | None:
        """The record of step ``name`` if it is recorded done."""
        record = self.records.get(name)
        # Records written before the engine carry no status: every record then was a done step.
        return record if record is not None and record.get("status", DONE) == DONE else None

    def save(self) -> None:
        """Replace the file atomically."""
        if self.derive is not None:
            self.derive(self)
        write_json(self.path, {"format": FORMAT, "steps": self.records, **self.fields})


class StepRunner:
    """Runs steps against a :class:`StepState`, skipping those done before and unchanged.

    ``force`` names steps to run even if done; ``plan``, the steps to come (their dependencies
    tell which records a step that runs makes stale, beside the ``depends`` of the records).
    """

    def __init__(
        self,
        state: StepState,
        *,
        force: Iterable[str] = (),
        events: StepEvents | None = None,
        plan: Iterable[Step] = (),
    ):
        self.state = state
        self.force = set(force)
        self.events = events if events is not None else StepEvents()
        self.ran: set[str] = set()
        self.keys: dict[str, str] = {}
        self.depends = {n: tuple(r.get("depends", ())) for n, r in state.records.items()}
        self.depends.update({s.name: tuple(s.depends) for s in plan})

    def dependents(self, name: str) -> list[str]:
        """Every step depending on ``name``, directly or through others."""
        found: list[str] = []
        todo = [name]
        while todo:
            current = todo.pop()
            for other, depends in self.depends.items():
                if current in depends and other != name and other not in found:
                    found.append(other)
                    todo.append(other)
        return found

    def _key(self, name: str) -> str:
        if name in self.keys:
            return self.keys[name]
        return self.state.records[name]["key"]

    def run(self, step: Step) -> Outcome:
        """Skip ``step`` or run it (see the module's text); its outcome."""
        if not step.key:
            step.key = step_key(step.inputs, [self._key(d) for d in step.depends])
        self.keys[step.name] = step.key
        self.depends[step.name] = tuple(step.depends)
        before = self.state.records.get(step.name)
        record = self.state.done(step.name)
        folder = self.state.path.parent
        stale = (
            step.name in self.force
            or record is None
            or record.get("key") != step.key
            or any(not (folder / p).exists() for p in step.outputs)
            or any(d in self.ran for d in step.depends)
        )
        if not stale:
            self.events.skip(step, record)
            return Outcome(step.name, SKIPPED, 0.0, record.get("result", {}))
        for name in (step.name, *self.dependents(step.name)):
            self.state.records.pop(name, None)
        self.state.save()
        self.events.start(step, before)
        start = time.perf_counter()
        try:
            result = step.action()
        except BaseException:
            self.events.fail(step)
            raise
        elapsed = time.perf_counter() - start
        self.ran.add(step.name)
        self.state.records[step.name] = {
            "key": step.key,
            "status": DONE,
            "depends": list(step.depends),
            "inputs": step.inputs,
            "seconds": round(elapsed, 3),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "result": result,
        }
        self.state.save()
        self.events.finish(step, elapsed, result)
        return Outcome(step.name, DONE, round(elapsed, 3), result)
