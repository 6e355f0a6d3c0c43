"""forfait-agent plugin for example exports: registers its adapter with the agent.

The entry point `[project.entry-points.forfait_agent]` of pyproject.toml names this module;
the agent calls `forfait_agent_adapters()` once at start.
"""

from __future__ import annotations

from forfait_agent import Adapter, hookimpl

from .adapter import ExampleAdapter

__all__ = ["ExampleAdapter"]


@hookimpl
def forfait_agent_adapters() -> list[Adapter]:
    return [ExampleAdapter()]
