"""The header facts of an HL7 CDA R2 document, read with a parser that refuses DTDs and entities.

A CI-SIS document is a `ClinicalDocument` root, or one wrapped: "auto-présentable" documents are
an XSL stylesheet holding the ClinicalDocument (ANS's examples put it under `data:Contenu`),
signed ones a XAdES `ds:Signature` enveloping it. Only the header is read; the body never is.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring, iterparse

from forfait_agent import RecordError

HL7 = "{urn:hl7-org:v3}"
CLINICAL_DOCUMENT = f"{HL7}ClinicalDocument"
# Roots that may hold a ClinicalDocument: an auto-présentable XSL stylesheet, a XAdES signature.
WRAPPERS = frozenset(
    {
        "{http://www.w3.org/1999/XSL/Transform}stylesheet",
        "{http://www.w3.org/1999/XSL/Transform}transform",
        "{http://www.w3.org/2000/09/xmldsig#}Signature",
    }
)
LOINC = "2.16.840.1.113883.6.1"
RPPS_OID = "1.2.250.1.71.4.2.1"  # national ids of professionals AND of structures and systems
RPPS_ID = re.compile(r"^8\d{11}$")  # "8" + RPPS: the only form under that OID that is a person's RPPS
INS_OIDS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11")
_TS = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.\d+)?)?)?)?([+-]\d{4})?$")
_SAFE = {"forbid_dtd": True, "forbid_entities": True, "forbid_external": True}


@dataclass(frozen=True)
class CdaFacts:
    document_id: str
    at: datetime
    author_id: str | None  # "8" + RPPS of the first human author, else of the legal authenticator
    doc_type: str | None  # LOINC code as is; another system's as "<codeSystem>|<code>"
    patient: str | None  # INS; hashed by the core, never stored


def parse_ts(value: str) -> datetime:
    """HL7 TS (YYYYMMDD[HH[MM[SS[.S]]]][±ZZZZ]); without an offset it is local (Paris) time."""
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


def is_cda(head: bytes, *, complete: bool = False) -> bool:
    """Whether the first bytes of a file are a CDA document: a ClinicalDocument root (any
    namespace: `parse_cda` says what is wrong with it), or a wrapper holding one — or, unless
    `head` is the `complete` file, a wrapper cut off by its end before it closed, since its
    templates may come before the document (`parse_cda` then reads the whole file, and says so if
    no document is in it). Other XML (an XDM `METADATA.XML`, a configuration file, a whole
    stylesheet) and non-XML are not."""
    wrapper = False
    try:
        for index, (_, element) in enumerate(iterparse(io.BytesIO(head), events=("start",), **_SAFE)):
            if element.tag == "ClinicalDocument" or element.tag.endswith("}ClinicalDocument"):
                return True
            if index == 0:
                if element.tag not in WRAPPERS:
                    return False
                wrapper = True
    except DefusedXmlException:  # a DTD: hostile or odd, let parse_cda quarantine it if it says CDA
        return b"ClinicalDocument" in head
    except ParseError:  # not XML, or a wrapper not closed within `head`
        return wrapper and not complete
    return False


def _rpps(ids: Iterable[Element]) -> str | None:
    """The first `8` + RPPS id: the same OID also carries structure (`3`+FINESS…) and system ids."""
    for element in ids:
        extension = (element.get("extension") or "").strip()
        if element.get("root") == RPPS_OID and RPPS_ID.match(extension):
            return extension
    return None


def _author(doc: Element) -> str | None:
    """First human author with an RPPS (devices skipped), else the legal authenticator's RPPS."""
    for author in doc.findall(f"{HL7}author/{HL7}assignedAuthor"):
        if author.find(f"{HL7}assignedAuthoringDevice") is not None:
            continue
        found = _rpps(author.findall(f"{HL7}id"))
        if found:
            return found
    return _rpps(doc.findall(f"{HL7}legalAuthenticator/{HL7}assignedEntity/{HL7}id"))


def document_code(code: str, system: str) -> str | None:
    """A LOINC code as is, another system's as "<system>|<code>" (VSM's `SYNTH` is not LOINC's);
    None without a code. LOINC is its OID in CDA, `LN` (HL7 table 0396) in HL7v2."""
    code, system = code.strip(), system.strip()
    if not code:
        return None
    return code if system in ("", LOINC, "LN") else f"{system}|{code}"


def _doc_type(code: Element | None) -> str | None:
    return None if code is None else document_code(code.get("code") or "", code.get("codeSystem") or "")


def _patient(doc: Element) -> str | None:
    for element in doc.findall(f"{HL7}recordTarget/{HL7}patientRole/{HL7}id"):
        if element.get("root") in INS_OIDS and (element.get("extension") or "").strip():
            return (element.get("extension") or "").strip()
    return None


def _clinical_document(root: Element) -> Element:
    if root.tag == CLINICAL_DOCUMENT:
        return root
    if root.tag in WRAPPERS:
        found = root.find(f".//{CLINICAL_DOCUMENT}")
        if found is not None:
            return found
        raise RecordError("feuille de style ou signature sans document CDA R2 (ClinicalDocument absent)")
    raise RecordError(f"ce n'est pas un document CDA R2 (racine {root.tag[:80]})")


def parse_cda(data: bytes) -> CdaFacts:
    try:
        root = fromstring(data, **_SAFE)
    except DefusedXmlException as exc:
        raise RecordError(f"XML refusé : {type(exc).__name__} (DTD ou entités interdites)") from exc
    except ParseError as exc:
        raise RecordError(f"XML invalide : {exc}") from exc
    doc = _clinical_document(root)
    doc_id = doc.find(f"{HL7}id")
    if doc_id is None or not doc_id.get("root"):
        raise RecordError("identifiant du document (id/@root) absent")
    identifier = doc_id.get("root", "").strip()
    if doc_id.get("extension"):
        identifier += "^" + doc_id.get("extension", "").strip()
    effective = doc.find(f"{HL7}effectiveTime")
    if effective is None or not effective.get("value"):
        raise RecordError("date du document (effectiveTime/@value) absente")
    return CdaFacts(
        document_id=identifier,
        at=parse_ts(effective.get("value", "")),
        author_id=_author(doc),
        doc_type=_doc_type(doc.find(f"{HL7}code")),
        patient=_patient(doc),
    )
