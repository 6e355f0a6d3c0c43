"""One agent per data folder: an OS-level lock on `<home>/agent.lock`, which the OS releases if the
agent dies. Apart from the agent so that `status` can probe it without loading the live loop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

LOCK_FILE = "agent.lock"


class AlreadyRunning(Exception):
    """Another agent holds the data folder."""


class DataDirLock:
    """An OS-level exclusive lock on `<home>/agent.lock`, released by the OS if we die."""

    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a+", encoding="utf-8")
        try:
            _lock(handle)
        except OSError:
            try:
                handle.seek(0)
                pid = handle.read().strip() or "?"
            except OSError:  # Windows: the locked byte cannot be read by others
                pid = "?"
            handle.close()
            raise AlreadyRunning(pid) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            _unlock(self._handle)
            self._handle.close()
            self._handle = None

    def holder(self) -> str | None:
        """The pid of a running agent, or None (probes the lock without keeping it)."""
        if not self.path.exists():
            return None
        try:
            self.acquire()
        except AlreadyRunning as running:
            return str(running)
        self.release()
        return None


if os.name == "nt":
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
