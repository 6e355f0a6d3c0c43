"""Reads the "example" journal of a practice software. Replace the format below with yours.

Format, one line per act, UTF-8, `|`-separated:

    2026-03-02T10:15|10101010101|CONSULT|A-000123|
    2026-03-02T10:16|10101010101|ORDO|O-000987|NUM
    2026-03-02T10:17||ORDO|O-000988|PAPIER          (no RPPS: attributed by configuration)

`parse` is a pure function of one record (here one line): it returns canonical events as plain
mappings (the core validates them) and raises RecordError, with a French reason the doctor
reads, for a line it cannot read. See docs/vendors.md of forfait-agent.
"""

from __future__ import annotations

from typing import Any

from forfait_agent import Adapter, Record, RecordError

# The vendor's line types → canonical kinds, and the extra field each needs.
KINDS = {"CONSULT": "consultation", "ORDO": "prescription"}
PRESCRIPTION_TYPES = {"NUM": True, "PAPIER": False}


class ExampleAdapter(Adapter):
    name = "example"  # unique among all plugins
    patterns = ("example-*.log",)  # file-name globs this adapter reads
    framing = "line"  # "line": each complete line of a growing file; "file": each settled file
    encoding = "utf-8"  # the core decodes, strips BOM and CRLF, keeps byte offsets
    description = "Journal example"

    def parse(self, record: Record) -> list[dict[str, Any]]:
        text = (record.text or "").strip()
        if not text:  # nothing to count (so is a line of column headers, if your format has one)
            return []
        fields = text.split("|")
        if len(fields) != 5:
            raise RecordError(f"{len(fields)} champs au lieu de 5")
        at, rpps, line_type, ident, detail = (f.strip() for f in fields)
        kind = KINDS.get(line_type)
        if kind is None:
            raise RecordError(f"type de ligne inconnu « {line_type} »")
        event: dict[str, Any] = {
            "kind": kind,
            "id": ident,
            "at": at,  # ISO text: the core validates it and applies Europe/Paris when naive
            "practitioner": rpps or record.context.practitioner_for(None),
        }
        if kind == "prescription":
            if detail not in PRESCRIPTION_TYPES:
                raise RecordError(f"type d'ordonnance « {detail} » : NUM ou PAPIER attendu")
            event["electronic"] = PRESCRIPTION_TYPES[detail]
        return [event]
