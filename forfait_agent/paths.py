"""Where the data folder and the configuration file are: cheap to import (no pydantic)."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PureWindowsPath

APP = "forfait-agent"
ENV_HOME = "FORFAIT_AGENT_HOME"
ENV_CONFIG = "FORFAIT_AGENT_CONFIG"
CONFIG_FILE = "config.toml"
# One log file per kind of process: on Windows a file another process holds open cannot be
# renamed, so the agent and the commands never rotate the same file.
AGENT_LOG = "forfait-agent.log"  # `run` only (one agent per data folder: the lock)
COMMANDS_LOG = "commandes.log"  # every other command


def data_dir(explicit: str | Path | None = None) -> Path:
    """--data-dir, else $FORFAIT_AGENT_HOME, else the per-user data folder of the OS.

    The Microsoft Store's Python silently redirects writes under AppData to a private copy that
    no other program sees (the browser opening the report, a backup): it gets a folder in the
    user's profile instead.
    """
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    if is_store_python():
        return Path.home() / APP
    import platformdirs  # not imported when --data-dir or FORFAIT_AGENT_HOME says where

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def is_store_python(executable: str | None = None) -> bool:
    """The Microsoft Store's Python runs from ...\\WindowsApps\\... (and redirects AppData writes)."""
    parts = {part.lower() for part in PureWindowsPath(executable or sys.executable).parts}
    return "windowsapps" in parts


def config_path(home: Path, explicit: str | Path | None = None) -> Path:
    """--config, else $FORFAIT_AGENT_CONFIG, else `config.toml` in the data folder."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
    return home / CONFIG_FILE
