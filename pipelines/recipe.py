"""Campaign recipes: a typed YAML description of a whole study (system, sampling sets, oracle,
reference set, diversity and learning-curve comparison), validated before anything runs.

A recipe is read with :func:`load_recipe` (a path, or the name of a bundled recipe such as
``quickstart``) or validated from a mapping with :func:`validate_recipe`. Every mistake (unknown
key, wrong type, missing field, unknown scheme, bad sampler parameter, unknown system or
calculator) raises :class:`~curate.core.errors.InputError` with one line naming the field, e.g.
``recipe quickstart.yaml: sets.1.n: Input should be a valid integer``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from curate.compare.settings import CompareSettings
from curate.core.errors import InputError, yaml_problem
from curate.core.settings import Settings
from curate.curation.settings import SelectSettings
from curate.labelling.settings import ClusterSettings
from curate.metrics.settings import DiversitySettings
from curate.potentials.settings import ActiveSettings
from curate.samplers.settings import SampleSettings

BUNDLED = ("quickstart", "paper", "bandgap", "curation")
"""Recipes shipped in ``curate.pipelines`` (``<name>.yaml``)."""


def _calculator_mapping(value: object) -> object:
    """``chgnet`` → ``{calculator: chgnet}``; a mapping stays as it is."""
    return {"calculator": value} if isinstance(value, str) else value


class Calculator(Settings):
    """A calculator spec (``chgnet``, ``emt``, ``gpaw``, ``mace:PATH``, ``ase:module.Class``) and
    its keyword arguments. In YAML either ``oracle: chgnet`` or
    ``oracle: {calculator: gpaw, kwargs: {mode: {name: pw, ecut: 500}}}``."""

    calculator: str
    kwargs: dict[str, Any] = Field({}, description="The calculator's keyword arguments.")

    def spec(self):
        from curate.calculators import parse_spec

        return parse_spec(self.calculator, self.kwargs)


class SampleSet(SampleSettings):
    """One sampling step: the fields of :class:`curate.samplers.settings.SampleSettings`.
    ``system``, ``supercell``, ``br_fraction`` and ``occupation_seed`` default to the recipe's
    (mixed compositions in one study). ``name`` (default: the scheme, numbered when a scheme
    repeats) names the step ``sample:<name>``."""

    system: str | None = Field(None, description="System of this set (default: the recipe's).")
    br_fraction: float | None = Field(None, ge=0, le=1, description="Ag3SBrI: Br share.")
    occupation_seed: int | None = Field(None, ge=0, description="Ag3SBrI: occupation seed.")
    name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.+-]+$", description="Step name (default: the scheme)."
    )

    def settings(self) -> SampleSettings:
        """The sampling run of this set (after :func:`validate_recipe` filled in the system)."""
        return SampleSettings.model_validate(self.model_dump(exclude={"name"}))


class Diversity(DiversitySettings):
    """``curate diversity`` of the sets (grouped ``by`` scheme), with coverage of the reference
    set when there is one: the fields of :class:`curate.metrics.settings.DiversitySettings`
    (``descriptor: {k, cutoff}``, ``bandwidth``, ``q``...). ``plot`` writes the PCA map next to
    ``diversity.json``."""

    enabled: bool = Field(True, description="Run the diversity step.")
    by: Literal["scheme", "system", "all"] = Field("scheme", description="Grouping of frames.")
    size: int | None = Field(None, ge=1, description="Size-matched subsets (default: smallest).")
    plot: bool = Field(True, description="Write the PCA map.")

    def settings(self) -> DiversitySettings:
        return DiversitySettings.model_validate(
            self.model_dump(exclude={"enabled", "by", "size", "plot"})
        )


class Compare(CompareSettings):
    """Learning curves of every scheme: the fields of
    :class:`curate.compare.settings.CompareSettings`. ``label_set`` defaults to the oracle's
    label set."""

    enabled: bool = Field(True, description="Run the compare step.")

    def fields(self, default_label_set: str) -> dict[str, Any]:
        """The fields this section gives (what its step's key depends on), with the label set."""
        given = self.model_dump(exclude_unset=True, exclude={"enabled"})
        given["label_set"] = given.get("label_set") or default_label_set
        return given

    def settings(self, default_label_set: str) -> CompareSettings:
        """The comparison of this section, on ``default_label_set`` unless it names one."""
        given = self.model_dump(exclude={"enabled"})
        given["label_set"] = given["label_set"] or default_label_set
        return CompareSettings.model_validate(given)


ACTIVE_COMMITTEE = "active"
"""``params: {mlip: active}`` of an ``mlip-md`` set: the last committee the active step trained."""


class Active(Settings):
    """The active-learning scheme. A small ``seed_set`` is sampled into ``DIR/active.zarr`` and
    labelled by the oracle; ``curate active`` runs on it (records in ``DIR/active/``) with the
    options in ``loop`` (:class:`curate.potentials.settings.ActiveSettings`, ``mace`` its
    :class:`~curate.potentials.settings.MACESettings`); then every frame of it joins
    ``sets.zarr`` with its labels as scheme ``active`` (the seed frames as round 0), so each
    label is paid once."""

    enabled: bool = True
    seed_set: SampleSet
    loop: ActiveSettings = ActiveSettings()

    def settings(self, system: str | None = None) -> ActiveSettings:
        """The loop's settings, with the frames' system recorded."""
        return self.loop.model_copy(update={"system": system})


class Choice(SelectSettings):
    """One selection of the pool (:class:`curate.curation.settings.SelectSettings`); ``name``
    is its scheme in ``curated.zarr`` (default: the method, numbered when it repeats)."""

    model_config = ConfigDict(frozen=False)

    name: str | None = None


class Select(Settings):
    """Curate the labelled pool: every choice becomes a scheme of ``curated.zarr``, and the
    diversity and compare steps score the choices instead of the sampled sets."""

    enabled: bool = True
    pool: Literal["sets", "reference"] = Field(
        "sets", description="The store the choices are made from."
    )
    choices: list[Choice] = Field(min_length=1)


class Recipe(Settings):
    """A whole campaign. Steps, in order: ``sample:<set>`` for every set (into ``sets.zarr``),
    ``reference:<set>`` for every reference set (into ``reference.zarr``), ``label``,
    ``label:reference``, ``select`` (into ``curated.zarr``), ``diversity`` and ``compare``."""

    name: str
    system: str
    supercell: int | None = Field(None, ge=1)
    br_fraction: float = Field(0.5, ge=0, le=1)
    occupation_seed: int = Field(0, ge=0)
    relax: Calculator | None = None
    oracle: Calculator = Calculator(calculator="chgnet")
    reuse_labels: list[str] = Field(
        [],
        description="Stores (or zipped stores) whose oracle labels of the same frames are "
        "taken instead of computed; relative paths from the recipe's folder (a bundled "
        "recipe's: curate's datasets/).",
    )
    workers: int | None = Field(None, ge=1)
    dask: ClusterSettings = ClusterSettings()
    sets: list[SampleSet] = Field(min_length=1)
    reference: list[SampleSet] = Field([], description="Sets every scheme is scored on.")
    active: Active | None = None
    select: Select | None = None
    diversity: Diversity = Diversity()
    compare: Compare | None = None

    _calculators = field_validator("relax", "oracle", mode="before")(_calculator_mapping)

    @field_validator("reference", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if value is None:
            return []
        return [value] if isinstance(value, dict) else value

    def client_options(self, workers: int | None = None) -> dict[str, Any]:
        """Options of :func:`curate.core.cluster.dask_client` (``workers`` overrides the
        recipe's)."""
        return self.dask.client_options(workers or self.workers)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def find_recipe(name: str | Path) -> tuple[str, str, Path | None]:
    """``(label, YAML text, folder)`` of a recipe file, or of a bundled recipe by name
    (:data:`BUNDLED`; folder None)."""
    path = Path(name)
    if path.is_file():
        try:
            return path.name, path.read_text(), path.resolve().parent
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read recipe {path}: {exc}") from None
    stem = path.name.removesuffix(".yaml")
    if str(name) in (stem, f"{stem}.yaml") and stem in BUNDLED:
        bundled = resources.files("curate.pipelines") / f"{stem}.yaml"
        return f"{stem}.yaml", bundled.read_text(), None
    if path.exists():
        raise InputError(f"recipe {path} is not a file")
    raise InputError(f"no recipe file {name} (bundled recipes: {', '.join(BUNDLED)})")


def load_recipe(name: str | Path) -> tuple[Recipe, str]:
    """The validated recipe at ``name`` (a file or a bundled recipe's name) and its YAML text.
    Relative structure-file paths are read from the recipe's folder."""
    label, text, folder = find_recipe(name)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"recipe {label}: malformed YAML {yaml_problem(exc)}") from None
    return validate_recipe(data, label, folder), text


def validate_recipe(data: Any, label: str = "<recipe>", folder: Path | None = None) -> Recipe:
    """A :class:`Recipe` from a mapping, checked down to every sampler's parameters, system and
    calculator spec; sets get their names and the oracle as default MD/phonon calculator."""
    if not isinstance(data, dict):
        raise InputError(f"recipe {label}: expected a mapping of fields, got {type(data).__name__}")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"recipe {label}: {_first_error(exc)}") from None
    try:
        return _check(recipe, folder)
    except _FieldError as exc:
        raise InputError(f"recipe {label}: {exc.where}: {exc.message}") from None


class _FieldError(Exception):
    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where, self.message = where, message


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = ".".join(str(part) for part in loc) or "recipe"
    if error["type"] == "extra_forbidden":
        known = _known_fields(loc[:-1])
        return f"{where}: unknown field" + (f" (known: {', '.join(known)})" if known else "")
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def _known_fields(loc: list[Any]) -> list[str]:
    """Field names of the section at ``loc`` (for 'unknown field' messages)."""
    model: type[BaseModel] | None = Recipe
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _section_type(field.annotation)
    return list(model.model_fields) if model is not None else []


def _section_type(annotation: Any) -> type[BaseModel] | None:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _section_type(arg)
        if found is not None:
            return found
    return None


def _check(recipe: Recipe, folder: Path | None) -> Recipe:
    """Checks beyond types: calculator specs, systems, sampler parameters, unique set names."""
    oracle = _spec(recipe.oracle, "oracle")
    if recipe.relax is not None:
        _spec(recipe.relax, "relax")
    built: set[tuple] = set()
    sets = [
        _resolve(s, f"sets.{i}", recipe, oracle, folder, built) for i, s in enumerate(recipe.sets)
    ]
    reference = [
        _resolve(s, f"reference.{i}", recipe, oracle, folder, built)
        for i, s in enumerate(recipe.reference)
    ]
    _name_sets(sets, "sets")
    _name_sets(reference, "reference")
    reuse = [
        _shipped(path, folder, f"reuse_labels.{i}") for i, path in enumerate(recipe.reuse_labels)
    ]
    recipe = recipe.model_copy(update={"sets": sets, "reference": reference, "reuse_labels": reuse})
    active = recipe.active is not None and recipe.active.enabled
    for i, s in enumerate(sets):
        if uses_active_committee(s) and not active:
            raise _FieldError(
                f"sets.{i}.params.mlip",
                f"'{ACTIVE_COMMITTEE}' names the committee of the active step; add an active "
                "section or give model files",
            )
    if recipe.select is not None:
        _name_choices(recipe.select.choices)
        if recipe.select.pool == "reference" and not reference:
            raise _FieldError("select.pool", "the recipe has no reference sets to choose from")
    if active:
        seed_set = _resolve(
            recipe.active.seed_set, "active.seed_set", recipe, oracle, folder, built
        )
        recipe.active = recipe.active.model_copy(update={"seed_set": seed_set})
    return recipe


def _shipped(path: str, folder: Path | None, where: str) -> str:
    """A label store's path: absolute, from the recipe's folder, or (bundled recipes) from
    curate's datasets."""
    found = Path(path)
    if not found.is_absolute():
        base = folder if folder is not None else Path(str(resources.files("curate.datasets")))
        found = base / found
    if not found.exists():
        raise _FieldError(where, f"no store at {found}")
    return str(found)


def uses_active_committee(s: SampleSet) -> bool:
    """Whether the set's MLIP-MD is driven by the active step's committee."""
    mlip = s.params.get("mlip")
    return mlip == ACTIVE_COMMITTEE or mlip == [ACTIVE_COMMITTEE]


def _spec(section: Calculator, where: str):
    try:
        return section.spec()
    except InputError as exc:
        raise _FieldError(f"{where}.calculator", str(exc)) from None


def _resolve(
    s: SampleSet, where: str, recipe: Recipe, oracle, folder: Path | None, built: set[tuple]
) -> SampleSet:
    """The set with the recipe's system fields filled in, relative structure paths made
    absolute, the oracle as default calculator of schemes that take one, and params checked by
    the sampler's own model."""
    from curate.samplers.registry import SAMPLERS, get_sampler
    from curate.systems.builtin import BUILTIN_SYSTEMS

    if s.scheme not in SAMPLERS:
        known = ", ".join(sorted(SAMPLERS))
        raise _FieldError(f"{where}.scheme", f"unknown scheme '{s.scheme}' (known: {known})")
    system = s.system or recipe.system
    if system not in BUILTIN_SYSTEMS and folder is not None and (folder / system).exists():
        system = str(folder / system)
    params = dict(s.params)
    if "calculator" in SAMPLERS[s.scheme].Params.model_fields and "calculator" not in params:
        if oracle.kwargs:
            raise _FieldError(
                f"{where}.params.calculator",
                f"{s.scheme} needs its calculator given: the oracle has keyword arguments, "
                "which a sampler's calculator spec cannot carry",
            )
        params["calculator"] = oracle.text
    try:
        sampler = get_sampler(s.scheme, params)
    except InputError as exc:
        raise _FieldError(f"{where}.params", str(exc)) from None
    labels_from = getattr(sampler, "labels_from", None)
    if labels_from:
        from curate.calculators import parse_spec

        try:
            carried = parse_spec(labels_from)
        except InputError as exc:
            raise _FieldError(f"{where}.params.calculator", str(exc)) from None
        if (
            carried.default_label_set == oracle.default_label_set
            and carried.canonical() != oracle.canonical()
        ):
            raise _FieldError(
                f"{where}.params.calculator",
                f"'{labels_from}' would write its MD labels into the oracle's label set "
                f"'{oracle.default_label_set}' with other settings; use the oracle's settings "
                "or another calculator",
            )
    resolved = s.model_copy(
        update={
            "system": system,
            "params": params,
            "supercell": s.supercell if s.supercell is not None else recipe.supercell,
            "br_fraction": s.br_fraction if s.br_fraction is not None else recipe.br_fraction,
            "occupation_seed": (
                s.occupation_seed if s.occupation_seed is not None else recipe.occupation_seed
            ),
        }
    )
    key = (system, resolved.supercell, resolved.br_fraction, resolved.occupation_seed)
    if key not in built:
        from curate.systems.builtin import build_system

        try:
            build_system(*key)
        except InputError as exc:
            raise _FieldError(f"{where}.system" if s.system else "system", str(exc)) from None
        built.add(key)
    return resolved


def _name_choices(choices: list[Choice]) -> None:
    """Name every choice: its own name, else its method (numbered when a method repeats)."""
    methods = [c.method for c in choices if c.name is None]
    taken = {c.name for c in choices if c.name is not None}
    seen: dict[str, int] = {}
    for i, c in enumerate(choices):
        if c.name is not None:
            if any(other.name == c.name for other in choices[:i]):
                raise _FieldError(f"select.choices.{i}.name", f"duplicate choice name '{c.name}'")
            continue
        seen[c.method] = seen.get(c.method, 0) + 1
        name = c.method if methods.count(c.method) == 1 else f"{c.method}-{seen[c.method]}"
        while name in taken:
            name += "_"
        c.name = name
        taken.add(name)


def _name_sets(sets: list[SampleSet], where: str) -> None:
    """Give every set a unique name: its own, else its scheme (``random-1``, ``random-2`` when a
    scheme repeats)."""
    counts: dict[str, int] = {}
    for s in sets:
        if s.name is None:
            counts[s.scheme] = counts.get(s.scheme, 0) + 1
    seen: dict[str, int] = {}
    taken = {s.name for s in sets if s.name is not None}
    for i, s in enumerate(sets):
        if s.name is None:
            seen[s.scheme] = seen.get(s.scheme, 0) + 1
            name = s.scheme if counts[s.scheme] == 1 else f"{s.scheme}-{seen[s.scheme]}"
            while name in taken:
                name += "_"
            s.name = name
        elif any(other.name == s.name for other in sets[:i]):
            raise _FieldError(f"{where}.{i}.name", f"duplicate set name '{s.name}'")
        taken.add(s.name)
