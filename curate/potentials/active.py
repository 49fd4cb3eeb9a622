"""Active learning of MACE potentials: train a committee on the oracle's labels, explore with
committee-driven MD from frames of the store at several temperatures, calibrate the committee's
force disagreement on a few labelled probe frames, pick a batch of frames that are both uncertain
(calibrated force error above a target) and new (QUESTS dH > 0, spread by farthest-point
sampling), label them, and repeat until the label budget is spent or fresh MD stays below the
target error.

Every round is a folder ``OUT/round-K``; each phase of a round (train, explore, probe, select,
label) is a step ``round-K/<phase>`` of :mod:`curate.core.steps`, depending on the phase before
it (``round-K/train`` on ``round-(K-1)/label``), recorded in ``OUT/active.json`` when finished,
so a killed run resumes in the phase it was in. The file also holds the loop's settings (another
run in the same folder must use the same), ``rounds`` (each round's phases done, their seconds and
results, and the labels spent) and why the loop ``finished``. Frames enter the store with
``round`` K and scheme ``active``; the labeller never aborts on a failed frame, and failed frames
count against the budget (they were paid for).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from curate.calculators import CalculatorSpec
from curate.core.errors import InputError
from curate.core.labels import Status
from curate.core.provenance import Provenance
from curate.core.steps import Step, StepEvents, StepRunner, StepState
from curate.potentials.settings import ActiveSettings
from curate.store import Store

SCHEME = "active"
STATE_FILE = "active.json"
PHASES = ("train", "explore", "probe", "select", "label")

Log = Callable[[str], None]


def step_name(k: int, phase: str) -> str:
    """The name of a round's phase among the loop's steps."""
    return f"round-{k}/{phase}"


def rounds_view(state: StepState) -> None:
    """``state["rounds"]``: one record a round, from the records of its finished phases."""
    rounds: dict[int, dict[str, Any]] = {}
    for name, step in state.records.items():
        k, slash, phase = name.removeprefix("round-").partition("/")
        if not (slash and k.isdigit() and phase in PHASES):
            continue
        record = rounds.setdefault(int(k), {"round": int(k), "done": [], "seconds": {}})
        record["done"].append(phase)
        record["seconds"][phase] = step["seconds"]
        record.update(step["result"])
    for record in rounds.values():
        record["done"].sort(key=PHASES.index)
    state["rounds"] = [rounds[k] for k in sorted(rounds)]


def load_state(out: Path, settings: ActiveSettings) -> StepState:
    """The loop's state in ``out``; refused if the folder was started with other settings."""
    state = StepState.load(out / STATE_FILE, derive=rounds_view)
    current = settings.as_dict()
    if state.fields.setdefault("settings", current) != current:
        raise InputError(
            f"{state.path} was started with other settings; use another --out or the same options"
        )
    state.fields.setdefault("finished", None)
    rounds_view(state)
    return state


class _Log(StepEvents):
    def __init__(self, log: Log):
        self.log = log

    def start(self, step: Step, before: dict[str, Any] | None) -> None:
        self.log(step.detail)


def spent_labels(store: Store) -> int:
    """Frames this loop added (every one is labelled or was tried)."""
    return int((store.rounds() > 0).sum())


def starting_frames(store: Store, label_set: str, system: str | None, k: int, seed: int):
    """``k`` seeded choices among the store's frames labelled ``ok`` (of ``system`` if given)."""
    ok = store.labels(label_set).status == Status.OK
    if system is not None:
        ok &= store.categorical("system") == system
    frames = np.flatnonzero(ok)
    if not len(frames):
        where = f" of system {system}" if system else ""
        raise InputError(
            f"{store.path} has no frames{where} labelled ok by {label_set} to start from"
        )
    chosen = np.random.default_rng(seed).choice(frames, min(k, len(frames)), replace=False)
    return store.atoms(np.sort(chosen))


def explore(
    starts: list[Atoms], models: list[str], settings: ActiveSettings, seed: int, log: Log
) -> tuple[list[Atoms], list[Provenance]]:
    """Committee-driven MD from every start at every temperature; a run that blows up keeps the
    frames it made before."""
    from curate.samplers.base import SamplingStopped, derived_seed
    from curate.samplers.registry import get_sampler

    frames, provenance = [], []
    for t, temperature in enumerate(settings.temperatures):
        sampler = get_sampler(
            "mlip-md",
            {
                "mlip": models,
                "temperature": [temperature],
                "stride": settings.stride,
                "equilibration": settings.equilibration,
                "timestep": settings.timestep,
            },
        )
        for s, start in enumerate(starts):
            reference = start.copy()
            reference.info.clear()
            run_seed = derived_seed(seed, t * len(starts) + s)
            system = str(start.info.get("system", ""))
            try:
                got, prov = sampler.sample(reference, settings.md_frames, run_seed, system)
            except SamplingStopped as exc:
                log(f"MD from start {s} at {temperature:g} K stopped early: {exc}")
                got, prov = exc.frames, exc.provenance
            frames += got
            provenance += prov
    return frames, provenance


def _append(store: Store, frames: list[Atoms], provenance: list[Provenance], k: int, role: str):
    tagged = [
        replace(p, scheme=SCHEME, round=k, params={**p.params, "role": role}) for p in provenance
    ]
    bare = []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = None
        atoms.info.clear()
        bare.append(atoms)
    return store.append(bare, tagged)


class ActiveLoop:
    """One loop on one store; each phase is a method taking the round's record."""

    def __init__(
        self,
        store_path: Path,
        out: Path,
        oracle: CalculatorSpec,
        settings: ActiveSettings,
        client_options: dict[str, Any] | None,
        log: Log,
    ):
        self.store_path, self.out, self.oracle, self.settings = store_path, out, oracle, settings
        self.label_set = oracle.default_label_set
        self.client_options, self.log = client_options, log
        self.state = load_state(out, settings)
        self.steps = StepRunner(self.state, events=_Log(log))

    def folder(self, record: dict[str, Any]) -> Path:
        return self.out / f"round-{record['round']}"

    def spent(self) -> int:
        with Store.open(self.store_path) as store:
            return spent_labels(store)

    def _oracle_labels(self) -> dict[str, int]:
        from curate.labelling.run import label_store

        summary = label_store(
            self.store_path,
            self.oracle,
            label_set=self.label_set,
            client_options=self.client_options,
        )
        return summary.counts

    def run(self) -> dict[str, Any]:
        """Run the rounds' phases as steps (those finished before are skipped) until one of the
        stopping rules holds after a round."""
        finished, k = None, 0
        while finished is None:
            k += 1
            record = self.round(k)
            if record["fraction_above_target"] < self.settings.stop_fraction:
                finished = "converged: fresh MD stays below the target force error"
            elif record["spent"] >= self.settings.budget:
                finished = "budget spent"
            elif k >= self.settings.max_rounds:
                finished = "reached --max-rounds"
        self.state["finished"] = finished
        self.state.save()
        return {
            "store": str(self.store_path),
            "out": str(self.out),
            "finished": finished,
            "rounds": self.state["rounds"],
        }

    def round(self, k: int) -> dict[str, Any]:
        """Round ``k``'s phases, each a step on the one before; the results of all of them."""
        record: dict[str, Any] = {"round": k}
        self.folder(record).mkdir(exist_ok=True)
        before = (step_name(k - 1, PHASES[-1]),) if k > 1 else ()
        for phase in PHASES:
            inputs = {"round": k, "phase": phase}
            if not before:
                inputs["settings"] = self.state["settings"]
            step = Step(
                step_name(k, phase),
                inputs,
                before,
                (),
                lambda phase=phase: getattr(self, phase)(record),
                f"round {k}: {phase}",
            )
            record.update(self.steps.run(step).result)
            before = (step.name,)
        return record

    def train(self, record: dict[str, Any]) -> dict[str, Any]:
        """A committee on every frame labelled ok so far."""
        from curate.potentials.mace import train_committee

        committee = train_committee(
            self.store_path,
            self.folder(record) / "committee",
            self.settings.committee,
            self.settings.mace,
            label_set=self.label_set,
            seed=self.settings.seed + 1000 * record["round"],
            workers=None,  # one member per core: measured faster than one after another
        )
        return {"models": [f"mace:{m.resolve()}" for m in committee.models]}

    def explore(self, record: dict[str, Any]) -> dict[str, Any]:
        """Committee MD from seeded starting frames, kept in the round's candidate store."""
        candidates = self.folder(record) / "candidates.zarr"
        shutil.rmtree(candidates, ignore_errors=True)  # an unfinished exploration restarts
        seed = self.settings.seed + record["round"]
        with Store.open(self.store_path) as store:
            starts = starting_frames(
                store, self.label_set, self.settings.system, self.settings.starts, seed
            )
        frames, provenance = explore(starts, record["models"], self.settings, seed, self.log)
        with Store.create(candidates) as kept:
            kept.append(frames, provenance, on_duplicate="keep")
        return {"candidates": len(frames)}

    def candidates(self, record: dict[str, Any]):
        """The round's candidate frames, their provenance and committee disagreement."""
        with Store.open(self.folder(record) / "candidates.zarr") as kept:
            frames, provenance = kept.atoms(), kept.provenance()
        sigma = np.array([p.params.get("force_disagreement", np.nan) for p in provenance])
        return frames, provenance, sigma

    def probe(self, record: dict[str, Any]) -> dict[str, Any]:
        """Label a few random candidates, whatever their disagreement, to calibrate on."""
        frames, provenance, _ = self.candidates(record)
        n = max(0, min(self.settings.probe, len(frames), self.settings.budget - self.spent()))
        rng = np.random.default_rng([self.settings.seed, record["round"]])
        chosen = np.sort(rng.choice(len(frames), n, replace=False))
        with Store.open(self.store_path, "a") as store:
            added = _append(
                store,
                [frames[i] for i in chosen],
                [provenance[i] for i in chosen],
                record["round"],
                "probe",
            )
        self._oracle_labels()
        return {
            "probe_frames": chosen.tolist(),
            "probe_store_frames": added.indices.tolist(),
        }

    def select(self, record: dict[str, Any]) -> dict[str, Any]:
        """Calibrate on the probe; pick uncertain, new, diverse candidates for the oracle."""
        from curate.potentials.selection import select
        from curate.potentials.uncertainty import calibrate_on_probe

        frames, provenance, sigma = self.candidates(record)
        with Store.open(self.store_path) as store:
            labelled = [
                a for a in store.atoms(label_set=self.label_set) if "REF_forces" in a.arrays
            ]
            probed = store.atoms(record["probe_store_frames"], label_set=self.label_set)
        usable = [a for a in probed if "REF_forces" in a.arrays]
        if not usable:
            raise InputError(
                f"round {record['round']}: no probe frame was labelled ok; cannot calibrate"
            )
        calibration = calibrate_on_probe(
            record["models"], usable, [a.arrays["REF_forces"] for a in usable]
        )
        above = float(np.mean(calibration.error(sigma) > self.settings.target_error))
        result: dict[str, Any] = {
            "calibration": calibration.as_dict(),
            "fraction_above_target": above if len(sigma) else 0.0,
            "selected": 0,
        }
        room = self.settings.budget - self.spent()
        if result["fraction_above_target"] < self.settings.stop_fraction or room <= 0:
            return result
        rest = np.setdiff1d(np.arange(len(frames)), record["probe_frames"])
        selection = select(
            [frames[i] for i in rest],
            sigma[rest],
            min(self.settings.batch, room),
            self.settings.target_error,
            training=labelled,
            upper=self.settings.upper_error,
            calibration=calibration,
        )
        chosen = rest[selection.chosen]
        (self.folder(record) / "selection.json").write_text(json.dumps(selection.as_dict()))
        with Store.open(self.store_path, "a") as store:
            _append(
                store,
                [frames[i] for i in chosen],
                [provenance[i] for i in chosen],
                record["round"],
                "selected",
            )
        return result | {"selected": len(chosen), "selection_counts": selection.counts()}

    def label(self, record: dict[str, Any]) -> dict[str, Any]:
        """The oracle labels the selected frames (a failed frame is recorded, never fatal); the
        labels the loop has spent so far."""
        return {"labels": self._oracle_labels(), "spent": self.spent()}


def run_active(
    store_path: str | Path,
    out: str | Path,
    oracle: CalculatorSpec,
    settings: ActiveSettings,
    client_options: dict[str, Any] | None = None,
    log: Log = lambda message: None,
) -> dict[str, Any]:
    """Run (or resume) the loop on the store at ``store_path``; records in ``out``."""
    store_path, out = Path(store_path), Path(out)
    if not store_path.exists():
        raise InputError(f"no store at {store_path}")
    with Store.open(store_path) as store:
        if oracle.default_label_set not in store.label_sets():
            raise InputError(
                f"{store_path} has no '{oracle.default_label_set}' labels; label some frames "
                f"with curate label --calculator {oracle.text} first"
            )
    out.mkdir(parents=True, exist_ok=True)
    return ActiveLoop(store_path, out, oracle, settings, client_options, log).run()
