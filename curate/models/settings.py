"""Settings of a property-model training run (``curate train``, ``curate hpo``, the property cells
of ``curate compare``). Light to import: nothing here loads torch."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from curate.core.settings import Settings

PROPERTY_MODELS = ("paper-1", "paper-2", "paper-3", "paper-4", "paper-5", "paper-6", "schnet")
"""The property networks by name (built by :func:`curate.models.networks.build_model`)."""
DEFAULT_MODEL = "schnet"
DEFAULT_CUTOFF = 5.5
"""Å, the radius of the graphs (the paper's)."""
EXTENSIVE = ("energy",)
"""Targets that grow with the number of atoms: per-atom outputs are summed, not averaged."""


def model_defaults(name: str) -> dict[str, float]:
    """Hidden width and dropout a model trains with unless told otherwise."""
    return {"hidden": 32, "dropout": 0.0} if name == "schnet" else {"hidden": 64, "dropout": 0.2}


class TrainConfig(Settings):
    """Everything that decides a training run (stored in the checkpoint)."""

    target: str = Field("energy_per_atom", description="Label to learn.")
    model: str = Field(DEFAULT_MODEL, description="schnet, or the paper's paper-1 … paper-6.")
    label_set: str | None = Field(None, description="Label set (default: the store's only one).")
    hidden: int | None = Field(None, description="Hidden width (default: the model's).")
    dropout: float | None = Field(None, description="Dropout (default: the model's).")
    output: str = Field("linear", description="Output activation.")
    lr: float = Field(1e-3, description="Adam learning rate.")
    weight_decay: float = Field(0.0, description="Adam weight decay.")
    batch_size: int = Field(32, description="Graphs per batch.")
    max_epochs: int = Field(500, description="Epochs at most.")
    patience: int = Field(
        50, description="Epochs without a better validation loss before stopping."
    )
    fractions: tuple[float, float, float] = Field(
        (0.7, 0.15, 0.15), description="Train, validation and test shares."
    )
    seed: int = Field(0, description="Seed of the initialisation and the batches.")
    split_seed: int | None = Field(None, description="Seed of the split (default: seed).")
    cutoff: float = Field(DEFAULT_CUTOFF, description="Graph radius (Å).")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")

    def model_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`curate.models.networks.build_model`, with the model's
        defaults filled in."""
        defaults = model_defaults(self.model)
        readout = "sum" if self.target in EXTENSIVE else "mean"
        return {
            "name": self.model,
            "hidden": defaults["hidden"] if self.hidden is None else self.hidden,
            "dropout": defaults["dropout"] if self.dropout is None else self.dropout,
            "output": self.output,
            "cutoff": self.cutoff,
            "readout": readout,
        }
