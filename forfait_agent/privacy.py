"""Patient privacy: salted hashing on ingestion and redaction of anything NIR-shaped.

The salt is random per installation and never leaves the data directory, so hashes cannot be
matched across cabinets or reversed by brute force over the (small) NIR space.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SALT_FILE = "salt.key"

# NIR / INS: 13 digits (+ 2-digit key), Corsica `2A`/`2B` in place of the department digits,
# with or without the spaces people type. Also any address under patient.mssante.fr (= INS).
_NIR = re.compile(
    r"(?<![0-9A-Za-z])[12378]\s?\d{2}\s?\d{2}\s?(?:\d{2}|2[ABab])\s?\d{3}\s?\d{3}(?:\s?\d{2})?(?![0-9A-Za-z])"
)
_LONG_DIGITS = re.compile(r"(?<!\d)\d{13,15}(?!\d)")
_PATIENT_MAIL = re.compile(r"[^\s<>\"',;:@]+@patient\.mssante\.fr", re.IGNORECASE)
REDACTED = "[masqué]"


def load_or_create_salt(data_dir: Path) -> bytes:
    """Read the installation salt, creating it (mode 0600) on first use."""
    path = data_dir / SALT_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this installation was first: use its salt
            return bytes.fromhex(path.read_text().strip())
        with os.fdopen(fd, "w") as handle:
            handle.write(salt.hex())
        return salt
    return bytes.fromhex(path.read_text().strip())


class Hasher:
    """HMAC-SHA256 with the installation salt, truncated to 128 bits (plenty for dedupe).

    A cabinet sees the same few thousand patients all year: results are memoised in memory
    (bounded), never written anywhere.
    """

    CACHE_SIZE = 50_000

    def __init__(self, salt: bytes) -> None:
        self._key = hmac.new(salt, digestmod=hashlib.sha256)
        self._cache: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        found = self._cache.get(value)
        if found is None:
            mac = self._key.copy()
            mac.update(value.encode("utf-8"))
            found = mac.hexdigest()[:32]
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[value] = found
        return found


_ANY_PATIENT_DATA = re.compile("|".join(f"(?:{p.pattern})" for p in (_NIR, _LONG_DIGITS, _PATIENT_MAIL)), re.IGNORECASE)


def contains_patient_data(text: str) -> bool:
    """True when a text holds something that identifies a patient (NIR, INS, patient MSS address)."""
    return _ANY_PATIENT_DATA.search(text) is not None


def redact(text: str) -> str:
    """Replace every NIR/INS-shaped number and patient MSS address by a fixed marker."""
    text = _PATIENT_MAIL.sub(REDACTED, text)
    text = _NIR.sub(REDACTED, text)
    return _LONG_DIGITS.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def redact_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the last line of defence before anything reaches a log file."""
    return {key: _redact_value(value) for key, value in event_dict.items()}
