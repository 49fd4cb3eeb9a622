"""The single-writer lock of a store: an advisory ``flock`` on a file inside it.

The kernel drops the lock when the holder dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from curate.core.errors import StoreLockedError

LOCK_NAME = "writer.lock"


class WriterLock:
    """Exclusive writer lock on ``store_path/writer.lock``; raises StoreLockedError if held."""

    def __init__(self, store_path: Path):
        self.path = Path(store_path) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreLockedError(
                f"{self.path.parent} is open for writing by {holder}; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
