"""Why a record was set aside: stable codes (kept in the store) and their French wording (shown
by `scan` and `status`). Apart from ingest so that `status` starts without loading the ingestion."""

from __future__ import annotations

REASONS_FR = {
    "invalid_json": "JSON invalide",
    "missing_kind": "champ « kind » manquant",
    "unknown_kind": "type d'événement inconnu",
    "missing_field": "champ obligatoire manquant",
    "invalid_date": "date invalide",
    "invalid_field": "valeur invalide",
    "invalid_record": "enregistrement illisible",
    "encoding": "octets non décodables dans l'encodage attendu",
    "line_too_long": "ligne trop longue (ignorée)",
    "rotation_unverified": "fichier remplacé ; sa version précédente est introuvable (lignes peut-être perdues)",
    "not_mbox": "contenu qui n'est pas un message mbox (pas de ligne « From » qui l'ouvre)",
    "file_too_large": "fichier trop volumineux",
    "adapter_error": "erreur interne de l'adaptateur",
    "timeout": "adaptateur bloqué sur cet enregistrement",
    "internal_error": "enregistrement impossible à enregistrer",
}
