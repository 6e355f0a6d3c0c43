"""What an adapter is: the one interface vendor plugins implement.

An adapter is a pure function of a record: it gets bytes or text plus where they came from, and
returns canonical events. Everything stateful (framing, offsets, dedupe, hashing, storage) is the
core's job. Framings:

- `"line"`: each complete line of a growing file is a record (`text`);
- `"file"`: each complete file is a record (`data`), read once it has settled;
- `"mbox"`: each message of an mbox (a line starting with `From ` opens each) is a record
  (`data`: the message without that line). The file is read incrementally from the last
  committed message, in constant memory whatever its size, so a « Sent » folder that grows
  for years costs only its new messages; the last message is read once the file has settled.
  A message longer than the core's per-record limit arrives cut (`truncated`): its headers
  come first and are complete.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from .events import UNKNOWN_PRACTITIONER, Event

Framing = Literal["line", "file", "mbox"]
SNIFF_BYTES = 64 << 10  # how much of a file `Adapter.claims` sees


class RecordError(ValueError):
    """Raised by an adapter for a record it cannot read: the record is quarantined with this
    message, and the adapter is *not* counted as failing (bad input is not a bug)."""


@dataclass(frozen=True, slots=True)
class SourceContext:
    """Attribution settings of the folder a record comes from (see the contract)."""

    default_practitioner: str | None = None
    identities: Mapping[str, str] = field(default_factory=dict)

    def practitioner_for(self, *identities: str | None) -> str:
        """RPPS for the first identity the configuration maps, else the default, else `inconnu`."""
        for identity in identities:
            if identity:
                rpps = self.identities.get(identity.strip().lower())
                if rpps:
                    return rpps
        return self.default_practitioner or UNKNOWN_PRACTITIONER


@dataclass(slots=True)  # built once per line: not frozen (4× cheaper); adapters must not modify it
class Record:
    """One unit of input: a complete line (line framing), a complete file (file framing) or one
    message of an mbox (mbox framing: `offset` is where its `From ` line starts, `line_no` its
    rank in the file)."""

    path: Path
    offset: int
    line_no: int | None = None
    text: str | None = None
    data: bytes | None = None
    context: SourceContext = field(default_factory=SourceContext)
    truncated: bool = False  # `data` is only the beginning of a record over the core's size limit

    def content(self) -> bytes:
        """The bytes of a whole-file or mbox-message record; RecordError otherwise."""
        if self.data is None:
            raise RecordError("enregistrement sans contenu binaire (cadrage « file » ou « mbox » attendu)")
        return self.data


class Adapter(ABC):
    """Base class for adapters. Subclasses set the class attributes and implement `parse`."""

    name: ClassVar[str]
    patterns: ClassVar[tuple[str, ...]] = ()
    framing: ClassVar[Framing] = "line"
    encoding: ClassVar[str] = "utf-8"
    description: ClassVar[str] = ""
    # First bytes that identify the format whatever the file's name: a file no adapter's
    # `patterns` match is given to the adapter whose `magic` starts it (Thunderbird's « Sent »
    # mbox has no extension). Empty: chosen by name only.
    magic: ClassVar[tuple[bytes, ...]] = ()

    @abstractmethod
    def parse(self, record: Record) -> Iterable[Event | Mapping[str, Any]]:
        """Return the events of one record; raise RecordError for unreadable input."""

    def claims(self, head: bytes) -> bool:
        """Whether a file whose name matched `patterns` is in this adapter's format, judged on
        its first `SNIFF_BYTES` bytes. A file its adapter does not claim is counted as ignored:
        neither read nor quarantined (a `METADATA.XML` beside CDA documents, any other XML in
        a folder of `*.xml` documents). Default: every file the patterns match."""
        return True
