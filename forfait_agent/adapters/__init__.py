"""Built-in adapters, registered through the same entry-point group as vendor plugins."""

from __future__ import annotations

from ..adapter import Adapter
from ..hookspecs import hookimpl
from .jsonl import JsonlAdapter


@hookimpl
def forfait_agent_adapters() -> list[Adapter]:
    return [JsonlAdapter()]
