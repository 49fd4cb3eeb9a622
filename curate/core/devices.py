"""Which torch device a model runs on: ``auto`` is CUDA where torch sees a GPU, else the CPU."""

from __future__ import annotations

import re

from curate.core.errors import InputError

DEVICES = "auto, cpu, cuda or cuda:N"


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; refuses CUDA where there is none
    and names it can not be."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", device):
        raise InputError(f"unknown device '{device}' ({DEVICES})")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device} asked for, but torch sees no CUDA device")
    return device
