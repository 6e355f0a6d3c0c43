"""Structured JSON logs to a rotating file in the data folder, redacted before writing."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import structlog

from .paths import COMMANDS_LOG
from .privacy import redact_processor


class YieldingRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rotation that gives way: on Windows a log file another process holds open cannot be
    renamed; this process then keeps appending and tries again at its next record."""

    def doRollover(self) -> None:
        try:
            super().doRollover()
        except OSError:
            if self.stream is None:
                self.stream = self._open()


def configure_logging(
    home: Path, *, verbose: bool = False, log_file: str = COMMANDS_LOG
) -> structlog.stdlib.BoundLogger:
    """JSON lines to `<home>/logs/<log_file>` (5 × 2 MB); nothing on the console."""
    log_dir = home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = YieldingRotatingFileHandler(log_dir / log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
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
