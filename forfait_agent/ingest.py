"""Ingestion: records → adapter → events → store, with quarantine and adapter isolation.

The offset after the last consumed line is committed in the same transaction as the events of
those lines, so a crash at any point re-reads exactly the uncommitted lines and nothing else.
"""

from __future__ import annotations

import fnmatch
import gc
import json
import os
import queue
import sqlite3
import struct
import threading
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .adapter import SNIFF_BYTES, Adapter, Record, RecordError, SourceContext
from .adapters.jsonl import JsonlAdapter
from .canonical_rows import CanonicalRows
from .events import EVENT_ADAPTER, Declaration, Event, EventBase, french_message, parse_event
from .fileio import long_path, open_shared, open_source
from .filesystem import path_text, showable
from .french import os_error
from .privacy import Hasher, contains_patient_data, redact
from .reasons import REASONS_FR
from .retention import purged_before
from .scoring import count_key
from .sources import Chunk, Line, Resume, identify, iter_lines, iter_messages, read_whole, resume_point, tail_hash
from .store import (
    DeclarationRow,
    EventRow,
    FilePosition,
    QuarantineItem,
    Store,
    StoreBusy,
    StoreError,
    day_number,
    hash64,
)

BATCH_LINES = 10_000
BATCH_BYTES = 16 << 20  # mbox messages held at most per batch
FAILURE_THRESHOLD = 20  # consecutive unexpected adapter errors before it is paused
MAX_HUNG = 3  # records an adapter may still be stuck on (abandoned threads) before it is paused
PAUSE_FIRST = 30.0  # seconds of the first pause of a failing adapter; doubled at each new pause
PAUSE_MAX = 3600.0
RECORD_TIMEOUT = 10.0  # seconds an adapter may spend on one record
RAW_KEEP = 300
MESSAGE_KEEP = 300
# What bad input makes library code raise (a date out of range, a corrupt or encrypted zip member,
# an unknown compression method, deep nesting, a missing key…): the record is quarantined and the
# adapter is not suspected. Anything else (TypeError, AttributeError…) looks like a bug in the
# adapter and counts towards pausing it.
DATA_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    OverflowError,
    LookupError,
    RuntimeError,  # also RecursionError, NotImplementedError, zipfile's "password required"
    EOFError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
)
# What SQLite refuses in one record's values (text that is not valid Unicode, an integer beyond
# 64 bits, a string too big…): that record alone is quarantined. Other database errors (disk
# full, locked, corrupt) concern every record: nothing is consumed and the caller retries.
BINDING_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    OverflowError,
    TypeError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
)
# Keys of a canonical line that may identify a patient: dropped before a bad line is kept.
PATIENT_KEYS = frozenset(
    {"patient", "recipient", "nom", "prenom", "prénom", "name", "birth", "naissance", "nir", "ins"}
)


def _clean(text: str) -> str:
    """Text that can always be stored and shown: an exception may quote undecodable input, or
    control characters (an escape sequence in a Date header) that `status` would print."""
    return showable(text.encode("utf-8", "replace").decode("utf-8"))


def kept_raw(raw: str | None) -> str | None:
    """What of a quarantined canonical line may be kept to help fix the export: the JSON object
    without any key that could identify a patient, and only if nothing NIR-shaped is left.
    Anything that is not a JSON object is not kept (nothing can tell what it holds)."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            return None
        text = json.dumps({k: v for k, v in data.items() if str(k).lower() not in PATIENT_KEYS}, ensure_ascii=False)
        text.encode("utf-8")  # a lone surrogate (`\ud800` in the JSON) cannot be stored
    except (ValueError, RecursionError):  # not JSON, nested beyond what Python can walk, odd text
        return None
    return None if contains_patient_data(text) else text[:RAW_KEEP]


def _field(loc: tuple[Any, ...]) -> str:
    names = [str(p) for p in loc if isinstance(p, str)]
    # In a discriminated union the first element is the kind's tag, not a field.
    return names[-1] if names else "?"


def explain(exc: Exception) -> tuple[str, str]:
    """A stable reason code and a French message for why a record was rejected."""
    if isinstance(exc, ValidationError):
        err = exc.errors(include_url=False)[0]
        kind, loc = err["type"], err["loc"]
        if kind == "json_invalid":
            return "invalid_json", "JSON invalide"
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return "invalid_json", "la ligne n'est pas un objet JSON"
        if kind == "union_tag_not_found":
            return "missing_kind", "champ « kind » manquant"
        if kind == "union_tag_invalid":
            tag = err.get("ctx", {}).get("tag", "?")
            return "unknown_kind", f"type d'événement inconnu : « {tag} »"
        name = _field(loc)
        if kind == "missing":
            return "missing_field", f"champ obligatoire manquant : « {name} »"
        if kind.startswith(("datetime", "date")) or name == "at":
            detail = f" : {french_message(err)}" if kind == "value_error" else ""
            return "invalid_date", f"date invalide dans « {name} »{detail}"
        return "invalid_field", f"valeur invalide pour « {name} » : {french_message(err)}"
    if isinstance(exc, TimeoutError):
        return "timeout", f"{REASONS_FR['timeout']} ({exc})"
    if isinstance(exc, UnicodeDecodeError):
        return "encoding", REASONS_FR["encoding"]
    if isinstance(exc, RecordError) or type(exc) is ValueError:
        return "invalid_record", f"enregistrement illisible : {exc}"
    if isinstance(exc, DATA_ERRORS):
        return "invalid_record", f"enregistrement illisible ({type(exc).__name__}) : {exc}"
    return "adapter_error", f"erreur de l'adaptateur : {type(exc).__name__}: {exc}"


@dataclass
class FileResult:
    path: Path
    adapter: str
    records: int = 0
    new: int = 0
    known: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    restarted: str | None = None  # "replaced" | "truncated" | "rewritten": read again from 0
    pending_bytes: int = 0  # an unterminated last line left for later: the file may still grow
    ignored: bool = False  # the adapter did not claim the file's content (Adapter.claims)
    unread: str | None = None  # why the file was not read to its end (French); retried later
    unread_records: int | None = None  # how many records that left unread, when counted


@dataclass
class ScanReport:
    files: list[FileResult] = field(default_factory=list)
    unmatched: list[Path] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # name matched, content not claimed
    conflicts: list[tuple[Path, list[str]]] = field(default_factory=list)
    unread_folders: list[tuple[Path, str]] = field(default_factory=list)  # (folder, why): not listed at all
    errors: list[str] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    def reasons(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.reasons)
        return total

    def unread(self) -> list[FileResult]:
        """Files not read to their end: the scan did not do all its work (exit 2)."""
        return [f for f in self.files if f.unread]

    def unread_records(self) -> int:
        return sum(f.unread_records or 0 for f in self.unread())

    def as_json(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "records": self.total("records"),
            "new": self.total("new"),
            "known": self.total("known"),
            "quarantined": self.total("quarantined"),
            "pending_bytes": self.total("pending_bytes"),
            "reasons": dict(self.reasons()),
            "unread": self.unread_records(),
            "unread_files": [
                {"path": path_text(f.path), "records": f.unread_records, "reason": f.unread} for f in self.unread()
            ],
            "unmatched": [path_text(p) for p in self.unmatched],
            "ignored": len(self.ignored),  # a count: names of per-document files may name the patient
            "errors": self.errors,
        }


class AdapterExit(Exception):
    """An adapter raised SystemExit or another BaseException: counted as an adapter failure."""


@dataclass(slots=True)
class _Parsed:
    """The events of one record and where it is: if storing them fails, it is quarantined alone."""

    offset: int
    line_no: int | None
    events: list[Event | EventRow]  # an event, or its row built at once (canonical_rows.py)


@dataclass(frozen=True, slots=True)
class Pause:
    """A failing adapter rests until `until` (monotonic), then gets one more chance."""

    until: float
    seconds: float
    reason: str


class Ingestor:
    """Feeds files through adapters into the store. One instance per writer process.

    Every record takes one guarded path: whatever an adapter or the core raises while handling
    it, that record alone is quarantined with a reason. An adapter that keeps failing is paused
    with a growing back-off and retried, never dropped; what it leaves unread stays unread (the
    committed offset stops before it) until it works again."""

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        hasher: Hasher,
        log: Any,
        *,
        failure_threshold: int = FAILURE_THRESHOLD,
        record_timeout: float = RECORD_TIMEOUT,
        settle_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        pause_first: float = PAUSE_FIRST,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.adapters = dict(adapters)
        self.hasher = hasher
        self._canonical_rows = CanonicalRows(hasher)
        self.log = log
        self.failure_threshold = failure_threshold
        self.record_timeout = record_timeout
        # A file modified less than `settle_seconds` ago (by `clock`, wall time like mtimes)
        # may still be written: a one-shot scan leaves its unterminated last line alone.
        self.settle_seconds = settle_seconds
        self.pause_first = pause_first
        self.timer = timer  # monotonic: when paused adapters get their next chance
        self.clock = clock
        self.failures: Counter[str] = Counter()
        self._workers: dict[str, _Worker] = {}
        self._hung: dict[str, list[threading.Thread]] = {}
        # Set by the live agent: checked between batches so that a long backfill stops promptly.
        self.should_stop: Callable[[], bool] = lambda: False
        # In memory only: a restart (often with a fixed plugin) tries again at once.
        self.pauses: dict[str, Pause] = {}
        self._flagged: set[str] | None = None  # adapters the store shows as paused, cleared on success
        self.purged_before = purged_before(store)  # retention: older events are in the counts only

    def paused(self, name: str) -> Pause | None:
        """The pause an adapter is serving now, if any."""
        pause = self.pauses.get(name)
        return pause if pause is not None and self.timer() < pause.until else None

    def next_resume(self) -> float | None:
        """When (monotonic) the next paused adapter gets its new chance."""
        now = self.timer()
        ends = [p.until for p in self.pauses.values() if p.until > now]
        return min(ends) if ends else None

    def file_key(self, path: Path, framing: str = "line") -> str:
        """How a file is named in the store (exactly as the store holds it: gated). One file per
        document or message (framing "file") is often named after its patient, which no pattern
        can detect: its name is always hashed. A journal keeps its name (the user needs it in
        `status`) unless a NIR or a patient address shows in it; the store's privacy gate masks
        one in its folders. Names that are not valid UTF-8 are stored escaped."""
        resolved = path.resolve()
        name = path_text(resolved.name)
        if framing == "file" or contains_patient_data(name):
            resolved = resolved.with_name(f"h-{self.hasher(name)}")
        return self.store.gate(path_text(resolved))

    # -- adapter choice ------------------------------------------------------------------------
    def adapters_for(self, path: Path) -> list[Adapter]:
        name = path.name.lower()
        return [
            a for a in self.adapters.values() if any(fnmatch.fnmatch(name, pattern.lower()) for pattern in a.patterns)
        ]

    def adapters_by_magic(self, path: Path, among: Iterable[Adapter] | None = None) -> list[Adapter]:
        """Adapters whose `magic` starts the file (for names no pattern matches); [] when the
        file cannot be read or is shorter than every signature."""
        candidates = [a for a in (among if among is not None else self.adapters.values()) if getattr(a, "magic", ())]
        if not candidates:
            return []
        try:
            with open_shared(path) as handle:
                head = handle.read(max(len(m) for a in candidates for m in a.magic))
        except OSError:
            return []
        return [a for a in candidates if any(head.startswith(m) for m in a.magic)]

    def scan(
        self,
        paths: Iterable[Path],
        *,
        adapter: str | None = None,
        context: SourceContext | None = None,
        progress: Callable[[int], None] | None = None,
        exclude: Path | None = None,
    ) -> ScanReport:
        """One-shot ingest of files and folders (recursively), idempotent. A file that could not
        be read to its end is in `report.unread()` with how many records it left and why."""
        report = ScanReport()
        context = context or SourceContext()
        forced = self.adapters[adapter] if adapter else None

        def unreadable(folder: Path, exc: OSError) -> None:
            why = f"dossier illisible : {os_error(exc)}"
            self.log.warning("folder_unreadable", folder=path_text(folder), error=exc.strerror or str(exc))
            report.unread_folders.append((folder, why))
            report.errors.append(f"{path_text(folder)} : {why}")

        for path in iter_files(paths, exclude, on_error=unreadable):
            candidates = [forced] if forced else self.adapters_for(path) or self.adapters_by_magic(path)
            if not candidates:
                report.unmatched.append(path)
                continue
            try:
                if len(candidates) > 1:  # the content may tell which one it is
                    candidates = [a for a in candidates if self.claims(a, path)] or candidates
                if len(candidates) > 1:
                    report.conflicts.append((path, [a.name for a in candidates]))
                    continue
                result = self.ingest_file(path, candidates[0], context, final=True, progress=progress, settle=True)
            except StoreBusy:
                raise  # every other file would wait as long: the command stops and says so
            except Exception as exc:  # the store failed (disk full…), a file vanished: this file is unread
                self.log.exception("file_unread", adapter=candidates[0].name, folder=path_text(path.parent))
                result = FileResult(path, candidates[0].name, unread=_file_error(exc))
            if result.ignored:
                report.ignored.append(result.path)
                continue
            if result.unread:
                result.unread_records = self.count_unread(path, candidates[0])
                report.errors.append(f"{path_text(path)} : {result.unread}")
            report.files.append(result)
        return report

    def claims(self, adapter: Adapter, path: Path) -> bool:
        """`adapter.claims` on the file's first bytes. Only adapters that override it cost a read;
        one whose `claims` raises is given the file (its `parse` then quarantines what is wrong)."""
        claims = getattr(adapter, "claims", None)
        if claims is None or getattr(type(adapter), "claims", None) is Adapter.claims:
            return True
        with open_shared(path) as handle:
            head = handle.read(SNIFF_BYTES)
        try:
            return bool(claims(head))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not hide the file
            self.log.warning("adapter_claims_failed", adapter=adapter.name, error=type(exc).__name__)
            return True

    def count_unread(self, path: Path, adapter: Adapter) -> int | None:
        """Records of a file after its committed position (None when the file cannot be read)."""
        try:
            if adapter.framing == "file":
                return 1
            with open_shared(path) as handle:
                ident = identify(path, handle)
                start = resume_point(handle, ident, self.store.position(self.file_key(path), adapter.name))
                frames: Iterator[Line | Chunk] = (
                    iter_messages(handle, start.offset, start.line_no, final=True)
                    if adapter.framing == "mbox"
                    else iter_lines(
                        handle, start.offset, start.line_no, adapter.encoding, final=True, skipping=start.mid_line
                    )
                )
                return sum(1 for _ in frames)
        except Exception:  # noqa: BLE001 - only a count for the message
            return None

    # -- one file ------------------------------------------------------------------------------
    def ingest_file(
        self,
        path: Path,
        adapter: Adapter,
        context: SourceContext,
        *,
        final: bool,
        progress: Callable[[int], None] | None = None,
        settle: bool = False,
    ) -> FileResult:
        """Read what is new in `path`. `final`: the file is finished, its unterminated last line
        is a record too — unless `settle` and the file changed within `settle_seconds`. Never
        raises for what the file holds or for a failing adapter (`result.unread` says why it
        stopped early); a database error (locked beyond the wait, disk full) propagates, with
        nothing consumed."""
        result = FileResult(path, adapter.name)
        if pause := self.paused(adapter.name):
            result.unread = _paused_message(adapter.name, pause)
            return result
        try:
            if not self.claims(adapter, path):
                result.ignored = True
                self.log.info("file_ignored", adapter=adapter.name, folder=path_text(path.parent))
                return result
            with _fewer_gc_passes():
                if adapter.framing == "file":
                    self._ingest_whole(path, adapter, context, result)
                else:
                    self._ingest_lines(path, adapter, context, result, final, progress, settle)
        except Exception as exc:  # isolation: this file waits, the others go on
            if isinstance(exc, StoreError) or (isinstance(exc, sqlite3.Error) and not isinstance(exc, BINDING_ERRORS)):
                raise  # the store itself failed (locked beyond the wait, disk full): nothing was consumed
            self.log.warning(
                "file_unread", adapter=adapter.name, folder=path_text(path.parent), error=type(exc).__name__
            )
            result.unread = _file_error(exc)
            return result
        if result.unread is None and (pause := self.paused(adapter.name)):
            result.unread = _paused_message(adapter.name, pause)
        self.log.info(
            "file_ingested",
            adapter=adapter.name,
            folder=path_text(path.parent),
            records=result.records,
            new=result.new,
            known=result.known,
            quarantined=result.quarantined,
        )
        return result

    def _ingest_lines(
        self,
        path: Path,
        adapter: Adapter,
        context: SourceContext,
        result: FileResult,
        final: bool,
        progress: Callable[[int], None] | None,
        settle: bool = False,
    ) -> None:
        key = self.file_key(path)
        with open_source(path) as handle:  # a rotated journal may have been compressed
            ident = identify(path, handle)
            if settle and final:
                final = self.clock() - ident.mtime >= self.settle_seconds
            stored = self.store.position(key, adapter.name)
            start = resume_point(handle, ident, stored)
            if start.why in ("replaced", "truncated", "rewritten"):
                result.restarted = start.why
            batch: list[Line | Chunk] = []
            last_end = start.offset
            held = 0  # bytes of the messages in `batch` (mbox): memory stays bounded
            frames: Iterator[Line | Chunk]
            if adapter.framing == "mbox":
                frames = iter_messages(handle, start.offset, start.line_no, final=final)
            else:
                frames = iter_lines(
                    handle, start.offset, start.line_no, adapter.encoding, final=final, skipping=start.mid_line
                )
            for item in frames:
                batch.append(item)
                if isinstance(item, Chunk):
                    held += len(item.data)
                if len(batch) >= BATCH_LINES or held >= BATCH_BYTES:
                    held = 0
                    self._commit_lines(path, key, adapter, context, ident, batch, result, handle, start)
                    if progress:
                        progress(batch[-1].end - last_end)
                    last = batch[-1]
                    last_end, start = last.end, Resume(last.end, last.line_no, last.open, "resume")
                    batch = []
                    if self.paused(adapter.name) or self.should_stop():
                        return
            if batch or start.why != "resume":
                self._commit_lines(path, key, adapter, context, ident, batch, result, handle, start)
                if progress and batch:
                    progress(batch[-1].end - last_end)
                last_end = batch[-1].end if batch else start.offset
            if not final and not (batch and batch[-1].open):
                result.pending_bytes = max(0, ident.size - last_end)

    def _commit_lines(
        self,
        path: Path,
        key: str,
        adapter: Adapter,
        context: SourceContext,
        ident: Any,
        batch: list[Line] | list[Chunk] | list[Line | Chunk],
        result: FileResult,
        handle: Any,
        start: Resume,
    ) -> None:
        parsed: list[_Parsed] = []
        bad: list[QuarantineItem] = []
        todo = self._canonical_fast_path(batch, parsed) if isinstance(adapter, JsonlAdapter) else batch
        records = [line.record(path, context) for line in todo if line.error is None]
        outcomes: list[list[Event | EventRow] | Exception] = []
        done = first = 0  # records classified; index in `records` of outcomes[0]
        for line in todo:
            if line.error is not None:
                code = line.error
                bad.append(QuarantineItem(key, line.offset, line.line_no, adapter.name, code, REASONS_FR[code], None))
                continue
            if done - first >= len(outcomes):  # first record, or the one after a record the adapter hung on
                first, outcomes = done, self._guarded(adapter, records[done:])
            record = records[done]
            self._classify(adapter, key, record, record.text, outcomes[done - first], parsed, bad)
            done += 1
            if self.pauses and self.paused(adapter.name):
                # The rest stays unread until the adapter works again (and is stored then).
                del batch[next(i for i, b in enumerate(batch) if b is line) + 1 :]
                parsed[:] = [p for p in parsed if p.offset <= line.offset]
                break
        end = batch[-1].end if batch else start.offset
        last_line = batch[-1].line_no if batch else start.line_no
        mid_line = batch[-1].open if batch else start.mid_line
        tail_len, tail = tail_hash(handle, end)
        position = FilePosition(
            0,
            key,
            adapter.name,
            ident.dev,
            ident.inode,
            ident.fp_len,
            ident.fp_hash,
            end,
            last_line,
            ident.size,
            tail_len,
            tail,
            mid_line,
        )
        self._write(adapter.name, key, parsed, bad, result, position)
        result.records += len(batch)

    def _canonical_fast_path(self, batch: list[Line | Chunk], parsed: list[_Parsed]) -> list[Line | Chunk]:
        """The built-in canonical adapter's common case, without a Record, a worker thread or an
        outcome per line: a plain line becomes its store row at once (canonical_rows.py), any
        other valid line an event straight from pydantic-core. Whatever else (an invalid line,
        one that needs the default practitioner, a framing error) is returned, in order, for the
        general path — so quarantine reasons and messages are exactly those of
        `JsonlAdapter.parse`. The batch itself is untouched: it still decides the committed position."""
        rest: list[Line | Chunk] = []
        validate = EVENT_ADAPTER.validate_json
        plain_row = self._canonical_rows.row
        for line in batch:
            text = line.text if isinstance(line, Line) else None
            if text is None or line.error is not None:
                rest.append(line)
                continue
            row = plain_row(text)
            if row is not None:
                parsed.append(_Parsed(line.offset, line.line_no, [row]))
                continue
            try:
                event = validate(text)
            except Exception:  # noqa: BLE001 - the general path explains it (or the line is blank)
                rest.append(line)
                continue
            parsed.append(_Parsed(line.offset, line.line_no, [event]))
        name = JsonlAdapter.name
        if len(rest) < len(batch) and (self.failures[name] or name in self.pauses or self._is_flagged(name)):
            self._adapter_ok(name)
        return rest

    def _ingest_whole(self, path: Path, adapter: Adapter, context: SourceContext, result: FileResult) -> None:
        key = self.file_key(path, "file")
        data, ident = read_whole(path)
        stored = self.store.position(key, adapter.name)
        if stored and stored.fp_hash == ident.fp_hash and stored.fp_len == ident.fp_len:
            return  # this exact content was already ingested
        position = FilePosition(
            0, key, adapter.name, ident.dev, ident.inode, ident.fp_len, ident.fp_hash, ident.size, 0, ident.size
        )
        parsed: list[_Parsed] = []
        bad: list[QuarantineItem] = []
        if data is None:
            bad.append(
                QuarantineItem(
                    key,
                    0,
                    None,
                    adapter.name,
                    "file_too_large",
                    f"{REASONS_FR['file_too_large']} ({ident.size} octets)",
                    None,
                )
            )
        else:
            record = Record(path=path, offset=0, data=data, context=context)
            (outcome,) = self._guarded(adapter, [record])
            self._classify(adapter, key, record, None, outcome, parsed, bad)
            if self.paused(adapter.name):
                return  # this file is read again when the adapter gets its next chance
        result.records += 1
        self._write(adapter.name, key, parsed, bad, result, position)

    def _call(self, adapter: Adapter, record: Record) -> list[Event | EventRow] | Exception:
        """An adapter's events for one record: a plain mapping becomes its store row at once
        (canonical_rows.py), any other is validated by the event models."""
        row_of = self._canonical_rows.row_of
        try:
            found: list[Event | EventRow] = []
            for e in adapter.parse(record):
                if isinstance(e, EventBase):
                    found.append(e)
                else:
                    data = dict(e)
                    found.append(row_of(data) or parse_event(data))
            return found
        except Exception as exc:  # noqa: BLE001 - isolation: any adapter error is contained
            return _detached(exc)
        except BaseException as exc:  # noqa: BLE001 - sys.exit() in a plugin would end its worker thread silently
            return AdapterExit(f"l'adaptateur a voulu arrêter le programme ({type(exc).__name__})")

    def _guarded(self, adapter: Adapter, records: list[Record]) -> list[list[Event | EventRow] | Exception]:
        """Parse records on the adapter's worker thread, so that an adapter stuck on one record
        (an endless loop, a blocking call) costs `record_timeout` seconds and that record, never
        the agent. Returns one outcome per record; a hung record gets a TimeoutError and ends
        the list (the worker is abandoned: its thread is a daemon)."""
        outcomes: list[list[Event | EventRow] | Exception] = []
        if not records:
            return outcomes
        done = threading.Event()

        def job() -> None:
            try:
                for record in records:
                    outcomes.append(self._call(adapter, record))
            finally:
                done.set()

        worker = self._workers.get(adapter.name)
        if worker is None:
            worker = self._workers[adapter.name] = _Worker(f"adapter-{adapter.name}")
        worker.jobs.put(job)
        count, since = 0, time.monotonic()
        while not done.wait(min(0.25, self.record_timeout)):
            if len(outcomes) != count:
                count, since = len(outcomes), time.monotonic()
            elif time.monotonic() - since >= self.record_timeout:
                del self._workers[adapter.name]
                self._hung.setdefault(adapter.name, []).append(worker.thread)
                finished = outcomes[:count]  # the abandoned thread may still append: copy
                self.log.error("adapter_hung", adapter=adapter.name, seconds=self.record_timeout)
                return [*finished, TimeoutError(f"aucune réponse en {self.record_timeout:g} s")]
        return outcomes

    def _classify(
        self,
        adapter: Adapter,
        key: str,
        record: Record,
        raw: str | None,
        outcome: list[Event | EventRow] | Exception,
        parsed: list[_Parsed],
        bad: list[QuarantineItem],
    ) -> None:
        if not isinstance(outcome, Exception):
            if self.failures[adapter.name] or adapter.name in self.pauses or self._is_flagged(adapter.name):
                self._adapter_ok(adapter.name)
            parsed.append(_Parsed(record.offset, record.line_no, outcome))
            return
        item = self._quarantine_item(adapter.name, key, record.offset, record.line_no, outcome, raw)
        bad.append(item)
        if item.reason in ("adapter_error", "timeout"):
            self._adapter_failed(adapter.name, item.message)
        else:  # bad input is not the adapter's fault
            self.failures[adapter.name] = 0

    def _quarantine_item(
        self,
        adapter: str,
        key: str,
        offset: int,
        line_no: int | None,
        exc: Exception,
        raw: str | None = None,
        *,
        internal: bool = False,
    ) -> QuarantineItem:
        """A quarantine row for a record, built whatever the exception holds. `internal`: the
        core, not the adapter, failed on it."""
        code, message = "internal_error", f"{REASONS_FR['internal_error']} ({type(exc).__name__})"
        if not internal:
            try:
                code, message = explain(exc)
                # An adapter may quote the offending value: it could be a NIR.
                message = redact(_clean(message[: MESSAGE_KEEP * 4]))[:MESSAGE_KEEP]
            except Exception:  # noqa: BLE001 - explaining must not be what fails
                code, message = "adapter_error", f"{REASONS_FR['adapter_error']} ({type(exc).__name__})"
        keep = kept_raw(raw) if adapter == "jsonl" else None
        return QuarantineItem(key, offset, line_no, adapter, code, message, keep)

    def _is_flagged(self, name: str) -> bool:
        if self._flagged is None:
            self._flagged = {a for a, _, _, paused_at in self.store.adapter_statuses() if paused_at}
        return name in self._flagged

    def _adapter_ok(self, name: str) -> None:
        """An adapter that had failed handles a record again: forget its failures and pause."""
        self.failures[name] = 0
        if self.pauses.pop(name, None) is not None or self._is_flagged(name):
            with self.store.transaction():
                self.store.clear_adapter_pause(name)
            assert self._flagged is not None
            self._flagged.discard(name)
            self.log.info("adapter_resumed", adapter=name)

    def _adapter_failed(self, name: str, message: str) -> None:
        self.failures[name] += 1
        hung = [t for t in self._hung.get(name, []) if t.is_alive()]
        self._hung[name] = hung
        pause = self.failures[name] >= self.failure_threshold or len(hung) >= MAX_HUNG
        with self.store.transaction():
            self.store.record_adapter_failure(name, message, pause)
        if not pause or self.paused(name):
            return
        previous = self.pauses.get(name)
        seconds = min(previous.seconds * 2, PAUSE_MAX) if previous else self.pause_first
        self.pauses[name] = Pause(self.timer() + seconds, seconds, message)
        if self._flagged is not None:
            self._flagged.add(name)
        self.log.error("adapter_paused", adapter=name, failures=self.failures[name], hung=len(hung), seconds=seconds)

    def _write(
        self,
        adapter: str,
        key: str,
        parsed: list[_Parsed],
        bad: list[QuarantineItem],
        result: FileResult,
        position: FilePosition,
    ) -> None:
        """Store a batch and its file position in one transaction. If SQLite refuses a value of
        one record, the batch is stored again record by record and that record is quarantined."""
        try:
            new, stored, failed = self._store(adapter, key, parsed, bad, position, careful=False)
        except BINDING_ERRORS:
            new, stored, failed = self._store(adapter, key, parsed, bad, position, careful=True)
        result.new += new
        result.known += stored - new
        result.quarantined += len(bad) + len(failed)
        result.reasons.update(q.reason for q in (*bad, *failed))

    def _store(
        self,
        adapter: str,
        key: str,
        parsed: list[_Parsed],
        bad: list[QuarantineItem],
        position: FilePosition,
        *,
        careful: bool,
    ) -> tuple[int, int, list[QuarantineItem]]:
        failed: list[QuarantineItem] = []
        new = stored = 0
        with self.store.transaction():
            file_id = self.store.save_position(position)
            rows: list[EventRow] = []
            declarations: list[DeclarationRow] = []
            for item in parsed:
                try:
                    item_rows, item_declarations = self._rows(item.events, file_id)
                    if careful:
                        with self.store.savepoint():
                            new += self.store.insert_events(item_rows)
                            new += self.store.insert_declarations(item_declarations)
                except Exception as exc:  # the core failed on this record: quarantine it alone
                    if careful and isinstance(exc, sqlite3.Error) and not isinstance(exc, BINDING_ERRORS):
                        raise  # disk full, I/O error…: not this record's doing
                    failed.append(self._quarantine_item(adapter, key, item.offset, item.line_no, exc, internal=True))
                    continue
                stored += len(item.events)  # an event of a purged year counts as known
                rows.extend(item_rows)
                declarations.extend(item_declarations)
            if not careful:
                new = self.store.insert_events(rows) + self.store.insert_declarations(declarations)
            self.store.quarantine([*bad, *failed])
            self.store.set_meta("last_ingest", datetime.now(UTC).isoformat(timespec="seconds"))
        return new, stored, failed

    def _rows(self, events: list[Event | EventRow], file_id: int) -> tuple[list[EventRow], list[DeclarationRow]]:
        rows: list[EventRow] = []
        declarations: list[DeclarationRow] = []
        purged = self.purged_before
        purged_day = None if purged is None else day_number(purged)
        for event in events:
            if isinstance(event, tuple):  # a row built already (canonical_rows.py)
                if purged_day is None or event[3] >= purged_day:
                    rows.append((*event[:8], file_id))
            elif isinstance(event, Declaration):
                declarations.append(self.declaration_row(event))
            elif purged is None or event.at.date() >= purged:
                rows.append(self.event_row(event, file_id))
            # else: its year was purged down to counts, which already hold it
        return rows, declarations

    # -- event → row (the patient is hashed here; the store's gate masks a NIR anywhere else) --
    def event_row(self, event: Event, file_id: int | None) -> EventRow:
        kind, detail, flag = count_key(event)
        return (
            kind,
            event.id,
            event.practitioner,
            day_number(event.at.date()),  # Europe/Paris day
            hash64(self.hasher(event.patient)) if event.patient else None,
            detail,
            flag,
            None,
            file_id,
        )

    def declaration_row(self, event: Declaration) -> DeclarationRow:
        return (
            event.id,
            event.practitioner,
            event.year,
            event.indicator,
            float(event.value),
            event.at.astimezone(UTC).isoformat(),
        )


class _Worker:
    """One long-lived daemon thread per adapter (starting a thread per small file costs more
    than reading it)."""

    def __init__(self, name: str) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            self.jobs.get()()


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Batches hold tens of thousands of short-lived, acyclic objects (lines, events, rows): with
    the default threshold the cyclic GC rescans them hundreds of times, halving throughput.
    Reference counting frees them anyway; the GC still runs, just less often."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 100_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _detached(exc: Exception) -> Exception:
    """`exc` without its tracebacks (its causes' too): their frames hold the record being parsed
    (a 60 MB e-mail) and what the adapter built from it, until the cyclic GC — which big batches
    make rare — frees them. Only the exception's type and message are used."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    return exc


def _file_error(exc: Exception) -> str:
    """Why a file could not be read (French, for `scan` and `status`)."""
    if isinstance(exc, OSError):
        return f"lecture impossible : {os_error(exc)}"
    if isinstance(exc, sqlite3.Error):
        return f"base de données indisponible : {exc}"
    return f"erreur inattendue ({type(exc).__name__}) : {_clean(str(exc))[:MESSAGE_KEEP]}"


def _paused_message(adapter: str, pause: Pause) -> str:
    return (
        f"adaptateur « {adapter} » en pause après des erreurs répétées, nouvel essai dans {pause.seconds:g} s"
        f" (dernière erreur : {pause.reason})"
    )


def iter_files(
    paths: Iterable[Path], exclude: Path | None = None, on_error: Callable[[Path, OSError], None] | None = None
) -> Iterator[Path]:
    """Files named, and files under folders named (sorted; hidden ones and the agent's own
    data folder skipped). Folders are listed with the long-path prefix on Windows, so a tree
    deeper than 260 characters is read too; a folder that still cannot be listed goes to
    `on_error`, never skipped without a word."""
    skip = exclude.resolve() if exclude else None
    for path in paths:
        if not os.path.isdir(long_path(str(path))):
            yield path
            continue
        found: list[Path] = []
        stack = [path]
        while stack:
            folder = stack.pop()
            if skip and folder.resolve().is_relative_to(skip):
                continue
            try:
                with os.scandir(long_path(str(folder))) as listing:
                    entries = list(listing)
            except OSError as exc:
                if on_error:
                    on_error(folder, exc)
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    is_dir, is_file = entry.is_dir(follow_symlinks=False), entry.is_file()
                except OSError:  # a link to itself (ELOOP), a file gone meanwhile: nothing to read
                    continue
                if is_dir:
                    stack.append(folder / entry.name)
                elif is_file:
                    found.append(folder / entry.name)
        yield from sorted(found)
