"""The adapter: one CSV line → at most one canonical event, as its profile says."""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from forfait_agent import Adapter, Record, RecordError

from .profile import FieldSpec, Profile

COMMON_FIELDS = frozenset({"id", "at", "practitioner", "patient"})
KIND_FIELDS = {
    "fse": frozenset({"vitale", "transmitted"}),
    "prescription": frozenset({"electronic"}),
    "mss_message": frozenset({"recipient", "to_patient"}),
    "dmp_document": frozenset({"doc_type"}),
    "teleservice": frozenset({"service", "online"}),
}


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
        self._headers: dict[str, dict[str, int]] = {}
        self._lookups = {name: spec.lookup() for name, spec in profile.fields.items()}

    # -- header -------------------------------------------------------------------------------
    def _split(self, text: str) -> list[str]:
        try:
            return next(csv.reader([text], delimiter=self.profile.separator, quotechar=self.profile.quote))
        except (csv.Error, StopIteration) as exc:
            raise RecordError(f"ligne CSV illisible : {exc}") from exc

    def _set_header(self, path: Path, text: str) -> dict[str, int]:
        cells = [_norm(c) for c in self._split(text)]
        index = {name: i for i, name in enumerate(cells) if name}
        missing = sorted(c for c in self.profile.columns() if _norm(c) not in index)
        if missing:
            raise RecordError(f"colonne(s) absente(s) de l'en-tête : {', '.join(missing)}")
        self._headers[str(path)] = index
        return index

    def _header(self, path: Path) -> dict[str, int]:
        """The header of a file whose first lines were read in an earlier run."""
        cached = self._headers.get(str(path))
        if cached is not None:
            return cached
        try:
            with path.open(encoding=self.encoding, errors="strict", newline="") as handle:
                for number, text in enumerate(handle, start=1):
                    if number == self.profile.header_line:
                        return self._set_header(path, text.rstrip("\r\n"))
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordError(f"en-tête illisible : {exc}") from exc
        raise RecordError("fichier sans ligne d'en-tête")

    # -- values -------------------------------------------------------------------------------
    def _raw(self, spec: FieldSpec, cells: list[str], header: dict[str, int]) -> str:
        parts = []
        for column in spec.source_columns():
            position = header[_norm(column)]
            parts.append(cells[position].strip() if position < len(cells) else "")
        return " ".join(p for p in parts if p)

    def _value(self, name: str, spec: FieldSpec, cells: list[str], header: dict[str, int]) -> Any:
        if spec.value is not None:
            return spec.value
        raw = self._raw(spec, cells, header)
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
        if not raw:
            return spec.default
        return raw

    def _date(self, raw: Any, spec: FieldSpec) -> datetime:
        for fmt in self.profile.date_formats:
            try:
                return datetime.strptime(str(raw), fmt)
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
        header = self._header(record.path)
        cells = self._split(text)
        if len(cells) < 2:
            raise RecordError(f"{len(cells)} colonne(s) : ce n'est pas une ligne du journal")
        fields = self.profile.fields
        kind = self._value("kind", fields["kind"], cells, header)
        event: dict[str, Any] = {"kind": kind}
        wanted = COMMON_FIELDS | KIND_FIELDS.get(str(kind), frozenset())
        for name, spec in fields.items():
            if name == "kind" or name not in wanted:
                continue  # e.g. the reading mode of a paper form: not a field of `fsp`
            value = self._value(name, spec, cells, header)
            if value is not None and value != "":
                event[name] = value
        if "at" not in event:
            raise RecordError("date absente")
        event["at"] = self._date(event["at"], self.profile.fields["at"])
        if "practitioner" not in event:
            identity = cells[header[_norm(self.profile.identity)]] if self.profile.identity else None
            event["practitioner"] = record.context.practitioner_for(identity)
        if "id" not in event:
            event["id"] = self._derived_id(cells, header)
        return [event]

    def _derived_id(self, cells: list[str], header: dict[str, int]) -> str:
        """Journals without a record number: a hash of the row without its patient column, so
        the same row read again (or exported twice) gets the same id."""
        patient = self.profile.fields.get("patient")
        skip = {header[_norm(c)] for c in patient.source_columns()} if patient else set()
        content = "\x1f".join(c.strip() for i, c in enumerate(cells) if i not in skip)
        return f"{self.profile.name}:{hashlib.sha256(content.encode('utf-8')).hexdigest()[:24]}"
