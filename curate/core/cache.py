"""Where curate keeps what it computed once and reuses: $CURATE_CACHE, or ~/.cache/curate."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(kind: str) -> Path:
    """The cache folder for one kind of result (``relaxed``, ``force-constants``)."""
    root = os.environ.get("CURATE_CACHE") or Path.home() / ".cache" / "curate"
    return Path(root) / kind
