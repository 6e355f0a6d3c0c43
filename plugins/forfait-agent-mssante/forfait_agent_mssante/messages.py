"""Reading a sent message for what the indicators need, and nothing more.

Kept: Message-ID, date, sender address (to find the practitioner), recipient addresses (the core
keeps only their domain and "to a patient: yes/no"), whether an IHE XDM archive is attached.
Never read: subject, body text, attached documents (the XDM zip's directory is listed, nothing
is decompressed). A message over `MAX_FULL_PARSE` bytes (or cut by the core) is read from its
headers only: Python's e-mail parser needs about ten times a message's size in memory. Headers
over `MAX_HEADER_BYTES` are refused whatever the message's size: parsing addresses costs
seconds per mebibyte, and a real sent message's headers are a few kilobytes.
"""

from __future__ import annotations

import email
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import errors as email_errors
from email.message import Message as EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

from forfait_agent import RecordError

_XDM_METADATA = re.compile(r"^IHE_XDM/[^/]+/METADATA\.XML$", re.IGNORECASE)
_TRUNCATION_DEFECTS = (
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
)
MAX_PARTS = 200
MAX_FULL_PARSE = 4 << 20  # larger messages: headers only (memory stays bounded)
MAX_HEADER_BYTES = 256 << 10  # ~10 000 recipients; beyond, a record costs seconds and megabytes
_HEADER_END = re.compile(rb"\r?\n\r?\n")
MAX_DATE_CHARS = 200  # a Date header is ~40 characters; longer is junk, cut before parsing
_COMMENT = re.compile(r"\([^()]*\)")  # innermost RFC 5322 comment; applied a few times for nesting
_ZONE = re.compile(r"^(?:[+-]\d{4}|[A-Za-z]{1,5})$")
# Zone names Python's parser does not know but a French mailbox writes (out-of-band knowledge
# RFC 5322 §4.3 allows); any other unknown name means "-0000": UTC, local zone unknown.
_EXTRA_ZONES = {"CET": 1, "MET": 1, "CEST": 2, "MEST": 2}


@dataclass(frozen=True)
class Message:
    message_id: str
    at: datetime
    sender: str | None
    recipients: tuple[str, ...]
    xdm_attachments: int


def _addresses(msg: EmailMessage, *headers: str) -> list[str]:
    values = [str(v) for h in headers for v in msg.get_all(h, [])]
    seen: dict[str, None] = {}
    for _, address in getaddresses(values):
        address = address.strip().strip("<>")
        if "@" in address:
            seen.setdefault(address.lower(), None)
    return list(seen)


def _is_xdm(part: EmailMessage) -> bool:
    """A zip attachment holding IHE_XDM/<subset>/METADATA.XML. Only the zip's central
    directory is read, so a zip bomb costs nothing."""
    name = (part.get_filename() or "").lower()
    if part.get_content_type() not in ("application/zip", "application/x-zip-compressed") and not name.endswith(".zip"):
        return False
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            return any(_XDM_METADATA.match(n) for n in archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False


def parse_mail_date(value: str) -> datetime:
    """An RFC 5322 Date header, with `parsedate_to_datetime` semantics plus what it misses:
    comments anywhere (`00:19:00 (EDT) -0400`) are dropped first, and `-0000` or an unknown
    zone name is UTC (§3.3, §4.3), not local time. Only a header without any zone is naive
    (Paris local time for the core)."""
    text = value[:MAX_DATE_CHARS]
    for _ in range(3):
        text = _COMMENT.sub(" ", text)
    text = " ".join(text.split())
    try:
        at = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise RecordError(f"en-tête Date illisible : {value[:80]}") from exc
    zone = text.rsplit(" ", 1)[-1]
    if at.tzinfo is None and _ZONE.match(zone):
        hours = _EXTRA_ZONES.get(zone.upper(), 0)
        at = at.replace(tzinfo=timezone(timedelta(hours=hours)))
    return at


def parse_message(raw: bytes, *, complete: bool = True) -> Message:
    """The facts of one message; RecordError when it cannot be a complete sent message.
    `complete=False`: `raw` is only the beginning of a longer message (its headers)."""
    if not raw or raw.isspace():
        raise RecordError("message vide")
    end = _HEADER_END.search(raw, 0, MAX_HEADER_BYTES + 4)
    if end is None and len(raw) > MAX_HEADER_BYTES:
        raise RecordError(f"en-têtes de plus de {MAX_HEADER_BYTES >> 10} Kio : message refusé")
    whole = complete and len(raw) <= MAX_FULL_PARSE
    if whole:
        msg = email.message_from_bytes(raw)
        if any(isinstance(d, _TRUNCATION_DEFECTS) for part in msg.walk() for d in part.defects):
            raise RecordError("message tronqué (structure MIME incomplète)")
    elif end is None:
        raise RecordError("en-têtes incomplets : message tronqué")
    else:
        msg = email.message_from_bytes(raw[: end.end()])
    date_header = msg.get("Date")
    if not date_header:
        raise RecordError("en-tête Date absent : message incomplet ou tronqué")
    at = parse_mail_date(str(date_header))
    recipients = _addresses(msg, "To", "Cc", "Bcc")
    if not recipients:
        raise RecordError("aucun destinataire (To, Cc, Bcc)")
    senders = _addresses(msg, "From", "Sender")
    message_id = str(msg.get("Message-ID", "")).strip().strip("<>")
    if not message_id:
        message_id = "sha256:" + hashlib.sha256(raw).hexdigest()[:32]
    parts = list(msg.walk())[:MAX_PARTS] if whole else []
    xdm = sum(1 for part in parts if not part.is_multipart() and _is_xdm(part))
    return Message(message_id, at, senders[0] if senders else None, tuple(recipients), xdm)
