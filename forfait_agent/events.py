"""Canonical events (forfait-events v1): the only shape adapters may produce.

Validation is strict (no silent coercion of "yes" into True) so that a malformed export line is
quarantined instead of being counted wrongly. Naive datetimes are Europe/Paris local time.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
)

PARIS = ZoneInfo("Europe/Paris")
UNKNOWN_PRACTITIONER = "inconnu"
PATIENT_MSS_DOMAIN = "patient.mssante.fr"

KINDS = (
    "consultation",
    "fse",
    "fsp",
    "prescription",
    "mss_message",
    "dmp_document",
    "teleservice",
    "declaration",
)
SERVICES = ("aat", "dmt", "pse", "atmp", "spe", "dsg")
VITALE_MODES = ("carte", "apcv", "sans_vitale")

_RPPS = re.compile(r"\d{11}")


def _paris(value: datetime) -> datetime:
    """Naive datetimes are cabinet local time; aware ones are converted to it."""
    if value.tzinfo is None:
        return value.replace(tzinfo=PARIS)
    return value.astimezone(PARIS)


def normalize_rpps(value: Any) -> Any:
    """Accept the 11-digit RPPS, or the 12-character CPS national id `8` + RPPS."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) == 12 and text.startswith("8") and text[1:].isdigit():
        return text[1:]
    return text


def _check_rpps(value: str) -> str:
    if value != UNKNOWN_PRACTITIONER and not _RPPS.fullmatch(value):
        raise ValueError("RPPS must be 11 digits")
    return value


Rpps = Annotated[str, BeforeValidator(normalize_rpps), AfterValidator(_check_rpps)]
ParisDatetime = Annotated[datetime, AfterValidator(_paris)]


class EventBase(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=512)
    at: ParisDatetime
    practitioner: Rpps
    patient: str | None = None

    @property
    def day(self) -> date:
        """Local (Europe/Paris) calendar day, which decides the counting window."""
        return self.at.date()


class Consultation(EventBase):
    kind: Literal["consultation"]


class Fse(EventBase):
    kind: Literal["fse"]
    vitale: Literal["carte", "apcv", "sans_vitale"]
    transmitted: bool = True


class Fsp(EventBase):
    kind: Literal["fsp"]


class Prescription(EventBase):
    kind: Literal["prescription"]
    electronic: bool


class MssMessage(EventBase):
    kind: Literal["mss_message"]
    recipient: str = Field(min_length=1)
    to_patient: bool | None = None

    @field_validator("recipient")
    @classmethod
    def _has_domain(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("recipient must be an e-mail address")
        return value

    @property
    def recipient_domain(self) -> str:
        return self.recipient.rsplit("@", 1)[1].strip().strip(">").lower()

    @property
    def is_to_patient(self) -> bool:
        if self.to_patient is not None:
            return self.to_patient
        return self.recipient_domain == PATIENT_MSS_DOMAIN


class DmpDocument(EventBase):
    kind: Literal["dmp_document"]
    doc_type: str | None = None


class Teleservice(EventBase):
    kind: Literal["teleservice"]
    service: Literal["aat", "dmt", "pse", "atmp", "spe", "dsg"]
    online: bool


class Declaration(EventBase):
    kind: Literal["declaration"]
    indicator: str = Field(min_length=1)
    year: int = Field(ge=2000, le=2100)
    value: bool | float

    @property
    def truthy(self) -> bool:
        return bool(self.value)


Event = Annotated[
    Consultation | Fse | Fsp | Prescription | MssMessage | DmpDocument | Teleservice | Declaration,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event_json(text: str | bytes) -> Event:
    """Validate one canonical JSON line; raises pydantic.ValidationError."""
    return EVENT_ADAPTER.validate_json(text)


def parse_event(data: dict[str, Any]) -> Event:
    """Validate a mapping built by an adapter (Python mode, still strict)."""
    return EVENT_ADAPTER.validate_python(data)
