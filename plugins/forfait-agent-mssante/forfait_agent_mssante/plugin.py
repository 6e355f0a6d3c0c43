"""Three adapters over one parser: single .eml files, mbox sent folders, maildir messages."""

from __future__ import annotations

from typing import Any

from forfait_agent import Adapter, Record, SourceContext, hookimpl
from forfait_agent.events import PATIENT_MSS_DOMAIN

from .messages import Message, parse_message


def recipient_fields(address: str) -> dict[str, Any]:
    """`recipient`, `to_patient` and `patient` of one parsed address (never its display name or a
    comment): a patient's MSSanté address has the INS as local part, which the core hashes."""
    local, _, domain = address.rpartition("@")
    to_patient = domain.lower() == PATIENT_MSS_DOMAIN
    return {"recipient": address, "to_patient": to_patient, "patient": local if to_patient and local else None}


def message_events(message: Message, context: SourceContext) -> list[dict[str, Any]]:
    """One event per recipient; ids are the Message-ID and the recipient's rank, so no
    address (a patient's contains the INS) ever becomes part of an id."""
    practitioner = context.practitioner_for(message.sender)
    return [
        {
            "kind": "mss_message",
            "id": f"{message.message_id}#{rank}",
            "at": message.at,
            "practitioner": practitioner,
            **recipient_fields(recipient),
        }
        for rank, recipient in enumerate(message.recipients, start=1)
    ]


class EmlAdapter(Adapter):
    name = "mssante-eml"
    patterns = ("*.eml",)
    framing = "file"
    encoding = "utf-8"
    description = "Messages MSSanté envoyés, un fichier .eml par message"

    def parse(self, record: Record) -> list[dict[str, Any]]:
        return message_events(parse_message(record.content()), record.context)


class MaildirAdapter(EmlAdapter):
    name = "mssante-maildir"
    patterns = ("*:2,*", "*!2,*")  # maildir file names carry their flags after ":2," (or "!2," on Windows)
    description = "Messages MSSanté envoyés, dossier Maildir (un fichier par message)"


class MboxAdapter(Adapter):
    """One record per message: the core frames the mbox (incrementally, in constant memory)."""

    name = "mssante-mbox"
    patterns = ("*.mbox", "*.mbx")
    magic = (b"From ",)  # Thunderbird's « Sent » and other mbox files without an extension
    framing = "mbox"
    encoding = "utf-8"
    description = "Dossier « Envoyés » au format mbox (seuls les nouveaux messages sont lus)"

    def parse(self, record: Record) -> list[dict[str, Any]]:
        return message_events(parse_message(record.content(), complete=not record.truncated), record.context)


@hookimpl
def forfait_agent_adapters() -> list[Adapter]:
    return [EmlAdapter(), MboxAdapter(), MaildirAdapter()]
