"""The adapter: one CSV line → at most one canonical event, as its profile says."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from forfait_agent import Adapter, Record, RecordError

from .profile import FieldSpec, Profile

_DIRECTIVES = {
    "d": r"(?P<d>\d{1,2})",
    "m": r"(?P<m>\d{1,2})",
    "Y": r"(?P<Y>\d{4})",
    "H": r"(?P<H>\d{1,2})",
    "M": r"(?P<M>\d{2})",
    "S": r"(?P<S>\d{2})",
}


def date_parser(fmt: str) -> Callable[[str], datetime]:
    """A parser for `fmt`. Journals are mostly day/month/year hour:minute: those formats are
    compiled to a regular expression (strptime costs more than the rest of a line); any other
    directive falls back to strptime."""
    pattern, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            directive = _DIRECTIVES.get(fmt[i + 1])
            if directive is None:
                return lambda text: datetime.strptime(text, fmt)
            pattern.append(directive)
            i += 2
        else:
            pattern.append(re.escape(fmt[i]))
            i += 1
    regex = re.compile("".join(pattern) + r"\Z")

    def parse(text: str) -> datetime:
        match = regex.match(text)
        if match is None:
            raise ValueError(text)
        parts = match.groupdict()
        return datetime(
            int(parts["Y"]),
            int(parts["m"]),
            int(parts["d"]),
            int(parts.get("H") or 0),
            int(parts.get("M") or 0),
            int(parts.get("S") or 0),
        )

    return parse


# Characters the csv module treats specially outside quotes (it refuses them): such a line is
# split by the csv module itself.
_CSV_SPECIAL = re.compile("[\0\r\n]")

COMMON_FIELDS = frozenset({"id", "at", "practitioner", "patient"})
KIND_FIELDS = {
    kind: COMMON_FIELDS | extra
    for kind, extra in {
        "fse": frozenset({"vitale", "transmitted"}),
        "prescription": frozenset({"electronic"}),
        "mss_message": frozenset({"recipient", "to_patient"}),
        "dmp_document": frozenset({"doc_type"}),
        "teleservice": frozenset({"service", "online", "regime_general"}),
    }.items()
}


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each field's columns are in one file (from its header line)."""

    fields: dict[str, list[int]]
    identity: int | None


def _norm(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().casefold()


class CsvAdapter(Adapter):
    """Reads the journal a profile describes. Patient columns go to `patient` (hashed by the
    core); every other column not named in the profile, amounts included, is dropped."""

    framing = "line"

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.name = f"csv-{profile.name}"
        self.patterns = tuple(profile.patterns)
        self.encoding = profile.encoding
        self.description = profile.description
        self._headers: dict[str, Layout] = {}
        self._lookups = {name: spec.lookup() for name, spec in profile.fields.items()}
        self._date_parsers = [date_parser(fmt) for fmt in profile.date_formats]

    # -- header -------------------------------------------------------------------------------
    def _split(self, text: str) -> list[str]:
        if text and self.profile.quote not in text and not _CSV_SPECIAL.search(text):
            return text.split(self.profile.separator)  # what the csv module returns for such a line, 5× faster
        try:
            return next(csv.reader([text], delimiter=self.profile.separator, quotechar=self.profile.quote))
        except (csv.Error, StopIteration) as exc:
            raise RecordError(f"ligne CSV illisible : {exc}") from exc

    def _set_header(self, path: Path, text: str) -> Layout:
        cells = [_norm(c) for c in self._split(text)]
        index = {name: i for i, name in enumerate(cells) if name}
        missing = sorted(c for c in self.profile.columns() if _norm(c) not in index)
        if missing:
            raise RecordError(f"colonne(s) absente(s) de l'en-tête : {', '.join(missing)}")
        layout = Layout(
            fields={
                name: [index[_norm(c)] for c in spec.source_columns()] for name, spec in self.profile.fields.items()
            },
            identity=index[_norm(self.profile.identity)] if self.profile.identity else None,
        )
        self._headers[str(path)] = layout
        return layout

    def _header(self, path: Path) -> Layout:
        """The column layout of a file (read again from disk if an earlier run saw its header)."""
        cached = self._headers.get(str(path))
        if cached is not None:
            return cached
        try:
            with path.open(encoding=self.encoding, errors="strict", newline="") as handle:
                for number, text in enumerate(handle, start=1):
                    if number == self.profile.header_line:
                        return self._set_header(path, text.rstrip("\r\n").lstrip("\ufeff"))
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordError(f"en-tête illisible : {exc}") from exc
        raise RecordError("fichier sans ligne d'en-tête")

    # -- values -------------------------------------------------------------------------------
    def _value(self, name: str, spec: FieldSpec, cells: list[str], positions: list[int]) -> Any:
        if spec.value is not None:
            return spec.value
        if len(positions) == 1:
            raw = cells[positions[0]].strip() if positions[0] < len(cells) else ""
        else:
            raw = " ".join(cells[p].strip() for p in positions if p < len(cells) and cells[p].strip())
        lookup = self._lookups[name]
        if lookup:
            found = lookup.get(raw.casefold())
            if found is not None:
                return found
            if spec.default is not None:
                return spec.default
            expected = ", ".join(f"« {k} »" for k in (spec.values or {}))
            raise RecordError(
                f"colonne « {spec.source_columns()[0]} » : valeur « {raw} » inattendue (attendu : {expected})"
            )
        return raw or spec.default

    def _date(self, raw: Any, spec: FieldSpec) -> datetime:
        text = str(raw)
        for parse in self._date_parsers:
            try:
                return parse(text)
            except ValueError:
                continue
        column = " + ".join(spec.source_columns()) or "at"
        raise RecordError(f"colonne « {column} » : date « {raw} » illisible (formats : {self.profile.date_formats})")

    # -- parse --------------------------------------------------------------------------------
    def parse(self, record: Record) -> list[dict[str, Any]]:
        text = (record.text or "").lstrip("\ufeff")
        line_no = record.line_no or 0
        if line_no < self.profile.header_line:
            return []
        if line_no == self.profile.header_line:
            self._set_header(record.path, text)
            return []
        if not text.strip():
            return []
        layout = self._header(record.path)
        cells = self._split(text)
        if len(cells) < 2:
            raise RecordError(f"{len(cells)} colonne(s) : ce n'est pas une ligne du journal")
        fields = self.profile.fields
        kind = self._value("kind", fields["kind"], cells, layout.fields["kind"])
        event: dict[str, Any] = {"kind": kind}
        wanted = KIND_FIELDS.get(str(kind), COMMON_FIELDS)
        for name, spec in fields.items():
            if name == "kind" or name not in wanted:
                continue  # e.g. the reading mode of a paper form: not a field of `fsp`
            value = self._value(name, spec, cells, layout.fields[name])
            if value is not None and value != "":
                event[name] = value
        if "at" not in event:
            raise RecordError("date absente")
        event["at"] = self._date(event["at"], fields["at"])
        if "practitioner" not in event:
            identity = cells[layout.identity] if layout.identity is not None else None
            event["practitioner"] = record.context.practitioner_for(identity)
        if "id" not in event:
            event["id"] = self._derived_id(cells, layout)
        return [event]

    def _derived_id(self, cells: list[str], layout: Layout) -> str:
        """Journals without a record number: a hash of the row without its patient column, so
        the same row read again (or exported twice) gets the same id."""
        skip = set(layout.fields.get("patient", []))
        content = "\x1f".join(c.strip() for i, c in enumerate(cells) if i not in skip)
        return f"{self.profile.name}:{hashlib.sha256(content.encode('utf-8')).hexdigest()[:24]}"
