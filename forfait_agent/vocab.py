"""What the events, the settings and the rules share: the cabinet's time zone, the practitioner
id and its check, the téléservices, pydantic's errors in French. Without the event models:
commands that only read the store (`score`, `status`) import this, never events.py.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, StringConstraints, WithJsonSchema

PARIS = ZoneInfo("Europe/Paris")
UNKNOWN_PRACTITIONER = "inconnu"
PATIENT_MSS_DOMAIN = "patient.mssante.fr"

SERVICES = ("aat", "dmt", "pse", "atmp", "spe", "dsg")


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
