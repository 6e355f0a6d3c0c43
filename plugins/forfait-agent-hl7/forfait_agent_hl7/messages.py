"""The ANS CI-SIS « Transmission de documents CDA en HL7v2 » messages, read with python-hl7.

A producer (LGC, RIS, lab system) sends MDM^T02 (T10 replacement, T04 cancel) or
ORU^R01 messages to a platform that feeds the DMP and MSSanté. Each carries the CDA document in
an OBX of type ED (`^text^XML^Base64^…`), the recipients in PRT segments (role `RCT`, address
in PRT-15 component 4), the sender in a PRT of role `SB`, and the destinations in OBX flags
(`DESTDMP`, `DESTMSSANTEPS`, `DESTMSSANTEPAT`: Y/N). Files hold one message (segments separated
by CR, or LF when edited by hand) or several, MLLP-framed (VT … FS CR) or not.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

import hl7
import hl7.containers
import hl7.util
from forfait_agent_dmp import CdaFacts, parse_cda
from forfait_agent_dmp.cda import INS_OIDS, RPPS_ID, RPPS_OID, document_code, parse_ts

from forfait_agent import RecordError

MESSAGE_TYPES = ("MDM", "ORU")
CANCEL = "CA"  # ORC-1 of a cancellation (« suppression »): nothing new was sent
_MLLP = re.compile(rb"[\x0b\x1c]")  # start and end blocks of MLLP frames
_NEXT_MSH = re.compile(r"\r(?=MSH\|)")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")

# python-hl7 logs the raw field on an odd escape sequence (« Error decoding value […], field
# [<INS>@patient.mssante.fr] »): patient data must never reach a log or the terminal.
for _module in (hl7.containers, hl7.util):
    _module.logger.disabled = True
# MSH-9.1 of any MSH segment (at the start or after a segment separator): 6 fields after MSH-2.
_MSH9 = re.compile(rb"(?:^|[\r\n])(?:\xef\xbb\xbf)?[ \t]*MSH\|[^|\r\n]*(?:\|[^|\r\n]*){6}\|([A-Z]{3})")


@dataclass(frozen=True)
class Transmission:
    """What one message says: the documents, where they go, who sent them."""

    sent_at: datetime | None  # MSH-7
    cancelled: bool
    documents: tuple[CdaFacts, ...]
    to_dmp: bool
    to_professionals: bool
    to_patient: bool | None  # DESTMSSANTEPAT; None when the message does not say
    recipients: tuple[str, ...]  # PRT role RCT addresses, in order
    sender_rpps: str | None  # PRT role SB: "8" + RPPS
    sender_address: str | None
    patient: str | None  # PID-3 INS


def is_transmission(head: bytes) -> bool:
    """Whether the file's first bytes hold an MDM or ORU message (what this adapter reads),
    even after acknowledgements or other messages in the same log."""
    return any(m.group(1).decode("ascii") in MESSAGE_TYPES for m in _MSH9.finditer(_MLLP.sub(b"", head)))


def split_messages(data: bytes) -> list[str]:
    """The messages of a file, each with CR segment separators."""
    messages = []
    for frame in _MLLP.split(data):
        text = _decode(frame).replace("\r\n", "\r").replace("\n", "\r").strip("\r \t\ufeff")
        segments = [s for s in text.split("\r") if s and not s.startswith(("FHS|", "BHS|", "BTS|", "FTS|"))]
        text = "\r".join(segments)
        if text:
            messages.extend(m for m in _NEXT_MSH.split(text) if m.strip())
    if not messages or not all(m.startswith("MSH|") for m in messages):
        raise RecordError("ce n'est pas un message HL7v2 (segment MSH absent en tête)")
    return messages


def _decode(frame: bytes) -> str:
    """MSH-18 says the character set: UTF-8 (« UNICODE UTF-8 ») or ISO 8859-1 (« 8859/1 »)."""
    head = frame[:1024].decode("latin-1")
    latin = "8859" in head.split("\n", 1)[0].split("\r", 1)[0]
    if not latin:
        try:
            return frame.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return frame.decode("cp1252" if not latin else "latin-1", errors="replace")


def _field(segment: hl7.Segment, *path: int) -> str:
    """A field, component or subcomponent (1-based, as in the HL7 standard); "" when absent."""
    try:
        return str(segment.extract_field(1, *path)).strip()
    except (IndexError, KeyError):
        return ""


def _segments(message: hl7.Message, name: str) -> list[hl7.Segment]:
    try:
        return list(message.segments(name))
    except KeyError:
        return []


def _b64(payload: str) -> bytes:
    """Base64 as producers write it: whitespace and missing padding tolerated, nothing else."""
    text = "".join(payload.split())
    if not _BASE64.match(text):
        raise RecordError("document CDA illisible dans l'OBX : base64 invalide")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise RecordError("document CDA illisible dans l'OBX : base64 invalide") from exc


def _from_txa(message: hl7.Message, patient: str | None) -> CdaFacts | None:
    """The document as TXA describes it (unique number TXA-12, date TXA-4, authenticator TXA-22,
    type TXA-2 with its coding system): used when the OBX does not hold a readable CDA (as in the guide's examples)."""
    txa = _segments(message, "TXA")
    if not txa or not _field(txa[0], 12, 1, 1):
        return None
    when = _field(txa[0], 4) or _field(message.segment("MSH"), 7)
    if not when:
        return None
    author = _field(txa[0], 22, 1, 1)
    return CdaFacts(
        document_id=_field(txa[0], 12, 1, 1),
        at=parse_ts(when),
        author_id=author if RPPS_ID.match(author) else None,
        doc_type=document_code(_field(txa[0], 2, 1, 1), _field(txa[0], 2, 1, 3)),
        patient=patient,
    )


def _documents(message: hl7.Message, patient: str | None) -> tuple[CdaFacts, ...]:
    """The CDA of every OBX of type ED and subtype XML (an N1 and an N3 version may travel
    together); the TXA's description when the OBX holds no readable CDA."""
    documents = []
    for obx in _segments(message, "OBX"):
        if _field(obx, 2).upper() != "ED" or _field(obx, 5, 1, 3).upper() != "XML":
            continue
        payload = _field(obx, 5, 1, 5)
        try:
            # Base64, or the XML itself, HL7-escaped (python-hl7 has unescaped it).
            content = _b64(payload) if _field(obx, 5, 1, 4).upper() == "BASE64" else payload.encode("utf-8")
            documents.append(parse_cda(content))
        except RecordError:
            described = _from_txa(message, patient)
            if described is None:
                raise
            documents.append(described)
    return tuple(dict.fromkeys(documents))


def _flags(message: hl7.Message) -> dict[str, str]:
    """DESTDMP / DESTMSSANTEPS / DESTMSSANTEPAT… → "Y" | "N"."""
    return {_field(o, 3, 1, 1).upper(): _field(o, 5, 1, 1).upper() for o in _segments(message, "OBX")}


def parse_transmission(text: str) -> Transmission:
    """One message; RecordError (in French) when it is not a readable transmission."""
    try:
        message = hl7.parse(text)
    except AssertionError as exc:  # python-hl7 asserts on MSH-2 encoding characters it cannot use
        raise RecordError("message HL7v2 illisible : caractères d'encodage (MSH-2) invalides") from exc
    except (hl7.ParseException, IndexError, KeyError, ValueError) as exc:
        raise RecordError(f"message HL7v2 illisible : {exc}"[:200]) from exc
    msh = message.segment("MSH")
    orc = _segments(message, "ORC")
    # Guide v2.1 cancels with ORC-1 "CA" (MDM^T04 or ORU^R01); v2.0 with MDM^T04 alone.
    cancelled = (bool(orc) and _field(orc[0], 1).upper() == CANCEL) or _field(msh, 9, 1, 2).upper() == "T04"
    sent = _field(msh, 7)
    flags = _flags(message)
    patient = None
    for pid in _segments(message, "PID")[:1]:
        for repetition in range(1, 6):
            if _field(pid, 3, repetition, 4, 2) in INS_OIDS and _field(pid, 3, repetition, 1):
                patient = _field(pid, 3, repetition, 1)
                break
    recipients, sender_rpps, sender_address = [], None, None
    for prt in _segments(message, "PRT"):
        role, address = _field(prt, 4, 1, 1).upper(), _field(prt, 15, 1, 4)
        if role == "RCT" and "@" in address:
            recipients.append(address.lower())
        elif role == "SB" and _field(prt, 5, 1, 9, 2) == RPPS_OID and RPPS_ID.match(_field(prt, 5, 1, 1)):
            sender_rpps = _field(prt, 5, 1, 1)
        if role in ("SB", "REPLY") and "@" in address and sender_address is None:
            sender_address = address.lower()
    return Transmission(
        sent_at=parse_ts(sent) if sent else None,
        cancelled=cancelled,
        documents=_documents(message, patient),
        to_dmp=flags.get("DESTDMP", "Y") != "N",  # V1 of the guide had no flags: DMP only
        to_professionals=flags.get("DESTMSSANTEPS", "Y") != "N",
        to_patient={"Y": True, "N": False}.get(flags.get("DESTMSSANTEPAT", "")),
        recipients=tuple(dict.fromkeys(recipients)),
        sender_rpps=sender_rpps,
        sender_address=sender_address,
        patient=patient,
    )


def message_type(text: str) -> str:
    """MSH-9.1 (MDM, ORU, ADT…) of a message split by `split_messages`."""
    fields = text.split("\r", 1)[0].split("|")
    return fields[8].split("^", 1)[0].strip().upper() if len(fields) > 8 else ""
