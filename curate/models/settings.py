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

    target: str = Field(
        "energy_per_atom",
        description="energy_per_atom, hydrostatic_stress (GPa), band_gap, vbm, cbm or any "
        "per-frame label in the store.",
    )
    model: str = Field(DEFAULT_MODEL, description="schnet or the paper's paper-1 … paper-6.")
    label_set: str | None = Field(None, description="Label set to learn (default: the only one).")
    hidden: int | None = Field(
        None, description="Hidden channels (default: schnet 32, paper-N 64)."
    )
    dropout: float | None = Field(None, description="Dropout (default: schnet 0, paper-N 0.2).")
    output: str = Field("linear", description="linear, sigmoid or softplus on the output.")
    lr: float = Field(1e-3, description="Adam learning rate (halved on plateaus).")
    weight_decay: float = Field(0.0, description="Adam weight decay.")
    batch_size: int = Field(32, description="Graphs per optimiser step.")
    max_epochs: int = Field(500, description="Upper bound on epochs.")
    patience: int = Field(
        50, description="Stop after this many epochs without a better validation loss."
    )
    fractions: tuple[float, float, float] = Field(
        (0.7, 0.15, 0.15), description="Train/validation/test fractions."
    )
    seed: int = Field(0, description="Seed of the split, the initial weights and shuffling.")
    split_seed: int | None = Field(None, description="Seed of the split alone (default: seed).")
    cutoff: float = Field(DEFAULT_CUTOFF, description="Graph radius in Å.")
    device: str = Field("auto", description="auto (CUDA when present), cpu, cuda or cuda:N.")

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
