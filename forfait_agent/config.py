"""Where state lives and what the user configured (TOML file + FORFAIT_AGENT_* environment)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .adapter import SourceContext
from .events import Rpps, french_message


class WatchedFolder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path
    adapter: str | None = None
    practitioner: Rpps | None = None
    recursive: bool = True


class Settings(BaseSettings):
    """The user's configuration. Every field can also come from FORFAIT_AGENT_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="FORFAIT_AGENT_", extra="forbid")

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def context(self, folder: WatchedFolder | None = None, practitioner: str | None = None) -> SourceContext:
        """Attribution settings for records from `folder` (a one-shot `--practitioner` wins)."""
        default = practitioner or (folder.practitioner if folder else None) or self.default_practitioner
        return SourceContext(
            default_practitioner=default,
            identities={k.strip().lower(): v for k, v in self.practitioners.items()},
        )


class ConfigError(Exception):
    """The configuration file (or a FORFAIT_AGENT_* variable) is invalid; the message says where."""


def load_settings(path: Path) -> Settings:
    """Read the TOML file if it exists; FORFAIT_AGENT_* environment variables override it."""
    try:
        if not path.is_file():
            return Settings()

        class FileSettings(Settings):
            model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

        return FileSettings()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} : TOML invalide ({exc})") from exc
    except ValidationError as exc:
        lines = [f"{path} : configuration invalide"]
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
            lines.append(f"  - {key or '(racine)'} : {french_message(err)}")
        raise ConfigError("\n".join(lines)) from exc
