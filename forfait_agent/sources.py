"""Reading files as records: line framing with byte offsets, whole-file framing, fingerprints.

A path is not an identity: a file is recognised by a hash of its first bytes (compared on the
shorter prefix while it is small) and a hash of the bytes just before the committed offset, so a
truncated, replaced or rewritten file is read again from its start and a file that only grew
resumes at the offset after its last complete line.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .adapter import Adapter, Record, SourceContext
from .fileio import Archive, open_shared
from .store import FilePosition

FINGERPRINT_BYTES = 1024
TAIL_BYTES = 256  # bytes before the committed offset that must still be there to resume
CHUNK = 1 << 20
NEWLINE_SNIFF = 64 << 10  # how much of a file's beginning decides its line terminator
MAX_LINE_BYTES = 1 << 20  # a longer line is quarantined and skipped
MAX_FILE_BYTES = 64 << 20  # whole-file records larger than this are quarantined
MAX_RECORD_BYTES = 4 << 20  # a message of a multi-record file is cut after this (headers come first)

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(slots=True)  # not frozen: built once per line, and frozen construction costs 4×
class Line:
    """One framed line: `text` is None when `error` says why it could not be decoded."""

    offset: int
    end: int  # offset just after the line's terminator
    line_no: int
    text: str | None
    error: str | None = None  # "encoding" | "line_too_long"
    raw: bytes = b""
    open: bool = False  # an over-long line whose newline has not been seen yet

    def record(self, path: Path, context: SourceContext) -> Record:
        return Record(path=path, offset=self.offset, line_no=self.line_no, text=self.text, context=context)


@dataclass(frozen=True, slots=True)
class Identity:
    dev: int | None
    inode: int | None
    size: int
    fp_len: int
    fp_hash: str
    mtime: float = 0.0


def identify(path: Path, handle: BinaryIO) -> Identity:
    st = os.fstat(handle.fileno())
    handle.seek(0)
    head = handle.read(FINGERPRINT_BYTES)
    return Identity(
        dev=st.st_dev or None,
        inode=st.st_ino or None,
        size=handle.size() if isinstance(handle, Archive) else st.st_size,
        fp_len=len(head),
        fp_hash=hashlib.sha256(head).hexdigest(),
        mtime=st.st_mtime,
    )


def prefix_hash(handle: BinaryIO, length: int) -> str:
    handle.seek(0)
    return hashlib.sha256(handle.read(length)).hexdigest()


def tail_hash(handle: BinaryIO, offset: int) -> tuple[int, str]:
    """(length, hash) of the bytes just before `offset`; the handle's position is kept, so it
    can be called between the reads of `iter_lines`."""
    length = min(TAIL_BYTES, offset)
    if length == 0:
        return 0, ""
    here = handle.tell()
    handle.seek(offset - length)
    data = handle.read(length)
    handle.seek(here)
    return length, hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Resume:
    offset: int
    line_no: int
    mid_line: bool
    why: str  # "new" | "resume" | "replaced" | "truncated" | "rewritten"


def resume_point(handle: BinaryIO, ident: Identity, stored: FilePosition | None) -> Resume:
    """Where to start reading. Restart when the file is not the one whose position was stored:
    another file id (a re-export saved by rename), other first bytes, shorter than the offset,
    or other bytes just before the offset (an export rewritten in place, even with the same
    beginning). Dedupe by (kind, id) makes reading again safe."""
    if stored is None:
        return Resume(0, 0, False, "new")
    if stored.inode and ident.inode and (ident.dev, ident.inode) != (stored.dev, stored.inode):
        return Resume(0, 0, False, "replaced")  # a re-export saved under the same name: a new file
    if ident.size < stored.fp_len or prefix_hash(handle, stored.fp_len) != stored.fp_hash:
        return Resume(0, 0, False, "replaced")
    if ident.size < stored.offset:
        return Resume(0, 0, False, "truncated")
    if stored.tail_len and tail_hash(handle, stored.offset) != (stored.tail_len, stored.tail_hash):
        return Resume(0, 0, False, "rewritten")
    return Resume(stored.offset, stored.line_no, stored.mid_line, "resume")


def _codec(encoding: str) -> codecs.CodecInfo:
    return codecs.lookup(encoding)


def newline_for(encoding: str, head: bytes) -> tuple[bytes, str]:
    """The newline byte sequence and the exact codec to decode lines with, from the file's first
    `NEWLINE_SNIFF` bytes.

    UTF-16 without an explicit byte order takes it from the BOM (little-endian by default). A
    UTF-16 BOM wins over the adapter's declared encoding: a UTF-8 journal re-saved by Windows
    PowerShell 5 (`Out-File`, `>`) is UTF-16 with a BOM, and no UTF-8 or ANSI text starts with
    those bytes. A file whose beginning holds carriage returns and no line feed ends its lines
    with CR alone (classic Mac OS, some old exports): read whole, its lines would be one
    unreadable record.
    """
    name = _codec(encoding).name
    if name == "utf-16" or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        name = "utf-16-be" if head.startswith(codecs.BOM_UTF16_BE) else "utf-16-le"
    lf, cr = "\n".encode(name), "\r".encode(name)
    return (cr if cr in head and lf not in head else lf), name


def _complete_lines(buf: bytes, nl: bytes, unit: int) -> tuple[list[bytes], int]:
    """Split off the complete lines of `buf` (without terminators) and how many bytes they use."""
    if unit == 1:
        parts = buf.split(nl)
        parts.pop()  # the unterminated remainder (possibly empty)
        return parts, sum(len(p) for p in parts) + len(parts)
    lines, consumed, search = [], 0, 0
    while (idx := buf.find(nl, search)) != -1:
        if (idx - consumed) % unit:  # a match straddling two code units
            search = idx + 1
            continue
        lines.append(buf[consumed:idx])
        consumed = search = idx + unit
    return lines, consumed


def iter_lines(
    handle: BinaryIO,
    start: int,
    line_no: int,
    encoding: str,
    *,
    final: bool,
    max_line: int | None = None,
    skipping: bool = False,
) -> Iterator[Line]:
    """Complete lines from `start`. The last unterminated line is yielded only when `final`
    (a finished export); a live tail waits for its newline. A line longer than `max_line` is
    yielded once as an error, as soon as it is known to be too long (its end flagged `open`
    while its newline is still to come); the rest of it, up to its newline, is discarded —
    `skipping` says that `start` is inside such a line."""
    max_line = max_line or MAX_LINE_BYTES
    handle.seek(0)
    nl, codec = newline_for(encoding, handle.read(NEWLINE_SNIFF))
    unit = len(nl)
    decoder = _Decoder(codec)
    handle.seek(start)
    pos = start  # file offset of buf[0]
    buf = b""
    while True:
        chunk = handle.read(CHUNK)
        eof = not chunk
        buf += chunk
        lines, consumed = _complete_lines(buf, nl, unit)
        for raw in lines:
            end = pos + len(raw) + unit
            if skipping:
                skipping = False
            elif len(raw) > max_line:
                line_no += 1
                yield Line(pos, end, line_no, None, "line_too_long")
            else:
                line_no += 1
                yield decoder.line(raw, pos, end, line_no)
            pos = end
        buf = buf[consumed:]
        if len(buf) > max_line:
            if not skipping:
                line_no += 1
                yield Line(pos, pos + len(buf), line_no, None, "line_too_long", open=True)
                skipping = True
            cut = len(buf) - len(buf) % unit
            pos += cut
            buf = buf[cut:]
        if eof:
            if buf and final and not skipping and not (pos == 0 and buf in _BOMS):
                line_no += 1
                yield decoder.line(buf, pos, pos + len(buf), line_no)
            return


class _Decoder:
    """Per-file decoding constants, computed once rather than per line."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.unit = 2 if codec.startswith("utf-16") else 1
        self.cr = "\r".encode(codec)

    def line(self, raw: bytes, offset: int, end: int, line_no: int) -> Line:
        if offset == 0:
            for bom in _BOMS:
                if raw.startswith(bom):
                    raw = raw[len(bom) :]
                    break
        if raw.endswith(self.cr) and (len(raw) - len(self.cr)) % self.unit == 0:
            raw = raw[: -len(self.cr)]
        try:
            return Line(offset, end, line_no, raw.decode(self.codec))
        except UnicodeDecodeError:
            return Line(offset, end, line_no, None, "encoding", raw[:200])


@dataclass(slots=True)
class Chunk:
    """One record of a multi-record file (an mbox message): `data` without its separator line,
    cut after `MAX_RECORD_BYTES` (then `truncated`); `error` when it cannot be a record."""

    offset: int  # where its separator line starts
    end: int  # where the next record starts (or the end of the file)
    line_no: int  # 1-based rank of the message in the file
    data: bytes
    truncated: bool = False
    error: str | None = None  # "not_mbox": bytes before the first separator
    open: bool = False  # never inside a record: messages are cut only at separators

    def record(self, path: Path, context: SourceContext) -> Record:
        return Record(
            path=path,
            offset=self.offset,
            line_no=self.line_no,
            data=self.data,
            truncated=self.truncated,
            context=context,
        )


def _is_separator(buf: bytes, idx: int, before: int) -> bool:
    """`From ` at `idx` starts a line: at the start of the file or right after a newline
    (`before` is the byte preceding `buf`, -1 at the start of the file)."""
    previous = buf[idx - 1] if idx else before
    return previous in (-1, 0x0A)


def iter_messages(handle: BinaryIO, start: int, number: int, *, final: bool, cap: int | None = None) -> Iterator[Chunk]:
    """The messages of an mbox from `start` (the start of a message), in constant memory
    whatever the file or message size: a message is known to be complete when the next
    `From ` line starts; the last one only when `final` (the file has settled). Each message
    keeps at most `cap` bytes (headers come first: they are what the events need). Bytes
    before the first `From ` line are one `not_mbox` error chunk unless they are blank."""
    cap = cap or MAX_RECORD_BYTES
    before = -1  # the byte just before buf (-1 at the start of the file)
    if start:
        handle.seek(start - 1)
        before = handle.read(1)[0]
    handle.seek(start)
    pos, buf = start, b""  # file offset of buf[0]
    current: int | None = None  # offset of the message being collected (None: before the first)
    kept: list[bytes] = []
    size = 0  # bytes of the current message so far, kept or not
    junk = False  # non-blank bytes before the first separator
    while True:
        chunk = handle.read(CHUNK)
        eof = not chunk
        buf += chunk
        consumed, search = 0, 0
        while (idx := buf.find(b"From ", search)) != -1:
            search = idx + 1
            if not _is_separator(buf, idx, before):
                continue
            if current is None:
                junk = junk or bool(buf[consumed:idx].strip())
                if junk:
                    number += 1
                    yield Chunk(start, pos + idx, number, b"", error="not_mbox")
            else:
                size = _keep(kept, size, buf[consumed:idx], cap)
                number += 1
                yield _chunk(current, pos + idx, number, kept, size, cap)
            current, kept, size, consumed = pos + idx, [], 0, idx
        # A separator may straddle two reads: hold back what could be its first 4 bytes.
        hold = 0 if eof else min(len(buf) - max(consumed, search), 4)
        cut = len(buf) - hold
        if current is None:
            junk = junk or bool(buf[consumed:cut].strip())
        else:
            size = _keep(kept, size, buf[consumed:cut], cap)
        if cut:
            before = buf[cut - 1]
        pos, buf = pos + cut, buf[cut:]
        if eof:
            if final and current is not None:
                yield _chunk(current, pos, number + 1, kept, size, cap)
            elif final and junk:
                yield Chunk(start, pos, number + 1, b"", error="not_mbox")
            return


def _keep(kept: list[bytes], size: int, data: bytes, cap: int) -> int:
    """Append what still fits under `cap` to `kept`; return the message's size so far."""
    room = cap - size
    if room > 0 and data:
        kept.append(data[:room])
    return size + len(data)


def _chunk(offset: int, end: int, number: int, kept: list[bytes], size: int, cap: int) -> Chunk:
    data = b"".join(kept)
    newline = data.find(b"\n")
    return Chunk(offset, end, number, data[newline + 1 :] if newline != -1 else b"", truncated=size > cap)


def read_whole(path: Path, limit: int = MAX_FILE_BYTES) -> tuple[bytes | None, Identity]:
    """A whole file for file framing, or None when it exceeds `limit` bytes."""
    with open_shared(path) as handle:
        st = os.fstat(handle.fileno())
        if st.st_size > limit:
            head = handle.read(FINGERPRINT_BYTES)
            return None, Identity(
                st.st_dev or None, st.st_ino or None, st.st_size, len(head), hashlib.sha256(head).hexdigest()
            )
        data = handle.read(limit + 1)
    if len(data) > limit:
        return None, Identity(st.st_dev or None, st.st_ino or None, len(data), 0, "")
    return data, Identity(st.st_dev or None, st.st_ino or None, len(data), len(data), hashlib.sha256(data).hexdigest())


def records(adapter: Adapter, path: Path, context: SourceContext | None = None) -> Iterator[Record]:
    """The records the agent would give `adapter` for `path`: same framing, decoding, offsets."""
    context = context or SourceContext()
    if adapter.framing == "file":
        data, _ = read_whole(path)
        if data is None:
            raise ValueError(f"{path} is larger than the agent reads as one record")
        yield Record(path=path, offset=0, data=data, context=context)
        return
    if adapter.framing == "mbox":
        with open_shared(path) as handle:
            for message in iter_messages(handle, 0, 0, final=True):
                if message.error:
                    raise ValueError(f"{path}: not an mbox (no `From ` line at offset {message.offset})")
                yield message.record(path, context)
        return
    with open_shared(path) as handle:
        for line in iter_lines(handle, 0, 0, adapter.encoding, final=True):
            if line.text is None:
                raise UnicodeDecodeError(adapter.encoding, line.raw, 0, 1, f"line {line.line_no}: {line.error}")
            yield Record(path=path, offset=line.offset, line_no=line.line_no, text=line.text, context=context)
