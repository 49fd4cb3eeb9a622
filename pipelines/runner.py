"""The campaign runner: ``curate run RECIPE --out DIR``.

Steps run in order: ``sample:<set>`` for every set (appended into ``DIR/sets.zarr``),
``reference:<set>`` for every reference set (``DIR/reference.zarr``), ``label`` and
``label:reference`` (the oracle, on Dask), ``select`` when the recipe curates its pool (every
choice a scheme of ``DIR/curated.zarr``, which the next two steps then score instead of
``sets.zarr``), ``diversity`` (``DIR/diversity.json``) and ``compare`` (``DIR/report.html`` and
``DIR/report.json``, figures and tables beside them).

Resuming: ``DIR/steps.json`` records every finished step with a key, the hash of the step's
recipe section and of the keys of the steps it depends on (a sampling step depends on nothing;
``label`` on every ``sample:`` step, ``label:reference`` on every ``reference:`` step,
``diversity`` on both labellings, ``compare`` on those and ``diversity``). A re-run skips a step
whose key is unchanged and whose outputs exist; it runs a step whose section or any step it depends
on changed, or that was forced (``force``), and then every step that depends on one that ran. A
step is recorded only after it succeeded; before it runs, its record and those of the steps
depending on it are dropped, so a run killed at any point resumes correctly. Repeating work is
cheap: the store skips frames it already holds (same content uid), labelling labels only frames
not ``ok`` yet, and the comparison trains only cells it has not cached.

Stores are append-only: shrinking a set or changing its seed adds the new frames, and the frames
of the earlier version stay in ``sets.zarr`` (a warning says so); start a new DIR for a clean set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from curate.pipelines.recipe import (
    Recipe,
    SampleSet,
    load_recipe,
    uses_active_committee,
    validate_recipe,
)

from curate.core.errors import CurateError, InputError
from curate.core.files import write_json
from curate.core.steps import Step, StepEvents, StepRunner, StepState, chain_keys

STEPS_FILE = "steps.json"
SETS = "sets.zarr"
REFERENCE = "reference.zarr"
ACTIVE_STORE = "active.zarr"
ACTIVE_DIR = "active"
DIVERSITY = "diversity.json"
CURATED = "curated.zarr"
RECIPE_COPY = "recipe.yaml"


class StepError(CurateError):
    """A step that did not finish; the message names it."""


class Reporter:
    """What the runner tells about its progress; this one stays silent (tests, library use)."""

    def plan(self, recipe: Recipe, out: Path, steps: list[str]) -> None:
        """The run is about to start these steps (in order)."""

    def start(self, name: str, detail: str) -> None:
        """Step ``name`` starts."""

    def skip(self, name: str) -> None:
        """Step ``name`` finished in an earlier run and is unchanged."""

    def finish(self, name: str, seconds: float, detail: str) -> None:
        """Step ``name`` succeeded."""

    def fail(self, name: str) -> None:
        """Step ``name`` stopped with an error (the caller reports it)."""

    def progress(self, done: int, total: int | None, status: str = "") -> None:
        """Progress within the running step."""

    def log(self, message: str) -> None:
        """A warning or note."""


class ConsoleReporter(Reporter):
    """Step lines and a progress bar for the long steps, on stderr (rich); stdout stays free."""

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console(stderr=True, highlight=False)
        self._bar = None
        self._task = None
        self._count = (0, 0)

    def plan(self, recipe: Recipe, out: Path, steps: list[str]) -> None:
        self._count = (0, len(steps))
        self.console.print(f"recipe {recipe.name}: {len(steps)} steps into {out}")

    def _next(self) -> str:
        done, total = self._count
        self._count = (done + 1, total)
        return f"[{done + 1}/{total}]"

    def start(self, name: str, detail: str) -> None:
        self.console.print(f"{self._next()} {name}: {detail}")

    def skip(self, name: str) -> None:
        self.console.print(f"{self._next()} {name}: done before, unchanged (skipped)")

    def finish(self, name: str, seconds: float, detail: str) -> None:
        self._stop_bar()
        self.console.print(
            f"      {name} done in {seconds:.1f} s" + (f": {detail}" if detail else "")
        )

    def fail(self, name: str) -> None:
        self._stop_bar()
        self.console.print(f"      {name} failed")

    def progress(self, done: int, total: int | None, status: str = "") -> None:
        if self._bar is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("      "),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("step", total=total, status=status)
        self._bar.update(self._task, completed=done, total=total, status=status)

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = self._task = None

    def log(self, message: str) -> None:
        self.console.print(f"      {message}")


def run_recipe(
    recipe: str | Path | Recipe | dict,
    out: str | Path,
    *,
    workers: int | None = None,
    force: tuple[str, ...] | list[str] = (),
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    """Run (or resume) the campaign ``recipe`` (a path, a bundled recipe's name, a validated
    :class:`Recipe` or a mapping) into the folder ``out``.

    ``workers`` overrides the recipe's Dask workers; ``force`` names steps to run again even if
    done (the steps depending on them run again too). Returns the step table (status ``done`` or
    ``skipped``, seconds, the step's result) and the paths of the files the campaign wrote.
    Bad recipes and unknown step names raise InputError before anything is written.
    """
    recipe, text = _recipe(recipe)
    out = Path(out)
    reporter = reporter if reporter is not None else ConsoleReporter()
    steps = plan_steps(recipe, out, workers, reporter)
    names = [s.name for s in steps]
    unknown = [name for name in force if name not in names]
    if unknown:
        raise InputError(f"no step '{unknown[0]}' in this recipe (steps: {', '.join(names)})")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    _require_backends(recipe)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    from curate.store.lock import WriterLock

    out.mkdir(parents=True, exist_ok=True)
    lock = WriterLock(out)
    lock.acquire()
    try:
        return _run(recipe, text, out, steps, set(force), reporter)
    finally:
        lock.release()


def _recipe(recipe: str | Path | Recipe | dict) -> tuple[Recipe, str]:
    if isinstance(recipe, Recipe):
        return recipe, yaml.safe_dump(recipe.dump(), sort_keys=False)
    if isinstance(recipe, dict):
        checked = validate_recipe(recipe)
        return checked, yaml.safe_dump(recipe, sort_keys=False)
    return load_recipe(recipe)


def _require_backends(recipe: Recipe) -> None:
    from curate.calculators import require_backend

    require_backend(recipe.oracle.spec())
    if recipe.relax is not None:
        require_backend(recipe.relax.spec())


def _run(
    recipe: Recipe, text: str, out: Path, steps: list[Step], force: set[str], reporter: Reporter
) -> dict[str, Any]:
    state = StepState.load(out / STEPS_FILE)
    (out / RECIPE_COPY).write_text(text)
    state["recipe"] = recipe.dump()
    runner = StepRunner(state, force=force, events=_Events(reporter), plan=steps)
    table = []
    reporter.plan(recipe, out, [s.name for s in steps])
    for step in steps:
        try:
            outcome = runner.run(step)
        except CurateError as exc:
            raise StepError(f"step {step.name}: {exc}") from exc
        table.append(asdict(outcome))
    return {
        "recipe": recipe.name,
        "out": str(out),
        "steps": table,
        "files": _files(out),
    }


class _Events(StepEvents):
    """The step engine's events, told to the reporter."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter

    def skip(self, step: Step, record: dict[str, Any]) -> None:
        self.reporter.skip(step.name)

    def start(self, step: Step, before: dict[str, Any] | None) -> None:
        self.reporter.start(step.name, step.detail)
        # Records written before the step engine name their inputs "section".
        if before is not None and _leaves_frames(
            before.get("inputs", before.get("section")), step.inputs
        ):
            self.reporter.log(
                f"warning: {step.name} changed; frames of its earlier version stay in "
                f"{step.outputs[0]} (stores are append-only)"
            )

    def finish(self, step: Step, seconds: float, result: dict[str, Any]) -> None:
        self.reporter.finish(step.name, seconds, _describe(result))

    def fail(self, step: Step) -> None:
        self.reporter.fail(step.name)


def _leaves_frames(before: Any, now: Any) -> bool:
    """Whether a sampling step changed in a way that leaves frames of its earlier version in
    the store (anything but a larger ``n``)."""
    now = json.loads(json.dumps(now, default=str))
    if not (isinstance(before, dict) and "set" in before and "set" in now):
        return False
    old, new = dict(before["set"]), dict(now["set"])
    grew = new.get("n", 0) >= old.get("n", 0)
    old["n"] = new["n"] = None
    return {**before, "set": old} != {**now, "set": new} or not grew


def _describe(result: dict[str, Any]) -> str:
    """One line about a step's result, for people."""
    if "added" in result:
        return (
            f"added {result['added']} frames ({result['duplicates']} already there), "
            f"{result['frames_in_store']} in the store"
        )
    if "submitted" in result:
        failed = result["failed_physics"] + result["failed_infra"]
        return (
            f"labelled {result['submitted']} frames ({result['skipped']} done before); "
            f"ok {result['ok']}, failed {failed}"
        )
    if "groups" in result:
        return f"{result['groups']} groups, {result['frames']} frames"
    return ", ".join(f"{k} {v}" for k, v in result.items())


def _files(out: Path) -> dict[str, str]:
    candidates = {
        "sets": out / SETS,
        "reference": out / REFERENCE,
        "diversity": out / DIVERSITY,
        "diversity_pca": out / "diversity_pca.png",
        "report_html": out / "report.html",
        "report_json": out / "report.json",
        "steps": out / STEPS_FILE,
        "recipe": out / RECIPE_COPY,
    }
    return {name: str(path) for name, path in candidates.items() if path.exists()}


def plan_steps(
    recipe: Recipe, out: Path, workers: int | None = None, reporter: Reporter | None = None
) -> list[Step]:
    """The recipe's steps in order, each with its key (section hash chained with the keys of the
    steps it depends on)."""
    reporter = reporter or Reporter()
    options = recipe.client_options(workers)
    oracle = recipe.oracle.spec()
    label_set = oracle.default_label_set
    relax = recipe.relax.model_dump() if recipe.relax is not None else None
    steps: list[Step] = []

    def sample_step(prefix: str, s: SampleSet, store: str, depends: tuple[str, ...] = ()) -> Step:
        return Step(
            name=f"{prefix}:{s.name}",
            inputs={"set": s.model_dump(mode="json", exclude={"name"}), "relax": relax},
            depends=depends,
            outputs=(store,),
            action=_sample_action(s, recipe, out / store, reporter),
            detail=f"{s.n} {s.scheme} frames of {Path(s.system).name}, seed {s.seed}",
        )

    driven = [s for s in recipe.sets if uses_active_committee(s)]
    steps += [sample_step("sample", s, SETS) for s in recipe.sets if s not in driven]
    if recipe.active is not None and recipe.active.enabled:
        active = recipe.active
        steps.append(
            Step(
                "active",
                {
                    "active": active.model_dump(mode="json"),
                    "relax": relax,
                    "oracle": oracle.canonical(),
                },
                (),
                (ACTIVE_STORE, f"{ACTIVE_DIR}/active.json"),
                _active_action(recipe, out, oracle, options, reporter),
                f"{active.seed_set.n} {active.seed_set.scheme} seed frames, then rounds of "
                f"committee MD and selection in {ACTIVE_STORE}",
            )
        )
    steps += [sample_step("sample", s, SETS, ("active",)) for s in driven]
    steps += [sample_step("reference", s, REFERENCE) for s in recipe.reference]
    samples = tuple(s.name for s in steps if s.name.startswith("sample:") or s.name == "active")
    references = tuple(s.name for s in steps if s.name.startswith("reference:"))
    labels = []
    for name, store, depends in (
        ("label", SETS, samples),
        ("label:reference", REFERENCE, references),
    ):
        if not depends and name != "label":
            continue
        labels.append(name)
        steps.append(
            Step(
                name,
                {"oracle": oracle.canonical()},
                depends,
                (store,),
                _label_action(out / store, oracle, options, reporter, recipe.reuse_labels),
                f"{oracle.text} on {store}",
            )
        )
    reference_store = out / REFERENCE if references else None
    scored = out / SETS
    select = recipe.select
    if select is not None and select.enabled:
        scored = out / CURATED
        steps.append(
            Step(
                "select",
                select.model_dump(mode="json"),
                tuple(labels),
                (CURATED,),
                _select_action(select, out, reporter),
                f"{len(select.choices)} choices from {select.pool}.zarr into {CURATED}",
            )
        )
        labels.append("select")
    if recipe.diversity.enabled:
        steps.append(
            Step(
                "diversity",
                recipe.diversity.model_dump(mode="json"),
                tuple(labels),
                (DIVERSITY,),
                _diversity_action(recipe, scored, out, reference_store, label_set),
                f"by {recipe.diversity.by}" + (", coverage of the reference" if references else ""),
            )
        )
    compare = recipe.compare
    if compare is not None and compare.enabled:
        use_diversity = recipe.diversity.enabled and recipe.diversity.by == "scheme"
        steps.append(
            Step(
                "compare",
                {"compare": compare.fields(label_set), "diversity": recipe.diversity.enabled},
                (*labels, *(["diversity"] if recipe.diversity.enabled else [])),
                ("report.json",),
                _compare_action(
                    recipe,
                    scored,
                    out,
                    reference_store,
                    label_set,
                    use_diversity,
                    options,
                    reporter,
                ),
                f"{', '.join(compare.settings(label_set).targets)} at sizes "
                f"{', '.join(map(str, compare.sizes))}, {compare.seeds} seeds, {compare.model}",
            )
        )
    chain_keys(steps)
    return steps


def _sample_action(s: SampleSet, recipe: Recipe, path: Path, reporter: Reporter):
    def action() -> dict[str, Any]:
        from curate.samplers.batch import sample_into_store

        relax_with = recipe.relax.spec() if recipe.relax is not None else None
        settings = s.settings()
        if uses_active_committee(s):
            mlip = last_committee(path.parent / ACTIVE_DIR)
            settings = settings.model_copy(update={"params": {**settings.params, "mlip": mlip}})
        outcome = sample_into_store(path, settings, relax_with, reporter.log)
        return {
            "added": outcome.added,
            "duplicates": outcome.duplicates,
            "close_frames": outcome.close_frames,
            "frames_in_store": outcome.n_frames,
        }

    return action


def last_committee(folder: Path) -> list[str]:
    """Calculator specs of the last committee an active-learning run in ``folder`` trained."""
    from curate.potentials.active import STATE_FILE

    state = json.loads((folder / STATE_FILE).read_text())
    trained = [r["models"] for r in state["rounds"] if r.get("models")]
    if not trained:
        raise InputError(f"the active-learning run in {folder} trained no committee")
    return trained[-1]


def _active_action(recipe: Recipe, out: Path, oracle, options: dict[str, Any], reporter: Reporter):
    def action() -> dict[str, Any]:
        from dataclasses import replace

        from curate.potentials.active import SCHEME, run_active
        from curate.store import Store
        from curate.store.transfer import copy_frames

        section = recipe.active
        store = out / ACTIVE_STORE
        seeded = _sample_action(section.seed_set, recipe, store, reporter)()
        labelled = _label_action(store, oracle, options, reporter)()
        result = run_active(
            store, out / ACTIVE_DIR, oracle, section.settings(), options, log=reporter.log
        )

        def retag(p):
            role = p.params.get("role", "seed")
            return replace(p, scheme=SCHEME, params={**p.params, "role": role})

        with Store.open(store) as source, Store.open_or_create(out / SETS) as dest:
            copied = copy_frames(source, dest, [oracle.default_label_set], retag)
        return {
            "seed_frames": seeded["added"],
            "seed_labels_ok": labelled["ok"],
            "rounds": len(result["rounds"]),
            "finished": result["finished"],
            "frames": copied["added"],
            "labels_copied": copied["labels"],
        }

    return action


def _label_action(
    path: Path, spec, options: dict[str, Any], reporter: Reporter, reuse: Sequence[str] = ()
):
    def action() -> dict[str, Any]:
        from curate.labelling.run import label_store

        def progress(done, total, summary):
            status = f"ok {summary.counts.get('ok', 0)}  failed {summary.n_failed}"
            reporter.progress(done, total, status)

        summary = label_store(
            path, spec, client_options=options, progress=progress, reuse_from=reuse
        )
        counts = summary.counts
        result = {
            "label_set": summary.label_set,
            "submitted": summary.submitted,
            "skipped": summary.skipped,
            "reused": summary.reused,
            "ok": counts.get("ok", 0),
            "failed_physics": counts.get("failed-physics", 0),
            "failed_infra": counts.get("failed-infra", 0),
            "pending": counts.get("pending", 0),
            "wall_s": round(summary.wall_s, 3),
        }
        if result["failed_infra"] or result["pending"]:
            raise InputError(
                f"{result['failed_infra']} frames failed for infrastructure reasons and "
                f"{result['pending']} are pending in {path}; run again to retry them"
            )
        if result["failed_physics"]:
            reporter.log(
                f"warning: {result['failed_physics']} frames failed with the calculator (messages "
                f"in the store; `curate label --retry-failed` tries them again); they are left out"
            )
        return result

    return action


def _select_action(select, out: Path, reporter: Reporter):
    def action() -> dict[str, Any]:
        from curate.curation.pool import curate_pool

        taken = curate_pool(
            out / f"{select.pool}.zarr",
            out / CURATED,
            [(c.name, c) for c in select.choices],
            progress=lambda done, total: reporter.progress(done, total, "choices made"),
        )
        return {"choices": taken}

    return action


def _diversity_action(
    recipe: Recipe, scored: Path, out: Path, reference: Path | None, label_set: str
):
    def action() -> dict[str, Any]:
        from curate.metrics.diversity import diversity_report

        section = recipe.diversity
        report = diversity_report(
            scored,
            by=section.by,
            reference=reference,
            size=section.size,
            label_set=label_set,
            settings=section.settings(),
            plot_dir=out if section.plot else None,
        )
        write_json(out / DIVERSITY, report)
        return {"groups": len(report["groups"]), "frames": report["n_frames"]}

    return action


def _compare_action(
    recipe: Recipe,
    scored: Path,
    out: Path,
    reference: Path | None,
    label_set: str,
    use_diversity: bool,
    options: dict[str, Any],
    reporter: Reporter,
):
    def action() -> dict[str, Any]:
        from curate.compare.run import compare

        settings = recipe.compare.settings(label_set)
        diversity = json.loads((out / DIVERSITY).read_text()) if use_diversity else None
        compare(
            scored,
            settings,
            out,
            reference=reference,
            diversity=diversity,
            with_diversity=recipe.diversity.enabled,
            client_options=options,
            progress=lambda done, total: reporter.progress(done, total, "models trained"),
        )
        return {"report": str(out / "report.html")}

    return action
