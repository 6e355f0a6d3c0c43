"""French for the messages people read that come from Python itself (argparse and OS errors), and
French typography for numbers, amounts and dates."""

from __future__ import annotations

import argparse
import errno
import re
from datetime import date

# argparse's own messages (its gettext msgids, Python 3.11–3.13) → French. argparse looks its `_`
# and `ngettext` up at call time, so replacing them translates usage, help and errors alike.
ARGPARSE = {
    "usage: ": "utilisation : ",
    # Section titles: argparse glues a colon to them; the trailing space gives the French « : ».
    "positional arguments": "arguments ",
    "options": "options ",
    "optional arguments": "options ",
    "show this help message and exit": "afficher cette aide et quitter",
    "show program's version number and exit": "afficher la version et quitter",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "argument %(argument_name)s: %(message)s": "%(argument_name)s : %(message)s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide « %(value)s » (possibles : %(choices)s)",
    "invalid choice: %(value)r, maybe you meant %(closest)r? (choose from %(choices)s)": (
        "choix invalide « %(value)s » (possibles : %(choices)s)"
    ),
    "invalid %(type)s value: %(value)r": "« %(value)s » n'est pas un %(type)s valide",
    "the following arguments are required: %s": "il manque : %s",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "expected one argument": "une valeur est attendue",
    "expected at most one argument": "une valeur au plus est attendue",
    "expected at least one argument": "au moins une valeur est attendue",
    "ambiguous option: %(option)s could match %(matches)s": ("option ambiguë : %(option)s peut désigner %(matches)s"),
    "not allowed with argument %s": "incompatible avec %s",
    "one of the arguments %s is required": "l'une de ces options est obligatoire : %s",
    "ignored explicit argument %r": "valeur « %s » ignorée",
    "unknown parser %(parser_name)r (choices: %(choices)s)": (
        "commande inconnue « %(parser_name)s » (possibles : %(choices)s)"
    ),
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
}


def _gettext(message: str) -> str:
    return ARGPARSE.get(message, message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return _gettext(singular if n == 1 else plural)


def install_argparse() -> None:
    """Make argparse speak French (usage, section titles, help of -h, every error)."""
    argparse._ = _gettext  # type: ignore[attr-defined]
    argparse.ngettext = _ngettext  # type: ignore[attr-defined]


def integer(text: str) -> int:
    return int(text)


def number(text: str) -> float:
    return float(text.replace(",", "."))


# argparse names the expected type by the function's __name__ in « … n'est pas un … valide ».
integer.__name__ = "nombre entier"
number.__name__ = "nombre"

OS_ERRORS = {
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EACCES: "accès refusé (droits insuffisants)",
    errno.EPERM: "opération non permise",
    errno.ENOSPC: "disque plein",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENODEV: "pas un fichier ordinaire (tube nommé ou périphérique)",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EROFS: "support en lecture seule",
    errno.EEXIST: "existe déjà",
    errno.EBUSY: "fichier occupé par un autre programme",
    errno.ENAMETOOLONG: "nom de fichier trop long",
    errno.EIO: "erreur de lecture ou d'écriture du disque",
    errno.ENOTEMPTY: "dossier non vide",
    errno.EDQUOT: "quota de disque dépassé",
}


def os_error(exc: BaseException) -> str:
    """An OSError in French ('fichier ou dossier introuvable'), never the C library's English."""
    code = getattr(exc, "errno", None)
    if code in OS_ERRORS:
        return OS_ERRORS[code]
    if isinstance(exc, OSError) and exc.strerror:
        return f"erreur du système ({exc.strerror})"
    return str(exc)


# Where rich may break a line: ASCII white space only, never a no-break space (« 2 940 € »,
# « 30 % », « 9 695 € » stay whole), nor the space before « : ; ! ? » % € » or after « (French
# typography puts a non-breaking space there; rules files and messages often type an ordinary one).
_BREAK = r"[ \t\n\r\f\v]"
_WORD = re.compile(rf"{_BREAK}*(?:[^ \t\n\r\f\v]|(?<=«) | (?=[:;!?»%€]))+{_BREAK}*")


def install_rich_wrapping() -> None:
    """Make rich wrap French text where French allows a line break.

    rich splits words on `\\s`, which matches the no-break spaces too: « 9 695 € » came out as
    « 9 » on one line and « 695 € » on the next."""
    from rich import _wrap

    _wrap.re_word = _WORD


# French typography: a narrow no-break space groups digits and precedes « € » and « % ». Streams
# that cannot encode it (cp1252, cp850 consoles) get a plain space from the output layer.
NNBSP = "\u202f"


def fmt_int(value: float) -> str:
    """5066 → '5 066' (narrow no-break space between groups of three digits)."""
    return f"{round(value):,}".replace(",", NNBSP)


def fmt_points(value: float) -> str:
    if float(value).is_integer():
        return fmt_int(value)
    return f"{value:,.1f}".replace(",", NNBSP).replace(".", ",")


def points_word(value: float) -> str:
    """French counts below two in the singular: « 0 point », « 1,5 point », « 2 points »."""
    return "point" if abs(value) < 2 else "points"


def fmt_eur(value: float) -> str:
    """2940 → '2 940 €'; cents only when there are some."""
    if float(value).is_integer():
        return f"{fmt_int(value)}{NNBSP}€"
    whole = f"{value:,.2f}".replace(",", NNBSP).replace(".", ",")
    return f"{whole}{NNBSP}€"


def fmt_pct(rate: float | None) -> str:
    if rate is None:
        return "—"
    text = f"{rate * 100:.1f}".replace(".", ",")
    return f"{text.removesuffix(',0')}{NNBSP}%"


def fmt_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")
