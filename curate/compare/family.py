"""What a model family gives the learning-curve grid.

A family is a kind of model a cell can train: property GNNs (:mod:`curate.compare.property_cells`)
or MACE potentials (:mod:`curate.compare.mace_cells`). The settings, the grid (plan, run, the cell
cache), the scores and the report know nothing of either: they ask the family of
``settings.model`` (:func:`curate.compare.families.family_of`) for its targets, the truths it
loads, the models of each (scheme, size, seed), their training settings, what its Dask workers
share and the function they run, how its predictions become rows, and the units of its targets.

To add a family (a fine-tuned foundation potential, say): write one module under
``curate/compare/`` with a subclass of :class:`ModelFamily` that fills in every abstract member
(the two modules above are the examples), and add its instance to ``FAMILIES`` in
:mod:`curate.compare.families`. Keep the module light to import (no torch, Dask or MACE at
module level): the settings read the family's names and defaults when they are checked.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from curate.core.labels import UNITS

if TYPE_CHECKING:
    import numpy as np

    from curate.store import Store

ALL_TARGETS = "*"
"""The target of a model that predicts every target at once (its cell in the cache key)."""


@dataclass(frozen=True)
class Cell:
    """One training run of the grid."""

    scheme: str
    target: str
    size: int
    seed: int


@dataclass
class Fit:
    """One model to train: the grid cells it answers, its cache key, frames and settings."""

    cells: list[Cell]
    key: str
    split: dict[str, np.ndarray]
    config: Any


@dataclass(frozen=True)
class FitTarget:
    """A model of each (scheme, size, seed): the target it is named by, the targets of the grid
    cells it answers, and the truths it trains on (they decide its cache key)."""

    name: str
    answers: tuple[str, ...]
    trained_on: tuple[str, ...]


class TrainingOptions(Protocol):
    """What a family reads from the comparison's settings
    (:class:`curate.compare.settings.CompareSettings`)."""

    model: str
    hidden: int | None
    dropout: float | None
    lr: float | None
    batch_size: int
    max_epochs: int | None
    patience: int | None
    cutoff: float


Task = tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]
"""The function a Dask worker runs for one fit, and its arguments."""


def described(config: Any) -> dict[str, Any]:
    """A training configuration as plain data for a cache key: a dataclass's fields, or a
    pydantic model's dump."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return config.model_dump()


def as_rows(predictions: list, width: int) -> np.ndarray:
    """Per-frame prediction lists as rows padded with NaN to ``width`` (scalars stay 1-D)."""
    import numpy as np

    if not predictions or not isinstance(predictions[0], list):
        return np.asarray(predictions, dtype=np.float64)
    rows = np.full((len(predictions), width), np.nan)
    for i, row in enumerate(predictions):
        rows[i, : len(row)] = row
    return rows


class ModelFamily(ABC):
    """A kind of model the grid trains. Subclasses set the class attributes and implement the
    abstract methods; the others have defaults that suit most families."""

    name: str
    """Its key in :data:`curate.compare.families.FAMILIES`."""
    label: str
    """What it is called in help texts ("property GNNs")."""
    summary: str
    """One line on its models for the ``model`` field's help."""
    default_targets: tuple[str, ...]
    """Targets scored when none is asked for."""
    training_defaults: Mapping[str, float]
    """``lr``, ``max_epochs`` and ``patience`` when the settings leave them out."""

    @abstractmethod
    def models(self) -> tuple[str, ...]:
        """Names of the models (``settings.model``) it trains."""

    def check_targets(self, targets: tuple[str, ...]) -> None:
        """Refuse targets its models cannot predict with a one-line ``ValueError`` (the
        settings' check, before any store is read); by default every target is left to the
        store's labels to refuse."""
        return None

    @abstractmethod
    def fits(self, targets: tuple[str, ...]) -> list[FitTarget]:
        """The models of each (scheme, size, seed) that answer ``targets``."""

    @abstractmethod
    def target_values(
        self, store: Store, target: str, label_set: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame truths of ``target`` (rows of components for vectors) and which frames are
        ``ok`` with a value."""

    @abstractmethod
    def train_settings(self, options: TrainingOptions, target: str, seed: int, label_set: str):
        """The training configuration of one model (the fit target ``target``, seed ``seed``)."""

    def cache_description(self, config: Any) -> dict[str, Any]:
        """A training configuration as it enters the cell's cache key."""
        return described(config)

    @abstractmethod
    def reference_data(self, store: Store, options: TrainingOptions) -> Any:
        """What the workers predict the reference store's frames from (graphs, frames)."""

    def prepare(self, store: Store, folder: Path, fit: Fit, label_set: str) -> None:
        """Write what one fit reads from disk before it trains (in the main process, with the
        store open); by default nothing."""
        return None

    @abstractmethod
    def worker_inputs(
        self, store: Store, evaluate_on: np.ndarray, values: dict, options: TrainingOptions
    ) -> dict[str, Any]:
        """What its fits share, by name, scattered once to every worker: the inputs of
        ``store``'s frames ``evaluate_on`` (the union of the test splits), from the per-target
        truths ``values`` as it needs them. The grid adds the :meth:`reference_data` as
        ``reference`` (None without a reference store)."""

    @abstractmethod
    def task(self, fit: Fit, shared: dict[str, Any], folder: Path, evaluate_on: np.ndarray) -> Task:
        """The function a worker runs to train ``fit`` (in ``folder`` when it writes files) and
        its arguments, ``shared`` being :meth:`worker_inputs` as scattered. The function returns
        ``tests`` (predictions of ``evaluate_on``, in target units) and ``reference`` (None
        without one), or those per target under ``targets``, with ``epochs``, ``best_epoch`` and
        ``seconds``."""

    def rows(self, predictions: list, width: int) -> np.ndarray:
        """A cell's cached predictions as an array beside the truths (``width`` components)."""
        return as_rows(predictions, width)

    def unit(self, target: str) -> str:
        """The unit a target's errors are reported in."""
        return UNITS.get(target, "")
