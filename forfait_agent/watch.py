"""watchdog wakes the agent early; it is never trusted to report every change.

Windows drops events when its buffer overflows, network shares report nothing, inotify runs out
of watches: the agent's periodic sweep is the truth, and a missed event costs latency, not data.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

# Only changes: the agent's own reads (open, close-no-write) would otherwise wake it once per file.
EVENTS = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]
NETWORK_FS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "fuse.sshfs", "9p", "afpfs", "webdav", "davfs"}


def is_network_path(path: Path) -> bool:
    """UNC paths and mapped network drives on Windows, NFS/SMB mounts on Linux and macOS."""
    text = str(path)
    if os.name == "nt":
        if text.startswith(("\\\\", "//")):
            return True
        import ctypes

        drive = os.path.splitdrive(os.path.abspath(text))[0] + "\\"
        return ctypes.windll.kernel32.GetDriveTypeW(drive) == 4  # DRIVE_REMOTE
    mounts = Path("/proc/mounts")
    if not mounts.exists():
        return False
    resolved = str(path.resolve())
    best, fstype = "", ""
    for line in mounts.read_text(errors="replace").splitlines():
        parts = line.split()
        inside = len(parts) >= 3 and (resolved == parts[1] or resolved.startswith(parts[1].rstrip("/") + "/"))
        if inside and len(parts[1]) > len(best):
            best, fstype = parts[1], parts[2]
    return fstype in NETWORK_FS


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = [event.src_path, getattr(event, "dest_path", "")]
        renamed_to = event.dest_path if event.event_type == "moved" else None
        self.watcher.notify([os.fsdecode(p) for p in paths if p], renamed_to, event.is_directory)


class Watcher:
    """Collects changed paths from watchdog and wakes whoever waits on `wake`."""

    def __init__(
        self, folders: list[tuple[Path, bool]], *, force_polling: bool, poll_interval: float, log: Any
    ) -> None:
        self.folders = folders
        self.force_polling = force_polling
        self.poll_interval = poll_interval
        self.log = log
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._renamed_in: set[str] = set()
        self._everything = False
        self.observers: list[BaseObserver] = []
        self.modes: dict[str, str] = {}

    def notify(self, paths: list[str], renamed_to: str | bytes | None, directory: bool) -> None:
        with self._lock:
            if directory:
                self._everything = True  # a folder appeared or moved: look at everything
            self._dirty.update(paths)
            if renamed_to:
                self._renamed_in.add(os.fsdecode(renamed_to))
        self.wake.set()

    def take(self) -> tuple[set[str] | None, set[str]]:
        """What changed since the last call: (paths, or None for "everything"; renamed-in paths)."""
        with self._lock:
            dirty = None if self._everything else self._dirty
            renamed = self._renamed_in
            self._dirty, self._renamed_in, self._everything = set(), set(), False
            self.wake.clear()
        return dirty, renamed

    def start(self) -> None:
        """One native observer and, if needed, one polling observer for all folders: each
        observer is a couple of threads, and a cabinet PC should not run twenty of them."""
        native: BaseObserver | None = None
        polling: BaseObserver | None = None
        for folder, recursive in self.folders:
            if not folder.is_dir():
                self.log.warning("folder_missing", folder=str(folder))
                self.modes[str(folder)] = "absent"
                continue
            if not (self.force_polling or is_network_path(folder)):
                native = native or self._observer(polling=False)
                if native is not None and self._schedule(native, folder, recursive):
                    self.modes[str(folder)] = f"native ({sys.platform})"
                    continue
            polling = polling or self._observer(polling=True)
            if polling is not None and self._schedule(polling, folder, recursive):
                self.modes[str(folder)] = "polling"

    def _observer(self, *, polling: bool) -> BaseObserver | None:
        try:
            observer = PollingObserver(timeout=self.poll_interval) if polling else Observer()
            observer.daemon = True
            observer.start()
        except Exception as exc:  # noqa: BLE001 - no native backend here: polling will do
            self.log.warning("observer_failed", polling=polling, error=str(exc))
            return None
        self.observers.append(observer)
        return observer

    def _schedule(self, observer: BaseObserver, folder: Path, recursive: bool) -> bool:
        try:
            observer.schedule(_Handler(self), str(folder), recursive=recursive, event_filter=EVENTS)
        except Exception as exc:  # noqa: BLE001 - ENOSPC (inotify watches), permission, unsupported FS…
            self.log.warning("watch_failed", folder=str(folder), error=str(exc))
            return False
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching, in bounded time: watchdog's own stop joins its emitter threads
        without a time limit and can hang; its threads are daemons, so giving up on them after
        `timeout` seconds costs nothing but a log line."""
        observers, self.observers = self.observers, []

        def stop_all() -> None:
            for observer in observers:
                observer.stop()
            for observer in observers:
                observer.join(timeout)

        stopper = threading.Thread(target=stop_all, name="watch-stop", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive():
            self.log.warning("watch_stop_timeout", seconds=timeout)
