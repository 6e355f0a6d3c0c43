"""Canonical events (forfait-events v1): the only shape adapters may produce.

Validation is strict where it matters (no coercion of "yes" into True, nor of 1 into an id) so
that a malformed export line is quarantined instead of being counted wrongly. Naive datetimes are
Europe/Paris local time.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from email.utils import getaddresses
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

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
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)

PARIS = ZoneInfo("Europe/Paris")
UNKNOWN_PRACTITIONER = "inconnu"
PATIENT_MSS_DOMAIN = "patient.mssante.fr"

SERVICES = ("aat", "dmt", "pse", "atmp", "spe", "dsg")


@lru_cache(maxsize=1 << 12)  # journals write many events per minute: one conversion each
def _paris(value: datetime) -> datetime:
    """Naive datetimes are cabinet local time; aware ones are converted to it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=PARIS)
    try:  # year 9999 at UTC-12 is year 10000 in Paris; year 1 at UTC+14 is year 0
        return value.astimezone(PARIS)
    except OverflowError:
        raise ValueError("date hors des années possibles") from None


def normalize_rpps(value: Any) -> Any:
    """Accept the 11-digit RPPS, or the 12-character CPS national id `8` + RPPS."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) == 12 and text.startswith("8") and text[1:].isdigit():
        return text[1:]
    return text


# The check is a pattern (run by pydantic-core, not Python): it is on every event's hot path.
Rpps = Annotated[
    str,
    BeforeValidator(normalize_rpps),
    StringConstraints(pattern=rf"^(\d{{11}}|{UNKNOWN_PRACTITIONER})$"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^(8?[0-9]{{11}}|{UNKNOWN_PRACTITIONER})$",
            "description": f"RPPS (11 digits; the CPS id 8 + RPPS is shortened) or {UNKNOWN_PRACTITIONER}",
        }
    ),
]


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


_FRENCH = {
    "missing": "clé obligatoire manquante",
    "extra_forbidden": "clé inconnue (faute de frappe ?)",
    "bool_type": "true ou false attendu",
    "bool_parsing": "true ou false attendu",
    "string_type": "texte attendu",
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "float_type": "nombre attendu",
    "float_parsing": "nombre attendu",
    "literal_error": "valeur non reconnue",
    "string_too_short": "texte vide ou trop court",
    "string_pattern_mismatch": "un RPPS compte 11 chiffres",
    "greater_than": "valeur trop petite",
    "greater_than_equal": "valeur trop petite",
    "less_than_equal": "valeur trop grande",
    "less_than": "valeur trop grande",
    "string_too_long": "texte trop long",
    "too_short": "liste trop courte",
    "too_long": "liste trop longue",
    "dict_type": "table attendue",
    "list_type": "liste attendue",
    "model_type": "table attendue",
    "model_attributes_type": "table attendue",
    "path_type": "chemin de fichier ou de dossier attendu",
    "date_type": "date attendue (AAAA-MM-JJ)",
    "date_parsing": "date attendue (AAAA-MM-JJ)",
    "date_from_datetime_parsing": "date attendue (AAAA-MM-JJ)",
    "date_from_datetime_inexact": "date sans heure attendue",
    "datetime_type": "date et heure attendues (ISO 8601)",
    "datetime_parsing": "date et heure attendues (ISO 8601)",
    "datetime_from_date_parsing": "date et heure attendues (ISO 8601)",
    "int_from_float": "nombre entier attendu",
    "finite_number": "nombre fini attendu",
    "union_tag_invalid": "forme de condition non reconnue",
    "union_tag_not_found": "forme de condition non reconnue",
    "model_attributes_type_error": "table attendue",
    "timezone_naive": "fuseau horaire attendu",
    "enum": "valeur non reconnue",
    "invalid_condition": "une condition contient l'une de ces clés : min_rate, min_count, mean_of, all, declared",
}


def french_message(error: Any) -> str:
    """A pydantic error (from `.errors()`) in French, for messages the doctor reads."""
    if error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", "")).replace(" or ", " ou ")
        return f"valeur non reconnue (attendu : {expected})" if expected else _FRENCH["literal_error"]
    return _FRENCH.get(error["type"], "valeur invalide")


def parse_event_json(text: str | bytes) -> Event:
    """Validate one canonical JSON line; raises pydantic.ValidationError."""
    return EVENT_ADAPTER.validate_json(text)


def parse_event(data: dict[str, Any]) -> Event:
    """Validate a mapping built by an adapter (datetimes may be objects or ISO strings)."""
    return EVENT_ADAPTER.validate_python(data)
