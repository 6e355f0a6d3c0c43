"""forfait-agent-mssante: sent MSSanté messages → one `mss_message` event per recipient."""

from .messages import Message, parse_message
from .plugin import EmlAdapter, MaildirAdapter, MboxAdapter

__all__ = ["EmlAdapter", "MaildirAdapter", "MboxAdapter", "Message", "parse_message"]
