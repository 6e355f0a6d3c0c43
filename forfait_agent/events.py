"""Canonical events (forfait-events v1): the only shape adapters may produce.

Validation is strict where it matters (no coercion of "yes" into True, nor of 1 into an id) so
that a malformed export line is quarantined instead of being counted wrongly. Naive datetimes are
Europe/Paris local time.
"""

from __future__ import annotations

from datetime import date, datetime
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
    field_validator,
)

PARIS = ZoneInfo("Europe/Paris")
UNKNOWN_PRACTITIONER = "inconnu"
PATIENT_MSS_DOMAIN = "patient.mssante.fr"

SERVICES = ("aat", "dmt", "pse", "atmp", "spe", "dsg")


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
    str, BeforeValidator(normalize_rpps), StringConstraints(pattern=rf"^(\d{{11}}|{UNKNOWN_PRACTITIONER})$")
]


def _no_timestamp(value: Any) -> Any:
    """Refuse bare numbers: an epoch in an export is far more likely a misplaced column."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("date ISO 8601 attendue, pas un nombre")
    return value


ParisDatetime = Annotated[datetime, BeforeValidator(_no_timestamp), AfterValidator(_paris)]


class EventBase(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    id: StrictStr = Field(min_length=1, max_length=512)
    at: ParisDatetime
    practitioner: Rpps
    patient: StrictStr | None = None

    @property
    def day(self) -> date:
        """Local (Europe/Paris) calendar day, which decides the counting window."""
        return self.at.date()


class Consultation(EventBase):
    kind: Literal["consultation"]


class Fse(EventBase):
    kind: Literal["fse"]
    vitale: Literal["carte", "apcv", "sans_vitale"]
    transmitted: StrictBool = True


class Fsp(EventBase):
    kind: Literal["fsp"]


class Prescription(EventBase):
    kind: Literal["prescription"]
    electronic: StrictBool


class MssMessage(EventBase):
    kind: Literal["mss_message"]
    recipient: StrictStr = Field(min_length=1)
    to_patient: StrictBool | None = None

    @field_validator("recipient")
    @classmethod
    def _has_domain(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("adresse de messagerie attendue")
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
    doc_type: StrictStr | None = None


class Teleservice(EventBase):
    kind: Literal["teleservice"]
    service: Literal["aat", "dmt", "pse", "atmp", "spe", "dsg"]
    online: StrictBool


class Declaration(EventBase):
    kind: Literal["declaration"]
    indicator: StrictStr = Field(min_length=1)
    year: StrictInt = Field(ge=2000, le=2100)
    value: StrictBool | StrictInt | StrictFloat


Event = Annotated[
    Consultation | Fse | Fsp | Prescription | MssMessage | DmpDocument | Teleservice | Declaration,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


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
    "string_too_short": "texte vide",
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
