"""The canonical format: one forfait-events v1 JSON object per line."""

from __future__ import annotations

import json

from pydantic import ValidationError

from ..adapter import Adapter, Record
from ..events import Event, parse_event_json


class JsonlAdapter(Adapter):
    name = "jsonl"
    patterns = ("*.jsonl", "*.ndjson")
    framing = "line"
    encoding = "utf-8"
    description = "Événements canoniques forfait-events v1 (une ligne JSON par événement)"

    def parse(self, record: Record) -> list[Event]:
        text = record.text or ""
        if not text.strip():
            return []
        try:
            return [parse_event_json(text)]
        except ValidationError as exc:
            default = record.context.default_practitioner
            if not default or not _only_missing_practitioner(exc):
                raise
        # The line is valid but for its practitioner: the configured default applies.
        data = json.loads(text)
        data["practitioner"] = default
        return [parse_event_json(json.dumps(data))]


def _only_missing_practitioner(exc: ValidationError) -> bool:
    errors = exc.errors()
    return bool(errors) and all(e["type"] == "missing" and e["loc"][-1] == "practitioner" for e in errors)
