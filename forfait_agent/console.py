"""Text that survives every output stream, Windows' included: the one place that decides what a
character becomes when a stream cannot encode it.

Python gives a Windows console UTF-8, but a redirected file or a pipe gets the ANSI code page
(cp1252 on French Windows), a legacy console the OEM one (cp850), and `pythonw` (the scheduled
agent) no stream at all. The characters we print — ✔ ✘ █ ░ │ ≥ → € and the narrow no-break space
of French typography — would raise UnicodeEncodeError there. `setup_streams()` keeps each stream's
own encoding (the one the program reading it expects, so accents stay right) and replaces only
what that encoding lacks, by the closest readable text. JSON is escaped to ASCII: it parses the
same in any code page, which is what a program reading `score --json` through a pipe needs.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

ERRORS = "forfait-agent-fallback"

NBSP = "\u00a0"  # no-break space: in cp1252 and cp850
NNBSP = "\u202f"  # narrow no-break space (French typography before ; : ! ? and in 2 940 €): in neither

# Replacements, best first: the first the stream can encode is used. Characters not listed fall
# back to their compatibility decomposition without accents (… → ..., é → e in ASCII), then "?".
FALLBACKS: dict[str, tuple[str, ...]] = {
    NNBSP: (NBSP, " "),
    NBSP: (" ",),
    "✔": ("OK",),
    "✓": ("OK",),
    "✘": ("X",),
    "✗": ("X",),
    "█": ("#",),
    "▓": ("#",),
    "░": (".",),
    "│": ("|",),
    "┃": ("|",),
    "≥": (">=",),
    "≤": ("<=",),
    "→": ("->",),
    "←": ("<-",),
    "≈": ("~",),
    "—": ("-",),
    "–": ("-",),
    "•": ("*",),
    "€": ("EUR",),
    "’": ("'",),
    "‘": ("'",),
    "“": ('"',),
    "”": ('"',),
    "«": ('"',),
    "»": ('"',),
    "⚠": ("(!)",),
    "×": ("x",),
}


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeError:
        return False
    return True


def _box_drawing(char: str) -> list[str]:
    """Lines of tables and panels (U+2500–U+257F) as ASCII: - | +."""
    if not "\u2500" <= char <= "\u257f":
        return []
    name = unicodedata.name(char, "")
    if any(part in name for part in ("DOWN", "UP", "LEFT", "RIGHT", " AND ")):
        return ["+"]  # corners and junctions
    return ["-"] if "HORIZONTAL" in name else ["|"] if "VERTICAL" in name else ["+"]


def fallback(char: str, encoding: str) -> str:
    """What `char` becomes in a stream of `encoding` that cannot encode it."""
    candidates = list(FALLBACKS.get(char, ())) or _box_drawing(char)
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if decomposed and decomposed != char:
        candidates.append(decomposed)
    candidates += ["\ufffd", "?"]
    if codecs.lookup(encoding).name.startswith("utf"):
        candidates = [c for c in candidates if c.isascii()]  # what a UTF codec accepts from a handler
    return next(c for c in candidates if _encodable(c, encoding))


def errors_for(encoding: str) -> str:
    """The name of the error handler for a stream of `encoding` (registered on first use).

    One handler per encoding: inside a handler the codec's name can be just "charmap".
    """
    name = f"{ERRORS}-{codecs.lookup(encoding).name}"
    try:
        codecs.lookup_error(name)
    except LookupError:

        def handler(exc: UnicodeError) -> tuple[str, int]:
            if not isinstance(exc, UnicodeEncodeError):
                raise exc
            return "".join(fallback(char, encoding) for char in exc.object[exc.start : exc.end]), exc.end

        codecs.register_error(name, handler)
    return name


def printable(text: str, encoding: str) -> str:
    """`text` as a stream of `encoding` shows it."""
    return text.encode(encoding, errors_for(encoding)).decode(encoding)


def setup_streams() -> None:
    """Make stdout/stderr safe for any text; give pythonw's missing streams a sink.

    Called first thing by the CLI. A stream that is None (pythonw, a service, a closed descriptor)
    becomes the null device, so a `print` is lost instead of crashing the agent.
    """
    if sys.stdin is None:
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
        elif hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors_for(stream.encoding or "utf-8"))


def dumps_json(data: Any) -> str:
    """The machine contract's text: ASCII only (non-ASCII as \\u escapes), valid JSON in any code page."""
    return json.dumps(data, ensure_ascii=True, indent=2)


def print_command(console: Console, command: str, indent: str = "  ") -> None:
    """A command to copy, on a line of its own and never wrapped by us: pasted, it runs whole
    (rich would cut it between words, and a terminal runs the first half on its own). Wider than
    the terminal, it is folded by the terminal, which copies it back as one line."""
    from rich.text import Text

    console.print(Text(f"{indent}{command}", style="cyan"), soft_wrap=True)
