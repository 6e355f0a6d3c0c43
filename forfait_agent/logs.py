"""Structured JSON logs to a rotating file in the data folder, redacted before writing."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import structlog

from .privacy import redact_processor

LOG_FILE = "forfait-agent.log"


def configure_logging(home: Path, *, verbose: bool = False) -> structlog.stdlib.BoundLogger:
    """JSON lines to `<home>/logs/forfait-agent.log` (5 × 2 MB); nothing on the console."""
    log_dir = home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        log_dir / LOG_FILE, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("forfait_agent")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger("forfait_agent")
