"""Files that appear complete or not at all: written beside their final name, then renamed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block ends
    without an error, removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it over ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)


def write_json(path: str | Path, payload: Any, indent: int | None = 2) -> None:
    """Write ``payload`` as JSON, atomically (values JSON cannot hold are written as text)."""
    text = json.dumps(payload, indent=indent, default=str)
    atomic_write(path, lambda tmp: tmp.write_text(text))
