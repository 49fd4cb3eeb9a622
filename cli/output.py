"""Printing for the CLI: one JSON document on stdout with --json, rich tables otherwise,
and logs on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

stderr = Console(stderr=True, highlight=False)


def emit(payload: dict[str, Any], as_json: bool, render: Callable[[Console], None]) -> None:
    """Write ``payload`` as JSON, or let ``render`` draw it for a person."""
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        render(Console(highlight=False))


def log(message: str) -> None:
    """A progress or warning line on stderr."""
    stderr.print(message)


def key_values(items: list[str]) -> dict[str, Any]:
    """``["k=v", ...]`` → ``{k: v}`` with each value read as YAML (``3`` → 3, ``[1, 2]`` → a
    list, ``a`` → ``"a"``)."""
    import yaml

    from curate.core.errors import InputError

    found: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param needs KEY=VALUE, got '{item}'")
        try:
            found[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise InputError(f"--param {key.strip()}: cannot read the value '{value}'") from None
    return found
