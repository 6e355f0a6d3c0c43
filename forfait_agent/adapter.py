"""What an adapter is: the one interface vendor plugins implement.

An adapter is a pure function of a record: it gets bytes or text plus where they came from, and
returns canonical events. Everything stateful (offsets, dedupe, hashing, storage) is the core's job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from .events import UNKNOWN_PRACTITIONER, Event

Framing = Literal["line", "file"]
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
    """One unit of input: a complete line (line framing) or a complete file (file framing)."""

    path: Path
    offset: int
    line_no: int | None = None
    text: str | None = None
    data: bytes | None = None
    context: SourceContext = field(default_factory=SourceContext)

    def content(self) -> bytes:
        """The bytes of a whole-file record (framing "file"); RecordError otherwise."""
        if self.data is None:
            raise RecordError("enregistrement sans contenu binaire (cadrage « file » attendu)")
        return self.data


class Adapter(ABC):
    """Base class for adapters. Subclasses set the class attributes and implement `parse`."""

    name: ClassVar[str]
    patterns: ClassVar[tuple[str, ...]] = ()
    framing: ClassVar[Framing] = "line"
    encoding: ClassVar[str] = "utf-8"
    description: ClassVar[str] = ""

    @abstractmethod
    def parse(self, record: Record) -> Iterable[Event | Mapping[str, Any]]:
        """Return the events of one record; raise RecordError for unreadable input."""

    def claims(self, head: bytes) -> bool:
        """Whether a file whose name matched `patterns` is in this adapter's format, judged on
        its first `SNIFF_BYTES` bytes. A file its adapter does not claim is counted as ignored:
        neither read nor quarantined (a `METADATA.XML` beside CDA documents, any other XML in
        a folder of `*.xml` documents). Default: every file the patterns match."""
        return True
