"""Every hook forfait-agent calls, each documented. Arguments only ever grow, never change."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .adapter import Adapter

PROJECT = "forfait_agent"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def forfait_agent_adapters(data_dir: Path | None, options: dict[str, Any]) -> list[Adapter]:
    """Return the adapters this plugin provides (instances of `forfait_agent.Adapter`).

    Each adapter reads one vendor format. Names must be unique across all plugins. Both
    arguments are optional to accept (pluggy passes only those a function names):
    `data_dir` is the agent's data folder (e.g. to find user profiles), `options` the
    `[plugins.<entry-point name>]` table of the user's configuration.
    """


@hookspec
def forfait_agent_score_changed(score: dict[str, Any]) -> None:
    """Called after new events changed the score; `score` is the `score --json` object.

    Use it to push a notification or write a file; exceptions are logged and ignored.
    """
