"""Where the data folder and the configuration file are: cheap to import (no pydantic)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "forfait-agent"
ENV_HOME = "FORFAIT_AGENT_HOME"
ENV_CONFIG = "FORFAIT_AGENT_CONFIG"
CONFIG_FILE = "config.toml"


def data_dir(explicit: str | Path | None = None) -> Path:
    """--data-dir, else $FORFAIT_AGENT_HOME, else the per-user data folder of the OS."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_path(home: Path, explicit: str | Path | None = None) -> Path:
    """--config, else $FORFAIT_AGENT_CONFIG, else `config.toml` in the data folder."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
    return home / CONFIG_FILE
