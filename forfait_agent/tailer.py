"""Following watched folders: growing files, rotation, copy-truncate, settled whole files.

Each sweep is idempotent and cheap when nothing changed (a `stat` per file). Files are opened
only while being read, so the practice software can always rename or delete them (Windows).
"""

from __future__ import annotations

import fnmatch
import lzma
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .adapter import Adapter
from .config import Settings, WatchedFolder
from .fileio import Archive, long_path, open_shared, open_source
from .ingest import FileResult, Ingestor
from .sources import prefix_hash, tail_hash
from .store import FilePosition, QuarantineItem

FULL_CHECK_EVERY = 12  # sweeps between fingerprint checks of files whose size/mtime did not move


@dataclass(frozen=True, slots=True)
class Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time at which this (size, mtime) was first seen


def _stat_key(st: os.stat_result) -> tuple[int, int]:
    return st.st_size, st.st_mtime_ns


def _stat(path: Path) -> os.stat_result:
    return os.stat(long_path(str(path)))


def _holds(path: Path, stored: FilePosition) -> bool:
    """Whether `path` still holds what `stored` describes: same first bytes, at least as long,
    same bytes just before the offset (file identity v2). A compressed file is judged on its
    decompressed content: a rotated journal may have been archived before it was drained."""
    try:
        with open_source(path) as handle:
            if prefix_hash(handle, stored.fp_len) != stored.fp_hash:
                return False
            if isinstance(handle, Archive):
                long_enough = handle.seek(stored.offset) == stored.offset and handle.tell() == stored.offset
            else:
                long_enough = os.fstat(handle.fileno()).st_size >= stored.offset
            if not long_enough:
                return False
            return not stored.tail_len or tail_hash(handle, stored.offset) == (stored.tail_len, stored.tail_hash)
    except (OSError, EOFError, ValueError, lzma.LZMAError):  # a corrupt archive is not that file
        return False


class Tailer:
    """Reads what is new in the watched folders, exactly once, whatever the files went through."""

    def __init__(self, ingestor: Ingestor, settings: Settings, log: Any, exclude: Path | None = None) -> None:
        self.ingestor = ingestor
        self.exclude = exclude.resolve() if exclude else None  # the agent's own data folder
        self.store = ingestor.store
        self.settings = settings
        self.log = log
        self.seen: dict[tuple[str, str], Seen] = {}
        self.done: set[tuple[str, str]] = set()  # whole files read and unchanged since
        self._choice: dict[tuple[str | None, str], Adapter | None] = {}
        self.sweeps = 0
        self.unreadable: set[str] = set()  # folders whose listing failed, reported once
        self._magic: dict[str, Adapter | None] = {}  # adapter chosen by content, per file
        self.unsettled = False  # the last sweep left content to read once files settle

    # -- discovery -----------------------------------------------------------------------------
    def files(self, folder: WatchedFolder) -> list[tuple[str, os.stat_result, Adapter]]:
        """Files of a watched folder (path, stat, owning adapter), sorted. Plain `os.scandir`
        and strings: a sweep of an MSS folder of thousands of messages must cost milliseconds."""
        if not folder.path.is_dir():
            return []
        exclude = str(self.exclude) if self.exclude else None
        stack, found = [str(folder.path.resolve())], []
        while stack:
            directory = stack.pop()
            listed = long_path(directory)  # Windows: a folder deeper than 260 characters is read too
            try:
                entries = list(os.scandir(listed))
            except OSError as exc:
                if directory not in self.unreadable:  # once, not at every sweep
                    self.unreadable.add(directory)
                    self.log.warning("folder_unreadable", folder=directory, error=exc.strerror or str(exc))
                continue
            self.unreadable.discard(directory)
            for entry in entries:
                path = entry.path if listed is directory else os.path.join(directory, entry.name)
                if entry.name.startswith(".") or (exclude and (path + os.sep).startswith(exclude + os.sep)):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if folder.recursive:
                            stack.append(path)
                        continue
                    if not entry.is_file():
                        continue
                    adapter = self.adapter_for(folder, entry.name) or self._by_magic(folder, path)
                    if adapter is not None:
                        found.append((path, entry.stat(), adapter))
                except OSError:
                    continue
        found.sort(key=lambda item: item[0])
        return found

    def adapter_for(self, folder: WatchedFolder, name: str) -> Adapter | None:
        """The adapter of a file name in a folder; memoised, since patterns never change while
        the agent runs and a sweep asks again for every file of the folder."""
        memo_key = (folder.adapter, name)
        if memo_key not in self._choice:
            self._choice[memo_key] = self._choose(folder, name)
        return self._choice[memo_key]

    def _by_magic(self, folder: WatchedFolder, path: str) -> Adapter | None:
        """The adapter a file's first bytes name when its name matches no pattern (an mbox
        without extension). Decided once per file, when it is long enough to tell."""
        if path not in self._magic:
            among = [self.ingestor.adapters[folder.adapter]] if folder.adapter in self.ingestor.adapters else None
            if folder.adapter and among is None:
                return None
            found = self.ingestor.adapters_by_magic(Path(path), among)
            if len(found) > 1:
                self.log.warning("adapter_conflict", folder=str(folder.path), adapters=[a.name for a in found])
            elif not found and not self._long_enough(path, among):
                return None  # maybe not written yet: look again next sweep
            self._magic[path] = found[0] if len(found) == 1 else None
        return self._magic[path]

    def _long_enough(self, path: str, among: list[Adapter] | None) -> bool:
        adapters = among if among is not None else self.ingestor.adapters.values()
        longest = max((len(m) for a in adapters for m in getattr(a, "magic", ())), default=0)
        try:
            return os.stat(path).st_size >= longest
        except OSError:
            return False

    def _choose(self, folder: WatchedFolder, name: str) -> Adapter | None:
        adapters = self.ingestor.adapters
        if folder.adapter:
            adapter = adapters.get(folder.adapter)
            if adapter is None:
                return None
            if not adapter.patterns or any(fnmatch.fnmatch(name.lower(), p.lower()) for p in adapter.patterns):
                return adapter
            return None
        claimed = self.ingestor.adapters_for(Path(name))
        if len(claimed) > 1:
            self.log.warning("adapter_conflict", folder=str(folder.path), adapters=[a.name for a in claimed])
            return None
        return claimed[0] if claimed else None

    # -- one sweep -----------------------------------------------------------------------------
    def sweep(self, only: set[str] | None = None, renamed_in: set[str] | None = None) -> list[FileResult]:
        """Read what is new. `only` limits the sweep to paths named by watchdog events; files
        `renamed_in` were moved into place and need no settle delay."""
        self.sweeps += 1
        self.unsettled = False
        full_check = self.sweeps % FULL_CHECK_EVERY == 0
        results = []
        now = time.monotonic()
        positions = self.store.positions()
        for folder in self.settings.folders:
            context = self.settings.context(folder)
            listing = self.files(folder)
            sizes = {name: st.st_size for name, st, _ in listing}
            # Files we were following that vanished or shrank: the only ones a new name can be.
            moved = [p for p in positions if sizes.get(p.path, -1) < p.offset]
            for name, st, adapter in listing:
                if self.ingestor.should_stop():
                    return results
                if only is not None and name not in only:
                    continue
                key = (name, adapter.name)
                previous = self.seen.get(key)
                unchanged = previous is not None and (previous.size, previous.mtime_ns) == _stat_key(st)
                if not unchanged:
                    self.seen[key] = Seen(st.st_size, st.st_mtime_ns, now)
                if adapter.framing == "file":
                    if unchanged and key in self.done:
                        continue  # read already, untouched since: no database look-up either
                    self.done.discard(key)
                    settled = unchanged and now - self.seen[key].since >= self.settings.settle_seconds
                    if not (settled or (renamed_in and name in renamed_in)):
                        self.unsettled = True
                        continue
                    if previous is not None and unchanged and self._whole_done(Path(name), adapter, st):
                        self.done.add(key)
                        continue
                elif unchanged and not full_check:
                    continue
                try:
                    followed = self.follow(Path(name), adapter, context, moved)
                except OSError as exc:
                    self.seen.pop(key, None)
                    self.log.warning("read_failed", folder=str(folder.path), error=exc.strerror or str(exc))
                    continue
                results.extend(followed)
                if any(r.unread for r in followed):
                    self.seen.pop(key, None)  # not read to its end (adapter paused…): look again next sweep
                elif adapter.framing == "file":
                    self.done.add(key)
                elif adapter.framing == "mbox" and followed and followed[-1].pending_bytes:
                    del self.seen[key]  # its last message waits for the file to settle: look again
                    self.unsettled = True
        return results

    def _whole_done(self, path: Path, adapter: Adapter, st: os.stat_result) -> bool:
        pos = self.store.position(self.ingestor.file_key(path, "file"), adapter.name)
        return pos is not None and pos.size == st.st_size

    # -- rotation-aware reading ----------------------------------------------------------------
    def follow(self, path: Path, adapter: Adapter, context: Any, moved: list[FilePosition]) -> list[FileResult]:
        """Read a file from where it was left, after draining the file it replaced, if any.
        `moved`: positions of files that vanished or shrank, which a new name may continue."""
        if adapter.framing == "file":
            return [self.ingestor.ingest_file(path, adapter, context, final=True)]
        key = self.ingestor.file_key(path)
        stored = self.store.position(key, adapter.name)
        results = []
        if stored is None:
            self._adopt_renamed(path, key, adapter, moved)
        elif not self._same_file(path, stored) or self._rotated_away(path, stored):
            drained = self._drain_predecessor(path, stored, adapter, context)
            if drained is not None:
                results.append(drained)
        # An mbox's last message is complete once the file has settled; a journal's last line
        # only once its newline is written.
        mbox = adapter.framing == "mbox"
        results.append(self.ingestor.ingest_file(path, adapter, context, final=mbox, settle=mbox))
        return results

    def _same_file(self, path: Path, stored: FilePosition) -> bool:
        return _holds(path, stored)

    def _rotated_away(self, path: Path, stored: FilePosition) -> bool:
        """The file we were reading now has another name beside `path` (same device and
        inode): `path` is its successor even if its first bytes match (an empty file's match
        any file, a re-export's match the export it replaces): drain the old one first."""
        if not stored.inode:
            return False
        try:
            st = _stat(path)
        except OSError:
            return False
        if (st.st_dev, st.st_ino) == (stored.dev, stored.inode):
            return False
        return any(
            (other.st_dev, other.st_ino) == (stored.dev, stored.inode)
            for _, other in self._candidates(path.parent, path)
        )

    def _candidates(self, directory: Path, exclude: Path) -> Iterator[tuple[Path, os.stat_result]]:
        """The other files of `directory` and their stat (listed with the long-path prefix on
        Windows, like the sweep)."""
        try:
            with os.scandir(long_path(str(directory))) as listing:
                entries = sorted((entry.name, entry) for entry in listing)
        except OSError:
            return
        for name, entry in entries:
            candidate = directory / name
            try:
                if candidate != exclude and entry.is_file():
                    yield candidate, entry.stat()
            except OSError:
                continue

    def _find(self, directory: Path, exclude: Path, stored: FilePosition) -> Path | None:
        """The file that now holds the content `stored` describes: same inode first, else same
        fingerprint, and at least as long as what was already read of it."""
        by_content = None
        for candidate, st in self._candidates(directory, exclude):
            if not _holds(candidate, stored):
                continue
            if stored.inode and st.st_ino == stored.inode and st.st_dev == stored.dev:
                return candidate
            by_content = by_content or candidate
        return by_content

    def _adopt_renamed(self, path: Path, key: str, adapter: Adapter, moved: list[FilePosition]) -> None:
        """A new path holding a file already followed under another name (renamed, or copied
        before a truncation): move its position, so it is not read twice."""
        st = _stat(path)
        for pos in moved:
            if pos.adapter != adapter.name or pos.path == key or Path(pos.path).parent != Path(key).parent:
                continue
            if st.st_size < pos.offset or not _holds(path, pos):
                continue
            old = Path(pos.path)
            if old.exists() and self._same_file(old, pos):
                continue  # the old path still holds that content: this is a copy, read it
            with self.store.transaction():
                self.store.move_position(pos.path, key, adapter.name)
            moved.remove(pos)
            self.log.info("file_renamed", adapter=adapter.name, folder=str(path.parent))
            return

    def _drain_predecessor(self, path: Path, stored: FilePosition, adapter: Adapter, context: Any) -> FileResult | None:
        """The file at `path` is not the one we were reading (rotation, copy-truncate): finish
        the old one, wherever it went, before reading the new one from its start."""
        previous = self._find(path.parent, path, stored)
        if previous is None:
            self._report_unfound(path, stored, adapter)
            return None
        previous_key = self.ingestor.file_key(previous)
        if self.store.position(previous_key, adapter.name) is None:
            with self.store.transaction():
                self.store.save_position(replace(stored, path=previous_key))
        self.log.info("file_rotated", adapter=adapter.name, folder=str(path.parent))
        return self.ingestor.ingest_file(previous, adapter, context, final=True)

    def _report_unfound(self, path: Path, stored: FilePosition, adapter: Adapter) -> None:
        """The file we were reading is gone (deleted, or archived in a format we cannot read).
        Never claim that nothing was lost: lines written after our last read, and bytes seen but
        not read yet, may have gone with it — unless the new file holds them (a re-export), which
        nothing can tell. `status` shows it. A file rewritten in place (same first bytes) was
        superseded, not lost: it is read again from its start."""
        folder = str(path.parent)
        try:
            with open_shared(path) as handle:
                rewritten = prefix_hash(handle, stored.fp_len) == stored.fp_hash
        except OSError:
            rewritten = False
        if rewritten:
            self.log.info("file_rewritten", adapter=adapter.name, folder=folder)
            return
        unread = stored.size - stored.offset  # seen at our last read but not read yet
        known = f" ; {unread} octets non lus à la dernière lecture" if unread > 0 else ""
        message = (
            "fichier remplacé ; sa version précédente est introuvable (ni renommée ni archivée en .gz, "
            f".bz2 ou .xz) : des lignes écrites après la dernière lecture (octet {stored.offset}) ont pu "
            f"être perdues{known}"
        )
        code = "rotation_unverified"
        item = QuarantineItem(stored.path, stored.offset, stored.line_no, adapter.name, code, message, None)
        with self.store.transaction():
            self.store.quarantine([item])
        self.log.warning(
            "file_replaced", adapter=adapter.name, folder=folder, unread_lost="possible", unread_bytes=max(unread, 0)
        )
