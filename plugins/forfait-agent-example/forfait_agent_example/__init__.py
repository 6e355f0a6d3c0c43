"""Template plugin: reads the imaginary "journal Exemple" of a practice software.

Format, one line per act, UTF-8, `|`-separated:

    2026-03-02T10:15|10101010101|CONSULT|A-000123|
    2026-03-02T10:16|10101010101|ORDO|O-000987|NUM
    2026-03-02T10:17||ORDO|O-000988|PAPIER          (no RPPS: attributed by configuration)

Everything a vendor needs is here: the adapter class, the hook, RecordError for bad lines.
"""

from __future__ import annotations

from typing import Any

from forfait_agent import Adapter, Record, RecordError, hookimpl

# The vendor's line types → canonical kinds, and the extra field each needs.
KINDS = {"CONSULT": "consultation", "ORDO": "prescription"}
PRESCRIPTION_TYPES = {"NUM": True, "PAPIER": False}


class ExampleAdapter(Adapter):
    name = "example"
    patterns = ("exemple-*.log",)
    framing = "line"
    encoding = "utf-8"
    description = "Journal Exemple (modèle de greffon)"

    def parse(self, record: Record) -> list[dict[str, Any]]:
        text = (record.text or "").strip()
        if not text:
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


@hookimpl
def forfait_agent_adapters() -> list[Adapter]:
    return [ExampleAdapter()]
