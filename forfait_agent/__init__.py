"""forfait-agent: a running score of the forfait structure / dotation numérique for French GPs.

The names plugin authors use are importable from here; they load on first use so that
`forfait-agent --help` and `score` start fast on an old cabinet PC.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Adapter", "Record", "RecordError", "SourceContext", "hookimpl"]

_LAZY = {
    "Adapter": "forfait_agent.adapter",
    "Record": "forfait_agent.adapter",
    "RecordError": "forfait_agent.adapter",
    "SourceContext": "forfait_agent.adapter",
    "hookimpl": "forfait_agent.hookspecs",
}

if TYPE_CHECKING:
    from .adapter import Adapter, Record, RecordError, SourceContext
    from .hookspecs import hookimpl


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'forfait_agent' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
