"""The canonical adapter's hot path: a JSON line straight to the store row it gives.

Validating a line with the event models costs ~8 µs, half of it in four Python callbacks
(Paris time, RPPS and patient normalisation, blank patient). Most lines of a canonical export
are plain: an 11-digit RPPS, an ISO timestamp, a patient id. For those, `LEAN_ADAPTER` checks the
same fields entirely inside pydantic-core (~3.5 µs) and `CanonicalRows` does the conversions once
per distinct value (a cabinet's journal repeats its patients and its timestamps). Anything else —
an MSS message (its recipient is parsed in Python), a declaration, `8` + RPPS, a timestamp given
as a number, a blank-looking patient, a year beyond the Paris calendar — is refused here and
takes the full path, so what is stored or quarantined never depends on which path read a line.
`tests/test_canonical_rows.py` checks that equivalence on generated lines.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from datetime import datetime
from functools import reduce
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictStr, StringConstraints, TypeAdapter

from .events import (
    UNKNOWN_PRACTITIONER,
    Consultation,
    DmpDocument,
    Fse,
    Fsp,
    ParisDatetime,
    Prescription,
    Teleservice,
    normalize_patient,
)
from .privacy import Hasher
from .scoring import count_key
from .store import EPOCH_ORDINAL, EventRow, hash64

MEMO_SIZE = 50_000  # distinct patients or timestamps remembered (a cabinet's year holds far fewer patients)


class _Plain(BaseModel):
    """The common fields without Python callbacks; each kind below inherits its own fields
    (and their defaults) from the event model, so the two cannot drift apart."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True, defer_build=True)

    # The text of a JSON line, or the datetime an adapter built: its Paris day is computed once
    # per distinct value, by the full path's own type.
    at: Annotated[
        Annotated[str, Strict(), StringConstraints(strip_whitespace=False)] | Annotated[datetime, Strict()],
        Field(union_mode="left_to_right"),
    ]
    practitioner: Annotated[str, StringConstraints(pattern=rf"^([0-9]{{11}}|{UNKNOWN_PRACTITIONER})$")]
    patient: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None


# One lean class per plain kind: its fields, defaults and checks from the event model, the three
# common fields from `_Plain` (first in the MRO, so its definitions win).
_LEAN_KINDS = [
    type(f"_{model.__name__}", (_Plain, model), {"__module__": __name__})
    for model in (Consultation, Fse, Fsp, Prescription, DmpDocument, Teleservice)
]


_PARIS_DATETIME: TypeAdapter[Any] = TypeAdapter(ParisDatetime, config=ConfigDict(defer_build=True))
LEAN_ADAPTER: TypeAdapter[Any] = TypeAdapter(
    Annotated[reduce(operator.or_, _LEAN_KINDS), Field(discriminator="kind")],
    config=ConfigDict(defer_build=True),
)


class CanonicalRows:
    """Turns plain events into store rows; `row` and `row_of` answer None for any other."""

    def __init__(self, hasher: Hasher) -> None:
        self._hasher = hasher
        self._patients: dict[str, int] = {}
        self._days: dict[str | datetime, int] = {}

    def row(self, text: str) -> EventRow | None:
        """The row the full path would store for this canonical line (its file id is set when
        it is stored), or None: then the full path reads it, and explains it if it is wrong."""
        try:
            event = LEAN_ADAPTER.validate_json(text)
        except Exception:  # noqa: BLE001 - whatever the reason, the full path decides
            return None
        return self._row(event)

    def row_of(self, data: Mapping[str, Any]) -> EventRow | None:
        """The same for a mapping an adapter returned."""
        try:
            event = LEAN_ADAPTER.validate_python(data)
        except Exception:  # noqa: BLE001 - whatever the reason, the full path decides
            return None
        return self._row(event)

    def _row(self, event: Any) -> EventRow | None:
        day = self._day(event.at)
        if day is None:
            return None
        patient = event.patient
        key = None
        if patient is not None:
            key = self._patients.get(patient)
            if key is None:
                if not patient.strip():  # blank to Python's eyes: the full path says « no patient »
                    return None
                key = self._remember(self._patients, patient, hash64(self._hasher(normalize_patient(patient))))
        kind, detail, flag = count_key(event)
        return (kind, event.id, event.practitioner, day, key, detail, flag, None, None)

    def _day(self, at: str | datetime) -> int | None:
        day = self._days.get(at)
        if day is None:
            try:  # exactly as the event models read it (a str is hashed far faster than a datetime)
                when = (
                    _PARIS_DATETIME.validate_json(json.dumps(at))
                    if isinstance(at, str)
                    else _PARIS_DATETIME.validate_python(at)
                )
            except ValueError:  # not a date the full path takes (pydantic's error is a ValueError)
                return None
            day = self._remember(self._days, at, when.toordinal() - EPOCH_ORDINAL)
        return day

    @staticmethod
    def _remember(memo: dict[Any, int], key: Any, value: int) -> int:
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = value
        return value
