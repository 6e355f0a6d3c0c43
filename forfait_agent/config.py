"""Where state lives and what the user configured (TOML file + FORFAIT_AGENT_* environment)."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .vocab import Rpps, french_message, normalize_rpps

if TYPE_CHECKING:
    from .adapter import SourceContext
    from .cache import Cache


class WatchedFolder(BaseModel):
    # Validators built on first use: a command whose settings are cached never builds them.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    path: Path
    adapter: str | None = None
    practitioner: Rpps | None = None
    recursive: bool = True


ENV_PREFIX = "FORFAIT_AGENT_"


class Settings(BaseModel):
    """The user's configuration. Every field can also come from FORFAIT_AGENT_<NAME>."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    default_practitioner: Rpps | None = None
    # Identity found in a record (MSS sender address, LGC login…) → RPPS, lower-case keys.
    practitioners: dict[str, Rpps] = Field(default_factory=dict)
    # RPPS → the name shown on screens and reports ("Dr A. Martin"); the RPPS stays beside it.
    names: dict[Rpps, Annotated[str, Field(min_length=1, max_length=80)]] = Field(default_factory=dict)
    folders: list[WatchedFolder] = Field(default_factory=list)
    # Per-plugin options, `[plugins.<entry-point name>]`, passed to its adapters hook.
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    poll_interval: Annotated[float, Field(gt=0.05, le=3600)] = 5.0  # sweep of polled folders
    rescan_interval: Annotated[float, Field(gt=0.05, le=86400)] = 60.0  # safety sweep of watched ones
    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = 2.0
    # How long `scan` waits for a database another program keeps locked before giving up (the
    # agent itself waits as long as it takes).
    scan_lock_wait: Annotated[float, Field(ge=0, le=86400)] = 600.0
    # Closed years whose events are kept in detail besides the current one (a dispute with the
    # CPAM needs the three before); older events are purged down to their per-day counts.
    keep_years: Annotated[int, Field(ge=0, le=100)] = 3

    def context(self, folder: WatchedFolder | None = None, practitioner: str | None = None) -> SourceContext:
        """Attribution settings for records from `folder` (a one-shot `--practitioner` wins)."""
        from .adapter import SourceContext

        default = practitioner or (folder.practitioner if folder else None) or self.default_practitioner
        return SourceContext(
            default_practitioner=default,
            identities={k.strip().lower(): v for k, v in self.practitioners.items()},
        )


class ConfigError(Exception):
    """The configuration file (or a FORFAIT_AGENT_* variable) is invalid; the message says where."""


def environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """FORFAIT_AGENT_<FIELD> variables (any case), as pydantic-settings reads them: a table or a
    list is written in JSON, anything else as plain text that validation converts. Other
    FORFAIT_AGENT_* variables (HOME, CONFIG, TODAY, PLUGINS…) are not configuration keys."""
    found: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        field = Settings.model_fields.get(key)
        if field is None:
            continue
        if get_origin(field.annotation) in (dict, list):
            try:
                found[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"variable {name} : JSON invalide ({exc.msg})") from None
        else:
            found[key] = value
    return found


def load_settings(path: Path, environ: Mapping[str, str] | None = None, cache: Cache | None = None) -> Settings:
    """Read the TOML file if it exists; FORFAIT_AGENT_* environment variables override it.
    With a `cache`, settings validated before from the same file and variables are not
    validated again (see cache.py).

    Plain tomllib and pydantic: pydantic-settings did the same, but importing it cost 145 ms of
    the 250 ms a cold `score` may take."""
    try:
        data = path.read_bytes() if path.is_file() else None
        values: dict[str, Any] = {} if data is None else tomllib.loads(data.decode())
        overrides = environment_overrides(os.environ if environ is None else environ)
        values.update(overrides)
        key = None if cache is None else _cache_key(path, data, overrides)
        if cache is not None and key is not None:
            cached = cache.get(SETTINGS_ENTRY, key, (Settings, WatchedFolder))
            if isinstance(cached, Settings):
                return _with_private(cached, values)
        settings = Settings.model_validate(values)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} : TOML invalide ({exc})") from exc
    except ValidationError as exc:
        lines = [f"{path} : configuration invalide"]
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
            lines.append(f"  - {loc or '(racine)'} : {french_message(err)}")
        raise ConfigError("\n".join(lines)) from exc
    if cache is not None and key is not None:
        cache.put(SETTINGS_ENTRY, key, _without_private(settings))
    return settings


SETTINGS_ENTRY = "settings.pickle"


def _private(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields never copied into the cache, as validation makes them from `values` known to
    validate: identities (mail addresses, logins) and plugin options (a token) stay where the
    user put them, maybe outside the data folder; a cached entry gets them back from there."""
    return {
        "practitioners": {key: normalize_rpps(rpps) for key, rpps in values.get("practitioners", {}).items()},
        "plugins": {name: dict(options) for name, options in values.get("plugins", {}).items()},
    }


def _without_private(settings: Settings) -> Settings:
    kept = settings.model_copy()
    kept.__dict__.update(_private({}))  # emptied; which fields were set is unchanged
    return kept


def _with_private(cached: Settings, values: Mapping[str, Any]) -> Settings:
    settings = cached.model_copy()
    settings.__dict__.update(_private(values))
    return settings


def _cache_key(path: Path, data: bytes | None, overrides: Mapping[str, Any]) -> tuple[object, ...] | None:
    """What validated settings depend on: the file (or its absence), the variables that
    override it, this module and the RPPS check (vocab); None when that cannot be known."""
    from . import vocab
    from .cache import code_key, file_key

    code = code_key([sys.modules[__name__], vocab])
    try:
        source = ("absent", str(path)) if data is None else file_key(path, data)
    except OSError:
        return None
    return None if code is None else (code, source, json.dumps(overrides, sort_keys=True))
