"""The header facts of an HL7 CDA R2 document, read with a parser that refuses DTDs and entities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from forfait_agent import RecordError

HL7 = "{urn:hl7-org:v3}"
RPPS_OID = "1.2.250.1.71.4.2.1"  # national id of health professionals: "8" + RPPS
INS_OIDS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11")
_TS = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(?:(\d{2})(?:\.\d+)?)?)?([+-]\d{4})?$")


@dataclass(frozen=True)
class CdaFacts:
    document_id: str
    at: datetime
    author_id: str | None  # "8" + RPPS, as written in the document
    doc_type: str | None
    patient: str | None  # INS; hashed by the core, never stored


def parse_ts(value: str) -> datetime:
    """HL7 TS (YYYYMMDD[HHMM[SS[.S]]][±ZZZZ]); without an offset it is local (Paris) time."""
    match = _TS.match(value.strip())
    if not match:
        raise RecordError(f"effectiveTime illisible : « {value[:40]} »")
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        naive = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError as exc:
        raise RecordError(f"effectiveTime invalide : « {value[:40]} »") from exc
    if offset is None:
        return naive
    sign = 1 if offset[0] == "+" else -1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
    return naive.replace(tzinfo=timezone(sign * delta))


def _find_id(elements: list[Element], roots: tuple[str, ...]) -> str | None:
    for element in elements:
        if element.get("root") in roots and element.get("extension"):
            return element.get("extension", "").strip()
    return None


def parse_cda(data: bytes) -> CdaFacts:
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise RecordError(f"XML refusé : {type(exc).__name__} (DTD ou entités interdites)") from exc
    except ParseError as exc:
        raise RecordError(f"XML invalide : {exc}") from exc
    if root.tag != f"{HL7}ClinicalDocument":
        raise RecordError(f"ce n'est pas un document CDA R2 (racine {root.tag[:80]})")
    doc_id = root.find(f"{HL7}id")
    if doc_id is None or not doc_id.get("root"):
        raise RecordError("identifiant du document (id/@root) absent")
    identifier = doc_id.get("root", "").strip()
    if doc_id.get("extension"):
        identifier += "^" + doc_id.get("extension", "").strip()
    effective = root.find(f"{HL7}effectiveTime")
    if effective is None or not effective.get("value"):
        raise RecordError("date du document (effectiveTime/@value) absente")
    authors = root.findall(f"{HL7}author/{HL7}assignedAuthor/{HL7}id")
    code = root.find(f"{HL7}code")
    patient_ids = root.findall(f"{HL7}recordTarget/{HL7}patientRole/{HL7}id")
    return CdaFacts(
        document_id=identifier,
        at=parse_ts(effective.get("value", "")),
        author_id=_find_id(authors, (RPPS_OID,)),
        doc_type=code.get("code") if code is not None else None,
        patient=_find_id(patient_ids, INS_OIDS),
    )
