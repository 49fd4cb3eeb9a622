"""Model files: weights plus everything needed to rebuild and judge the model (model options,
target and its training-split scaling, the training config and split, metrics), loadable with
``torch.load(weights_only=True)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from curate import __version__
from curate.core.errors import InputError
from curate.core.files import atomic_write
from curate.models.networks import PropertyModel, build_model

FORMAT = "curate-model"
VERSION = 1


def save_checkpoint(path: str | Path, model: PropertyModel, record: dict[str, Any]) -> None:
    """Write ``record`` (with keys ``model``, ``target``, ``training``, ``metrics``) and the
    weights to ``path``; the file appears complete or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "curate": __version__, **record}
    atomic_write(path, lambda tmp: torch.save({**payload, "state_dict": state}, tmp))


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[PropertyModel, dict[str, Any]]:
    """The model (in eval mode, on ``device``) and its record."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no model file at {path}")
    try:
        record = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path} is not a curate model file ({reason[:120]})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InputError(f"{path} is not a curate model file")
    if record.get("version") != VERSION:
        raise InputError(f"{path} has model format version {record.get('version')}, not {VERSION}")
    model = build_model(**record["model"])
    model.load_state_dict(record.pop("state_dict"))
    return model.to(device).eval(), record
