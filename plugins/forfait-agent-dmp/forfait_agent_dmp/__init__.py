"""forfait-agent-dmp: CDA R2 documents and XDM archives of the DMP outbox → `dmp_document`."""

from .cda import CdaFacts, parse_cda
from .plugin import CdaAdapter, XdmAdapter
from .xdm import xdm_documents

__all__ = ["CdaAdapter", "CdaFacts", "XdmAdapter", "parse_cda", "xdm_documents"]
