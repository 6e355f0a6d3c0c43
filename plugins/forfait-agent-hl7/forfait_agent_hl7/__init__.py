"""forfait-agent-hl7: CDA documents sent in HL7v2 → `dmp_document` and `mss_message` events."""

from .messages import Transmission, parse_transmission, split_messages
from .plugin import Hl7Adapter

__all__ = ["Hl7Adapter", "Transmission", "parse_transmission", "split_messages"]
