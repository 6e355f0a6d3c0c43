"""forfait-agent: a running score of the forfait structure / dotation numérique for French GPs."""

from .adapter import Adapter, Record, RecordError, SourceContext
from .hookspecs import hookimpl

__all__ = ["Adapter", "Record", "RecordError", "SourceContext", "hookimpl"]
__version__ = "0.1.0"
