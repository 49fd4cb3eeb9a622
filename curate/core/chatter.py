"""Library chatter (load banners, device notes) kept off the user's console: what a library
prints while curate builds it goes to the ``curate.libraries`` logger at debug level, which the
CLI shows with ``--verbose``."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

logger = logging.getLogger("curate.libraries")


@contextlib.contextmanager
def muted(source: str) -> Iterator[None]:
    """Inside the block, Python-level writes to stdout and stderr are collected and logged at
    debug level, one record per line, prefixed with ``source``."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            if line.strip():
                logger.debug("%s: %s", source, line.rstrip())
