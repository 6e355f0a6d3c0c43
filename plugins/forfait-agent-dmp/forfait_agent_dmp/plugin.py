"""Two adapters: single CDA files of the DMP outbox, and IHE XDM zips."""

from __future__ import annotations

from typing import Any

from forfait_agent import Adapter, Record, SourceContext, hookimpl

from .cda import CdaFacts, is_cda, parse_cda
from .xdm import xdm_documents


def document_event(facts: CdaFacts, context: SourceContext) -> dict[str, Any]:
    return {
        "kind": "dmp_document",
        "id": facts.document_id,
        "at": facts.at,
        "practitioner": facts.author_id or context.practitioner_for(None),
        "doc_type": facts.doc_type,
        "patient": facts.patient,
    }


class CdaAdapter(Adapter):
    name = "dmp-cda"
    patterns = ("*.cda", "*.xml")
    framing = "file"
    encoding = "utf-8"
    description = "Documents CDA R2 envoyés au DMP (un fichier XML par document)"

    def parse(self, record: Record) -> list[dict[str, Any]]:
        return [document_event(parse_cda(record.content()), record.context)]

    def claims(self, head: bytes) -> bool:
        """`*.xml` matches far more than CDA: only CDA roots (plain, auto-présentable, signed)."""
        return is_cda(head)


class XdmAdapter(Adapter):
    name = "dmp-xdm"
    patterns = ("*.zip",)
    framing = "file"
    encoding = "utf-8"
    description = "Archives IHE XDM (IHE_XDM/SUBSET01/…) contenant des documents CDA"

    def parse(self, record: Record) -> list[dict[str, Any]]:
        return [document_event(parse_cda(content), record.context) for _, content in xdm_documents(record.content())]


@hookimpl
def forfait_agent_adapters() -> list[Adapter]:
    return [CdaAdapter(), XdmAdapter()]
