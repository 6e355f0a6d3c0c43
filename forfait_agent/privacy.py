"""Patient privacy: salted hashing, and the one gate every text passes before it is kept or shown.

Where the gate sits (nothing else needs to remember it):
- **store**: `Store` opens SQLite through `GatedConnection`, which passes every `str` parameter
  of every statement through `Gate` — whatever the table or column, including columns added
  later. Write SQL with `?` parameters only (never format values into the SQL text): that is
  what the gate sees. A NIR is replaced by `[masqué:<salted hash>]`, so a value that holds one
  stays a stable, distinct key (an event id, a file path) and look-ups with the same clear value
  find it; the gate is idempotent (its output holds no digit).
- **logs**: `redact_processor` (structlog) masks every field.
- **terminal**: `cli.main` wraps stdout/stderr in `RedactingStream`; `redact` masks with `[masqué]`.

What counts as a NIR/INS (the choice, documented because a scanner must decide):
- a *numeric token*: a digit followed by digits or the Corsican `A`/`B` (right after a `2`), with
  at most one separator (space, tab, no-break and thin spaces, `.`, `-` and the typographic
  dashes a word processor puts instead, `_`) between two of them, so `2 79 03 51 215 189 89`,
  `2.79.03.2A.215.189.89`, `2–79–…` and `279035121518989001` are tokens. Not separators: `,`
  and `/`, nor two in a row — numbers listed in JSON (`[261, 0.05, …]`), written as ratios
  (`154/796`) or aligned in columns would otherwise run into one token and be masked;
- the token holds a NIR when 13 consecutive characters of it have the NIR structure: sex 1–4,
  7 or 8; year 00–99; month 01–12, 20–42 or 50–99 (INSEE's fictitious months); department
  01–99, 2A or 2B; commune 001–999; order 001–999 — either inside one run of digits (a NIR glued
  to more digits in an id), or from the start of a run when every separator among the 13 falls
  between two NIR groups (1|2|2|2|3|3, then the key), or when every one of the 13 characters
  stands apart (`2 7 9 0 3 …`, one digit per box of a form). So `123456789 10101010101` (an FSE
  number, a space, an RPPS) is two numbers, not a NIR. The key is **not** required to be right: a NIR
  with a mistyped key, without key, or glued to more digits is still a NIR. The whole token is
  masked (the key and any glued digits go with it). A decimal number (digits, one dot, digits:
  `1.0526315789473684` in `score --json`) holds a NIR only in its integer part;
- any address under `patient.mssante.fr`: its local part is the patient's INS, whatever it looks like.
Not NIRs: an RPPS (11 digits) or `8`+RPPS (12), FSE and invoice numbers (9), dates and times
(`2026-03-02T10:00:00` — the `T` and `:` end tokens), amounts. Accepted false positives: other
numbers of 13+ digits that happen to have the structure (a SIRET, `20261124051739`, an IBAN);
in a key they are hashed, still unique and stable, so nothing is lost; in text they are masked.

Cost: every pattern here runs in linear time on untrusted text — possessive quantifiers (no
backtracking) and fixed-width windows; the patient-address local part is found by walking back
from each `@patient.mssante.fr` no further than the previous one.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import io
import itertools
import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

SALT_FILE = "salt.key"
REDACTED = "[masqué]"
MIN_NIR = 13  # characters: nothing shorter can hold a NIR or a patient address

# Typographic dashes and spaces: what a word processor or a spreadsheet writes for `-` and ` `.
_WIDE = "\u00a0\u202f\u2009\u2007\u2010\u2011\u2012\u2013\u2014\u2212"
_SEPARATOR = rf"[ \t{_WIDE}._\-]"
# A numeric token: possessive quantifiers, so the scan never backtracks (linear time).
# `A`/`B` only right after a `2` (Corsica; or a `2` and a separator: one character per box of a
# form), so that hexadecimal (a hash) is not one long token.
_TOKEN_CHAR = rf"(?:[0-9]|(?<=2)[AaBb]|(?<=2{_SEPARATOR})[AaBb])"
_TOKEN = re.compile(rf"[0-9](?:{_SEPARATOR}?+{_TOKEN_CHAR})*+")
# Quick rejection of the (vast) majority of strings, in C: the text mapped to digits, `A`/`B`,
# `s` (a separator) and `x` (anything else), then the NIR structure with a separator allowed
# between groups: a necessary condition of `_token_has_nir`.
_PROBE = bytes(
    c if chr(c) in "0123456789AB" else c - 32 if chr(c) in "ab" else ord("s") if chr(c) in " \t._-" else ord("x")
    for c in range(256)
)
_WIDE_SEPARATORS = tuple(sep.encode() for sep in _WIDE)
_SEPARATORS = re.compile(_SEPARATOR)
_NIR = (
    r"[1-478][0-9]{2}"  # sex, year
    r"(?:0[1-9]|1[0-2]|[23][0-9]|4[0-2]|[5-9][0-9])"  # month, or INSEE's fictitious months
    r"(?:0[1-9]|[1-9][0-9]|2[AB])"  # department (Corsica 2A/2B)
    r"(?!000)[0-9]{3}(?!000)[0-9]{3}"  # commune, order
)
_NIR_BODY = re.compile(_NIR)
_PROBE_BODY = re.compile(  # a separator between groups, or one between every two characters (boxes)
    rb"[1-478]s?[0-9]{2}s?(?:0[1-9]|1[0-2]|[23][0-9]|4[0-2]|[5-9][0-9])s?(?:0[1-9]|[1-9][0-9]|2[AB])s?[0-9]{3}s?[0-9]{3}"
    rb"|[1-478](?:s[0-9]){2}s(?:0s[1-9]|1s[0-2]|[23]s[0-9]|4s[0-2]|[5-9]s[0-9])s(?:0s[1-9]|[1-9]s[0-9]|2s[AB])(?:s[0-9]){6}"
)
_NIR_GROUP_ENDS = frozenset({1, 3, 5, 7, 10})  # sex | year | month | department | commune | order
_EVERY_CHARACTER = list(range(1, MIN_NIR))  # one digit per box
_PATIENT_DOMAIN = re.compile(r"@patient\.mssante\.fr", re.IGNORECASE)
_LOCAL_PART_END = frozenset(" \t\r\n<>\"'(),;:[]@\\")


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


_LETTERS = str.maketrans("0123456789abcdef", "bcdfghjklmnpqrst")


class Hasher:
    """HMAC-SHA256 with the installation salt, truncated to 128 bits (plenty for dedupe).

    The salt is random per installation and never leaves the data directory, so hashes cannot be
    matched across cabinets or reversed by brute force over the (small) NIR space. A cabinet sees
    the same few thousand patients all year: results are memoised in memory (bounded), never
    written anywhere.
    """

    CACHE_SIZE = 50_000

    def __init__(self, salt: bytes) -> None:
        self._key = hmac.new(salt, digestmod=hashlib.sha256)
        self._cache: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        found = self._cache.get(value)
        if found is None:
            mac = self._key.copy()
            mac.update(value.encode("utf-8", "surrogatepass"))
            found = mac.hexdigest()[:32]
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[value] = found
        return found


def _token_has_nir(token: str) -> bool:
    """Whether a numeric token holds a NIR: 13 characters with the NIR structure where every
    separator among them falls between two of the NIR's groups (`2 79 03 51 215 189 89`), and,
    when they start inside a run of digits, none or at least two do — so that numbers merely
    written one after the other (`123456789 10101010101`) are not read as one."""
    groups = _SEPARATORS.split(token.upper())
    if len(groups) == 2 and token[len(groups[0])] == "." and (groups[0] + groups[1]).isdigit():
        groups = groups[:1]  # a decimal number (a rate in JSON): a NIR only in its integer part
    compact = "".join(groups)
    match = _NIR_BODY.search(compact)
    if match is None or len(groups) == 1:
        return match is not None
    cuts_at = list(itertools.accumulate(len(group) for group in groups[:-1]))
    run_starts = set(cuts_at)
    while match is not None:
        start = match.start()
        cuts, index = [], bisect.bisect_right(cuts_at, start)  # separators among the 13: at most 12
        while index < len(cuts_at) and cuts_at[index] < start + MIN_NIR:
            cuts.append(cuts_at[index] - start)
            index += 1
        run_start = start == 0 or start in run_starts
        if (_NIR_GROUP_ENDS.issuperset(cuts) and (run_start or len(cuts) != 1)) or cuts == _EVERY_CHARACTER:
            return True
        match = _NIR_BODY.search(compact, start + 1)
    return False


def _spans(text: str) -> list[tuple[int, int]]:
    """Where `text` holds patient identifiers, as sorted, non-overlapping (start, end) pairs."""
    found: list[tuple[int, int]] = []
    floor = 0
    for match in _PATIENT_DOMAIN.finditer(text):
        start = match.start()
        while start > floor and text[start - 1] not in _LOCAL_PART_END:
            start -= 1
        if start < match.start():
            found.append((start, match.start()))
        floor = match.end()
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        if end - start >= MIN_NIR and _token_has_nir(match.group()):
            found.append((start, end))
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _probe(text: str) -> bool:
    probe = text.encode("utf-8", "surrogatepass")
    for wide in _WIDE_SEPARATORS:
        if wide in probe:
            probe = probe.replace(wide, b" ")
    return _PROBE_BODY.search(probe.translate(_PROBE)) is not None


def _maybe(text: str) -> bool:
    """A cheap necessary condition for `_spans` to find something."""
    if len(text) < MIN_NIR:
        return False
    return ("@" in text and _PATIENT_DOMAIN.search(text) is not None) or _probe(text)


def _rows_with_patient_data(rows: Sequence[Sequence[Any]]) -> set[int]:
    """Indices of the rows a `str` value of which holds patient data, found by one scan of all
    their values joined by newlines (no token or address crosses a newline, so the spans found
    are exactly those of each value): a batch of event ids that merely look like digits costs
    one pass, not one per row."""
    texts: list[str] = []
    owners: list[int] = []
    for index, row in enumerate(rows):
        for value in row:
            if value.__class__ is str and len(value) >= MIN_NIR:
                texts.append(value)
                owners.append(index)
    if not texts:
        return set()
    joined = "\n".join(texts)
    if not (("@" in joined and _PATIENT_DOMAIN.search(joined) is not None) or _probe(joined)):
        return set()
    starts = list(itertools.accumulate((len(text) + 1 for text in texts[:-1]), initial=0))
    return {owners[bisect.bisect_right(starts, start) - 1] for start, _ in _spans(joined)}


def _replace(text: str, replacement: Callable[[str], str]) -> str:
    if not _maybe(text):
        return text
    spans = _spans(text)
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], replacement(text[start:end])]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def contains_patient_data(text: str) -> bool:
    """True when a text holds something that identifies a patient (NIR, INS, patient MSS address)."""
    return _maybe(text) and bool(_spans(text))


def redact(text: str) -> str:
    """For people (terminal, logs, messages): every NIR/INS and patient MSS address becomes `[masqué]`."""
    return _replace(text, lambda _span: REDACTED)


class Gate:
    """For the store: every NIR/INS or patient address in a text becomes `[masqué:<salted hash>]`.

    Deterministic per installation and injective in practice (80 bits), so ids and paths that
    hold a NIR remain stable, distinct keys; idempotent (the hash is written in consonants, so the
    output holds nothing NIR-shaped), so a value read from the store and written back is unchanged.
    """

    def __init__(self, hasher: Hasher) -> None:
        self._hasher = hasher

    def _token(self, span: str) -> str:
        return f"[masqué:{self._hasher(span)[:20].translate(_LETTERS)}]"

    def __call__(self, text: str) -> str:
        return _replace(text, self._token)


class Verbatim(str):
    """Text the gate lets through as it is: what the program itself computed and that merely
    looks like digits (a 64-bit inode number kept as text). Never wrap data read from a file."""

    __slots__ = ()


class GatedConnection(sqlite3.Connection):
    """A SQLite connection whose statements never receive a NIR: every `str` parameter of
    `execute`/`executemany` (but a `Verbatim`) passes through `gate` first (set it right after
    `connect`)."""

    gate: Callable[[str], str]

    def _clean(self, params: Any) -> Any:
        if isinstance(params, Mapping):
            return {k: self.gate(v) if v.__class__ is str else v for k, v in params.items()}
        # Most rows hold nothing NIR-shaped: one scan of the whole row, no value rewritten.
        if not _rows_with_patient_data((params,)):
            return params
        return [self.gate(v) if v.__class__ is str else v for v in params]

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, self._clean(parameters) if parameters else parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        rows = parameters if isinstance(parameters, list) else list(parameters)
        if not rows or isinstance(rows[0], Mapping):
            return super().executemany(sql, [self._clean(row) for row in rows])
        dirty = _rows_with_patient_data(rows)  # a whole batch of events: one scan
        if not dirty:
            return super().executemany(sql, rows)
        return super().executemany(sql, [self._clean(row) if i in dirty else row for i, row in enumerate(rows)])


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))  # a Path, an exception…: as it would be rendered


def redact_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the last step before anything reaches a log file."""
    return {key: _redact_value(value) for key, value in event_dict.items()}


class RedactingStream(io.TextIOBase):
    """A text stream that masks patient identifiers in everything written through it.

    Text is held until a line ends (or `flush`), so a NIR written in several pieces is still
    seen whole; a line is never held beyond `HOLD` characters."""

    HOLD = 1 << 16

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self._pending: list[str] = []
        self._held = 0

    def write(self, text: str) -> int:
        self._pending.append(text)
        self._held += len(text)
        if self._held >= self.HOLD:
            self._emit("".join(self._pending))
        elif "\n" in text or "\r" in text:
            held = "".join(self._pending)
            cut = max(held.rfind("\n"), held.rfind("\r")) + 1
            self._emit(held[:cut], held[cut:])
        return len(text)

    def _emit(self, ready: str, rest: str = "") -> None:
        self._inner.write(redact(ready))
        self._pending, self._held = ([rest], len(rest)) if rest else ([], 0)

    def flush(self) -> None:
        if self._pending:
            self._emit("".join(self._pending))
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._inner, "errors", None)

    def writable(self) -> bool:
        return True
