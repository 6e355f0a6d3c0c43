"""Plugin manager: built-in adapters plus every `forfait_agent` entry point, each loaded alone.

pluggy's own `load_setuptools_entrypoints` stops at the first plugin that fails to import, and a
hook call stops at the first implementation that raises; a cabinet's agent must survive both, so
entry points are loaded one by one and each implementation is called on its own.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pluggy

from . import hookspecs
from .adapter import Adapter, Framing

GROUP = hookspecs.PROJECT
ENV_ALLOW = "FORFAIT_AGENT_PLUGINS"  # comma-separated allow-list of entry-point names
ENV_DENY = "FORFAIT_AGENT_DISABLE_PLUGINS"  # comma-separated deny-list
ENV_TRACE = "FORFAIT_AGENT_TRACE_PLUGINS"  # any value: print every hook call to stderr
VALID_FRAMINGS: tuple[str, ...] = get_args(Framing)


@dataclass
class PluginInfo:
    name: str
    version: str | None
    module: str
    status: str = "ok"  # ok | error | disabled
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "hooks": self.hooks,
            "adapters": self.adapters,
        }


def _names(env: str) -> set[str] | None:
    raw = os.environ.get(env)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _check_adapter(adapter: Any) -> str | None:
    """Why an object returned by a plugin is not a usable adapter, or None."""
    for attr in ("name", "patterns", "framing", "parse"):
        if not hasattr(adapter, attr):
            return f"adapter {adapter!r} has no attribute {attr!r}"
    if adapter.framing not in VALID_FRAMINGS:
        return f"adapter {adapter.name!r}: framing must be one of {', '.join(map(repr, VALID_FRAMINGS))}"
    if not callable(adapter.parse):
        return f"adapter {adapter.name!r}: parse is not callable"
    return None


class Plugins:
    """Loaded plugins and their adapters, with every load error kept for `plugins`."""

    def __init__(
        self,
        *,
        entry_points: bool = True,
        data_dir: Path | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.options = options or {}
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.infos: list[PluginInfo] = []
        self.adapters: dict[str, Adapter] = {}
        self.adapter_owner: dict[str, str] = {}
        if os.environ.get(ENV_TRACE):
            self.pm.trace.root.setwriter(lambda msg: os.write(2, msg.encode()))
            self.pm.enable_tracing()
        from . import adapters as builtin

        self._register(builtin, PluginInfo("builtin", _version("forfait-agent"), builtin.__name__))
        if entry_points:
            self._load_entry_points()
        self._collect_adapters()

    def _register(self, plugin: object, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # noqa: BLE001 - a bad hookimpl signature, a duplicate name…
            info.status, info.error = "error", f"{type(exc).__name__}: {exc}"
        else:
            info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        self.infos.append(info)

    def _load_entry_points(self) -> None:
        allow, deny = _names(ENV_ALLOW), _names(ENV_DENY) or set()
        for ep in sorted(md.entry_points(group=GROUP), key=lambda e: e.name):
            info = PluginInfo(ep.name, ep.dist.version if ep.dist else None, ep.value)
            if ep.name in deny or (allow is not None and ep.name not in allow):
                info.status = "disabled"
                self.infos.append(info)
                continue
            try:
                plugin = ep.load()
            except BaseException as exc:  # noqa: BLE001 - even SystemExit from a plugin's import
                import traceback

                info.status = "error"
                info.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                self.infos.append(info)
                continue
            self._register(plugin, info)

    def _collect_adapters(self) -> None:
        by_name = {i.name: i for i in self.infos}
        for impl in self.pm.hook.forfait_agent_adapters.get_hookimpls():
            info = by_name.get(impl.plugin_name)
            if info is None or info.status != "ok":
                continue
            try:
                available = {"data_dir": self.data_dir, "options": dict(self.options.get(info.name, {}))}
                produced = list(impl.function(**{a: available[a] for a in impl.argnames}) or [])
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the agent
                info.status, info.error = "error", f"forfait_agent_adapters: {type(exc).__name__}: {exc}"
                continue
            for adapter in produced:
                problem = _check_adapter(adapter)
                if problem is None and adapter.name in self.adapters:
                    owner = self.adapter_owner[adapter.name]
                    problem = f"adapter name {adapter.name!r} already provided by plugin {owner!r}"
                if problem:
                    info.status, info.error = "error", problem
                    continue
                self.adapters[adapter.name] = adapter
                self.adapter_owner[adapter.name] = info.name
                info.adapters.append(adapter.name)

    def call_score_changed(self, score: dict[str, Any]) -> list[str]:
        """Call every `forfait_agent_score_changed` implementation alone; return the errors."""
        errors = []
        for impl in self.pm.hook.forfait_agent_score_changed.get_hookimpls():
            try:
                impl.function(score=score)
            except Exception as exc:  # noqa: BLE001 - same: report and go on
                errors.append(f"{impl.plugin_name}: {type(exc).__name__}: {exc}")
        return errors


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None
