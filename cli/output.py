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
