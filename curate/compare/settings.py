"""Settings of ``curate compare``: the grid of learning curves and how each cell trains, one
pydantic model for the library, the CLI and a recipe's ``compare`` section. What depends on the
kind of model (default targets and training options, the targets it can learn) comes from the
family of ``model`` (:mod:`curate.compare.families`).

Light to import: nothing here loads torch, Dask or MACE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from curate.compare.families import FAMILIES, family_of, find_family
from curate.compare.family import ModelFamily
from curate.core.settings import Settings
from curate.models.settings import DEFAULT_CUTOFF, DEFAULT_MODEL


def _per_family(text: Callable[[ModelFamily], str]) -> str:
    """``text`` of every family, each followed by whom it is for."""
    return "; ".join(f"{text(f)} for {f.label}" for f in FAMILIES.values())


def _family_default(name: str) -> str:
    return _per_family(lambda f: f"{f.training_defaults[name]:g}")


class CompareSettings(Settings):
    """The grid and how each cell trains (defaults suit learning curves on small subsets).
    Left out, ``targets``, ``lr``, ``max_epochs`` and ``patience`` take the model family's
    defaults; sizes are sorted and repeats dropped. Values that cannot be used raise
    ``ValueError`` (pydantic's ValidationError; :meth:`build` makes it one InputError)."""

    model_config = ConfigDict(frozen=True)

    targets: tuple[str, ...] = Field(
        (),
        description="Targets to learn (default "
        + _per_family(lambda f: ", ".join(f.default_targets))
        + ").",
    )
    sizes: tuple[int, ...] = Field(
        (50, 100, 200, 400), description="Training sizes (nested subsets)."
    )
    seeds: int = Field(5, description="Seeds per size: subsets and initial weights.")
    model: str = Field(
        DEFAULT_MODEL,
        description="; ".join(f.summary for f in FAMILIES.values()) + ".",
    )
    label_set: str | None = Field(
        None, description="Label set compared (default: the store's only one)."
    )
    test_fraction: float = Field(0.2, description="Held-out share of each scheme.")
    val_fraction: float = Field(
        0.2, description="Share of each training subset used for early stopping."
    )
    hidden: int | None = Field(
        None,
        description="Hidden channels of each cell's model (default: the model's own; "
        "for MACE its channels, 16).",
    )
    dropout: float | None = Field(
        None, description="Dropout of property GNNs (default: the model's own)."
    )
    lr: float | None = Field(None, description=f"Learning rate (default {_family_default('lr')}).")
    batch_size: int = Field(8, description="Frames per optimiser step.")
    max_epochs: int | None = Field(
        None, description=f"Upper bound on epochs (default {_family_default('max_epochs')})."
    )
    patience: int | None = Field(
        None,
        description="Stop after this many epochs without a better validation loss "
        f"(default {_family_default('patience')}).",
    )
    cutoff: float = Field(DEFAULT_CUTOFF, description="Graph radius of property GNNs in Å.")
    split_seed: int = Field(0, description="Seed of each scheme's held-out test split.")
    order: Literal["shuffled", "chosen"] = Field(
        "shuffled",
        description="shuffled: each seed trains on nested prefixes of a shuffled pool; "
        "chosen: on the first frames of each scheme in store order (the order a selection "
        "chose them), tested on its last.",
    )
    combined: bool = Field(
        False,
        description="Also train on every scheme's pool together (the paper's combined set), "
        "scored like a scheme; its own test split is the union of theirs.",
    )
    min_band_gap: float | None = Field(
        None,
        description="Leave out frames whose band gap (eV) is at most this, in every set "
        "(the paper kept gaps above 0.1 eV; default: keep all).",
    )

    @model_validator(mode="before")
    @classmethod
    def _family_defaults(cls, data: Any) -> Any:
        """Targets and training options left out (or None) from the family of the model."""
        if not isinstance(data, dict):
            return data
        model = data.get("model", DEFAULT_MODEL)
        family = find_family(model) if isinstance(model, str) else None
        if family is None:
            return data  # refused by _check
        data = dict(data)
        if not data.get("targets"):
            data["targets"] = family.default_targets
        for name, value in family.training_defaults.items():
            if data.get(name) is None:
                data[name] = value
        return data

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if not sizes or min(sizes) < 3:
            raise ValueError(f"training sizes must be at least 3 frames, got {sizes}")
        return tuple(sorted(set(sizes)))

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: int) -> int:
        if seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {seeds}")
        return seeds

    @model_validator(mode="after")
    def _check(self) -> CompareSettings:
        family_of(self.model).check_targets(self.targets)
        for name in ("test_fraction", "val_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must lie between 0 and 1, got {getattr(self, name)}")
        return self

    @property
    def family(self) -> ModelFamily:
        """The family of :attr:`model`: what the grid asks how to train and score its cells."""
        return family_of(self.model)
