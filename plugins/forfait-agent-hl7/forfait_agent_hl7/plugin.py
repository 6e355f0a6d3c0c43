"""One adapter: HL7v2 files (one message, a batch, or MLLP frames) of a CDA transmission."""

from __future__ import annotations

from typing import Any

from forfait_agent_dmp.plugin import document_event
from forfait_agent_mssante.plugin import recipient_fields

from forfait_agent import Adapter, Record, RecordError, SourceContext, hookimpl
from forfait_agent.events import PATIENT_MSS_DOMAIN

from .messages import MESSAGE_TYPES, Transmission, is_transmission, message_type, parse_transmission, split_messages


def _is_patient(address: str) -> bool:
    return address.rpartition("@")[2] == PATIENT_MSS_DOMAIN


def transmission_events(sent: Transmission, context: SourceContext) -> list[dict[str, Any]]:
    """`dmp_document` per CDA sent to the DMP, `mss_message` per MSSanté recipient. A
    cancellation (ORC-1 `CA`) sends nothing new; ids are the CDA's, so a document also read
    as a CDA file or from an XDM archive counts once."""
    if sent.cancelled or not sent.documents:
        return []
    first = sent.documents[0]
    practitioner = first.author_id or sent.sender_rpps or context.practitioner_for(sent.sender_address)
    patient = first.patient or sent.patient
    events = []
    if sent.to_dmp:
        for facts in sent.documents:
            event = document_event(facts, context)
            event["practitioner"] = facts.author_id or practitioner
            event["patient"] = facts.patient or sent.patient
            events.append(event)
    recipients = [
        r for r in sent.recipients if (sent.to_patient is not False if _is_patient(r) else sent.to_professionals)
    ]
    if sent.to_patient and patient and not any(_is_patient(r) for r in recipients):
        recipients.append(f"{patient}@{PATIENT_MSS_DOMAIN}")  # the platform addresses the patient by INS
    for rank, address in enumerate(recipients, start=1):
        fields = recipient_fields(address)
        events.append(
            {
                "kind": "mss_message",
                "id": f"{first.document_id}#{rank}",
                "at": sent.sent_at or first.at,
                "practitioner": practitioner,
                **fields,
                "patient": patient or fields["patient"],
            }
        )
    return events


class Hl7Adapter(Adapter):
    name = "hl7-cda"
    patterns = ("*.hl7", "*.er7", "*.mllp")
    # Interface engines often write messages to files without an extension (MSG00042):
    # a file no pattern matches is read when it starts like an HL7v2 message, bare or MLLP-framed.
    magic = (b"MSH|", b"\x0bMSH|", b"\xef\xbb\xbfMSH|")
    framing = "file"
    encoding = "utf-8"
    description = "Documents CDA transmis en HL7v2 (MDM^T02, ORU^R01 du CI-SIS) vers le DMP et MSSanté"

    def parse(self, record: Record) -> list[dict[str, Any]]:
        events = []
        for index, text in enumerate(split_messages(record.content()), start=1):
            if message_type(text) not in MESSAGE_TYPES:
                continue  # an ADT or an acknowledgement in the same file: nothing to count
            try:
                events.extend(transmission_events(parse_transmission(text), record.context))
            except RecordError as exc:
                raise RecordError(f"message {index} : {exc}") from exc
        return events

    def claims(self, head: bytes) -> bool:
        """Only MDM and ORU messages: acknowledgements and ADT files are ignored, not quarantined."""
        return is_transmission(head)


@hookimpl
def forfait_agent_adapters() -> list[Adapter]:
    return [Hl7Adapter()]
