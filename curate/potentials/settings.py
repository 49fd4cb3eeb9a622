"""Settings of the potentials stage: MACE training (``curate train-mlip``, MACE cells of
``curate compare``) and the active-learning loop (``curate active``, a recipe's ``active.loop``).
Light to import: nothing here loads torch or MACE."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from curate.core.settings import Settings, require_counts


class MACESettings(Settings):
    """Model size and training options passed to ``mace_run_train``. The defaults train on two
    CPU cores in minutes (32 channels, L = 0, 2 interactions: about 5 s per epoch on 100 40-atom
    frames); ``device`` ``auto`` uses CUDA when torch sees it."""

    channels: int = Field(32, description="Channels per irrep.")
    max_l: int = Field(0, description="Largest L of the hidden irreps (0: 32x0e).")
    interactions: int = Field(2, description="Interaction layers.")
    correlation: int = Field(3, description="Body order of each product.")
    r_max: float = Field(5.0, description="Cutoff radius (Å).")
    epochs: int = Field(100, description="Training epochs.")
    batch_size: int = Field(10, description="Frames per optimiser step.")
    lr: float = Field(0.01, description="Learning rate.")
    energy_weight: float = Field(1.0, description="Weight of energies in the loss.")
    forces_weight: float = Field(100.0, description="Weight of forces in the loss.")
    valid_fraction: float = Field(0.1, description="Share of frames held out for validation.")
    patience: int | None = Field(
        None,
        description="Stop after this many epochs without a lower validation loss "
        "(None: MACE's default).",
    )
    dtype: str = Field("float64", description="float64 or float32.")
    device: str = Field("auto", description="auto (CUDA when present), cpu, cuda or cuda:N.")
    extra_args: list[str] = Field([], description="More arguments for mace_run_train.")

    @model_validator(mode="after")
    def check(self) -> MACESettings:
        """Refuse settings MACE would fail on later, with one line."""
        require_counts(
            {
                "channels": self.channels,
                "interactions": self.interactions,
                "correlation": self.correlation,
                "epochs": self.epochs,
                "batch size": self.batch_size,
                "patience": self.patience,
            }
        )
        if self.max_l < 0:
            raise ValueError(f"max L must be non-negative, got {self.max_l}")
        if not self.r_max > 0 or not self.lr > 0:
            raise ValueError("r_max and the learning rate must be positive")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid fraction must lie in (0, 1), got {self.valid_fraction}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got '{self.dtype}'")
        return self

    @property
    def hidden_irreps(self) -> str:
        """The hidden irreps MACE builds from channels and max L (``32x0e`` for L = 0)."""
        parity = "eo"
        return "+".join(f"{self.channels}x{ell}{parity[ell % 2]}" for ell in range(self.max_l + 1))


class ActiveSettings(Settings):
    """The loop's budget, batch, committee, exploration and stopping rule."""

    model_config = ConfigDict(frozen=True)

    temperatures: tuple[float, ...] = Field(
        (300.0,), description="Exploration temperatures (K), comma-separated."
    )
    budget: int = Field(500, description="Oracle labels this loop may spend.")
    batch: int = Field(50, description="Frames selected per round.")
    committee: int = Field(4, description="MACE models per committee.")
    target_error: float = Field(
        0.1, description="eV/Å: frames whose calibrated force error exceeds this are worth labels."
    )
    upper_error: float | None = Field(
        None, description="eV/Å: frames beyond this are left out as unphysical (None: keep all)."
    )
    probe: int = Field(
        5,
        description="Random candidates labelled every round to calibrate the committee "
        "(they train it later).",
    )
    stop_fraction: float = Field(
        0.05, description="Stop when fewer than this share of fresh MD frames exceeds the target."
    )
    starts: int = Field(2, description="Starting frames per temperature.")
    md_frames: int = Field(20, description="Candidate frames per MD run.")
    stride: int = Field(10, description="MD steps between candidate frames.")
    equilibration: int = Field(20, description="MD steps before the first kept frame.")
    timestep: float = Field(2.0, description="MD timestep (fs).")
    max_rounds: int = Field(10, description="Upper bound on rounds.")
    system: str | None = Field(None, description="Start MD from frames of this system only.")
    seed: int = Field(0, description="Seed of starts, MD, probes and committees.")
    mace: MACESettings = Field(MACESettings(), description="Settings of every committee member.")

    @model_validator(mode="after")
    def _check(self) -> ActiveSettings:
        require_counts(
            {
                "--budget": self.budget,
                "--batch": self.batch,
                "--starts": self.starts,
                "--md-frames": self.md_frames,
                "--max-rounds": self.max_rounds,
            }
        )
        if self.committee < 2:
            raise ValueError(f"--committee needs at least 2 models, got {self.committee}")
        if self.probe < 1:
            raise ValueError(f"--probe must be at least 1 frame, got {self.probe}")
        if not self.temperatures or min(self.temperatures) <= 0:
            raise ValueError(f"temperatures must be positive, got {self.temperatures}")
        if not self.target_error > 0:
            raise ValueError(f"--target-error must be positive, got {self.target_error}")
        if self.upper_error is not None and self.upper_error <= self.target_error:
            raise ValueError("--upper-error must exceed --target-error")
        return self

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
