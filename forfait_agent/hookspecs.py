"""Every hook forfait-agent calls, each documented. Arguments only ever grow, never change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .adapter import Adapter

PROJECT = "forfait_agent"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def forfait_agent_adapters() -> list[Adapter]:
    """Return the adapters this plugin provides (instances of `forfait_agent.Adapter`).

    Each adapter reads one vendor format. Names must be unique across all plugins.
    """


@hookspec
def forfait_agent_score_changed(score: dict[str, Any]) -> None:
    """Called after new events changed the score; `score` is the `score --json` object.

    Use it to push a notification or write a file; exceptions are logged and ignored.
    """
