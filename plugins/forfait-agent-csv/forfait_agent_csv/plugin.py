"""Registers one adapter per profile: the examples shipped here, then the user's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forfait_agent import hookimpl

from .adapter import CsvAdapter
from .profile import builtin_profiles_dir, load_profile

USER_FOLDER = "csv-profiles"


def profile_paths(data_dir: Path | None, options: dict[str, Any]) -> list[Path]:
    """Built-in examples (unless `examples = false`), `<data-dir>/csv-profiles/*.toml`, and the
    files listed in `[plugins.csv] profiles = [...]`. A later profile of the same name wins."""
    paths = sorted(builtin_profiles_dir().glob("*.toml")) if options.get("examples", True) else []
    if data_dir is not None:
        paths += sorted((data_dir / USER_FOLDER).glob("*.toml"))
    paths += [Path(p).expanduser() for p in options.get("profiles", [])]
    return paths


@hookimpl
def forfait_agent_adapters(data_dir: Path | None, options: dict[str, Any]) -> list[CsvAdapter]:
    profiles = {}
    for path in profile_paths(data_dir, options):
        profile = load_profile(path)  # an invalid profile is reported by `forfait-agent plugins`
        profiles[profile.name] = profile
    return [CsvAdapter(p) for p in profiles.values()]
