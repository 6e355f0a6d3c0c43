"""Canonical events (forfait-events v1): the only shape adapters may produce.

Validation is strict where it matters (no coercion of "yes" into True, nor of 1 into an id) so
that a malformed export line is quarantined instead of being counted wrongly. Naive datetimes are
Europe/Paris local time.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)

# Defined in vocab.py (which commands that only read the store import instead of this module);
# still importable from here, as plugins and the ingestion do.
from .vocab import PARIS, PATIENT_MSS_DOMAIN, Rpps
from .vocab import SERVICES as SERVICES
from .vocab import UNKNOWN_PRACTITIONER as UNKNOWN_PRACTITIONER
from .vocab import french_message as french_message
from .vocab import normalize_rpps as normalize_rpps


@lru_cache(maxsize=1 << 12)  # journals write many events per minute: one conversion each
def _paris(value: datetime) -> datetime:
    """Naive datetimes are cabinet local time; aware ones are converted to it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=PARIS)
    try:  # year 9999 at UTC-12 is year 10000 in Paris; year 1 at UTC+14 is year 0
        return value.astimezone(PARIS)
    except OverflowError:
        raise ValueError("date hors des années possibles") from None


def _no_timestamp(value: Any) -> Any:
    """Refuse bare numbers: an epoch in an export is far more likely a misplaced column."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("date ISO 8601 attendue, pas un nombre")
    return value


ParisDatetime = Annotated[
    datetime,
    BeforeValidator(_no_timestamp),
    AfterValidator(_paris),
    # Not JSON Schema's "date-time" (RFC 3339), which requires the offset this contract makes optional.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}",
            "description": "ISO 8601 date and time; without an offset it is Europe/Paris local time",
        }
    ),
]


# An INS matricule (NIR or NIA): sex, year, month, department (digits or Corsica 2A/2B), commune,
# order number, then the 2-digit key, which the first 13 characters determine.
_INS = re.compile(r"[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{6}(?:[0-9]{2})?")
_INS_SEPARATORS = str.maketrans("", "", " .-\t\u00a0")


def _ins_key(first13: str) -> str:
    """The INS/NIR key: 97 − (13 digits mod 97), Corsica's 2A/2B counted as 19/18."""
    digits = first13.replace("2A", "19").replace("2B", "18")
    return f"{97 - int(digits) % 97:02d}"


@lru_cache(maxsize=1 << 14)  # a cabinet's patients come back: one normalisation each
def normalize_patient(value: str) -> str:
    """The same INS however it was typed (spaces, dots, dashes, lower-case 2a/2b, with or without
    its key) becomes one 15-character matricule, so a patient links across sources; other ids
    are kept as given."""
    compact = value.translate(_INS_SEPARATORS).upper()
    if not _INS.fullmatch(compact):
        return value
    return compact if len(compact) == 15 else compact + _ins_key(compact)


def _blank_is_absent(value: Any) -> Any:
    """An export's empty patient column means « no patient »: the consultation still counts
    (in `without_patient`), it is not a damaged line."""
    return None if isinstance(value, str) and not value.strip() else value


PatientId = Annotated[StrictStr, Field(min_length=1, max_length=512), AfterValidator(normalize_patient)]


class EventBase(BaseModel):
    # Built on first use: commands that only read the store (score, status) never pay for it.
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True, defer_build=True)

    id: StrictStr = Field(min_length=1, max_length=512)
    at: ParisDatetime
    practitioner: Rpps
    patient: Annotated[PatientId | None, BeforeValidator(_blank_is_absent)] = None

    @property
    def day(self) -> date:
        """Local (Europe/Paris) calendar day, which decides the counting window."""
        return self.at.date()


class Consultation(EventBase):
    """A consultation (or visit) with a patient."""

    kind: Literal["consultation"]


class Fse(EventBase):
    """A feuille de soins électronique."""

    kind: Literal["fse"]
    vitale: Literal["carte", "apcv", "sans_vitale"]
    transmitted: StrictBool = True


class Fsp(EventBase):
    """A paper feuille de soins."""

    kind: Literal["fsp"]


class Prescription(EventBase):
    """An ordonnance (one event per ordonnance, not per line)."""

    kind: Literal["prescription"]
    electronic: StrictBool


# A recipient written as a bare address (what most exports hold) needs no RFC 5322 parser, which
# costs ~100 µs a field. Character classes around one `@`: linear on any input.
_BARE_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"@\\]+@[^\s<>()\[\],;:\"@\\]+")


@lru_cache(maxsize=1024)
def recipient_addresses(value: str) -> tuple[str, ...]:
    """The addresses of a recipient field, without display names or comments around them:
    `279035121518989@patient.mssante.fr (INS 279035121518989)` → that address only.
    Memoised: a validated message asks twice, and a cabinet writes to the same people."""
    if _BARE_ADDRESS.fullmatch(value):
        return (value,)
    from email.utils import getaddresses  # ~8 ms to import: only display names and comments need it

    return tuple(address for _, address in getaddresses([value]) if "@" in address)


def patient_address(value: str) -> str | None:
    """The first address of the field under patient.mssante.fr (its local part is the INS)."""
    for address in recipient_addresses(value):
        if address.rsplit("@", 1)[1].lower() == PATIENT_MSS_DOMAIN:
            return address
    return None


class MssMessage(EventBase):
    """A message sent through MSSanté; to_patient, when absent, is read from the recipient addresses."""

    kind: Literal["mss_message"]
    # An e-mail header line is short; the bound keeps address parsing cheap on hostile input.
    recipient: StrictStr = Field(min_length=1, max_length=2000)
    to_patient: StrictBool | None = None

    @field_validator("recipient")
    @classmethod
    def _has_domain(cls, value: str) -> str:
        if not recipient_addresses(value):
            raise ValueError("adresse de messagerie attendue")
        return value

    @model_validator(mode="after")
    def _patient_from_address(self) -> MssMessage:
        """`to_patient` absent: true iff an address (not a display name) is under
        patient.mssante.fr; such an address gives `patient` when the record has none."""
        address = patient_address(self.recipient)
        if self.to_patient is None:
            object.__setattr__(self, "to_patient", address is not None)
        if address is not None and self.patient is None:
            object.__setattr__(self, "patient", normalize_patient(address.rsplit("@", 1)[0]))
        return self

    @property
    def is_to_patient(self) -> bool:
        return bool(self.to_patient)


class DmpDocument(EventBase):
    """A document fed to a patient's DMP; doc_type is a LOINC code, or <codeSystem>|<code>."""

    kind: Literal["dmp_document"]
    doc_type: StrictStr | None = None


class Teleservice(EventBase):
    """An Assurance Maladie téléservice form, online or on paper."""

    kind: Literal["teleservice"]
    service: Literal["aat", "dmt", "pse", "atmp", "spe", "dsg"]
    online: StrictBool
    # CNAM counts régime général patients only: another régime's form counts nowhere.
    regime_general: StrictBool = True


class Declaration(EventBase):
    """A declarative indicator's answer (written by forfait-agent declare)."""

    kind: Literal["declaration"]
    indicator: StrictStr = Field(min_length=1)
    year: StrictInt = Field(ge=2000, le=2100)
    # NaN would reach SQLite as NULL (a refused row), Infinity as a rate above any threshold.
    value: StrictBool | StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)]


Event = Annotated[
    Consultation | Fse | Fsp | Prescription | MssMessage | DmpDocument | Teleservice | Declaration,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(defer_build=True))


def parse_event_json(text: str | bytes) -> Event:
    """Validate one canonical JSON line; raises pydantic.ValidationError."""
    return EVENT_ADAPTER.validate_json(text)


def parse_event(data: dict[str, Any]) -> Event:
    """Validate a mapping built by an adapter (datetimes may be objects or ISO strings)."""
    return EVENT_ADAPTER.validate_python(data)
