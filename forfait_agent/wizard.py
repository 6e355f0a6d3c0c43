"""`forfait-agent init`: the configuration file, from options or from questions in a terminal.

Every answer is checked as soon as it is typed (a folder that does not exist, an RPPS of three
digits) and asked again; end of input (Ctrl-D, Ctrl-Z) abandons cleanly, writing nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Ask = Callable[[str], str]


class Abandoned(Exception):
    """End of input at a question: nothing is written."""


@dataclass
class Answers:
    folders: list[Path] = field(default_factory=list)
    practitioner: str | None = None
    name: str | None = None


def _toml_str(value: object) -> str:
    return json.dumps(str(value), ensure_ascii=False)


def render_config(
    folders: list[Path], adapter: str | None, practitioner: str | None, poll: float, name: str | None = None
) -> str:
    lines = [
        "# Configuration de forfait-agent (format TOML).",
        "# Chaque clé peut aussi être donnée par une variable d'environnement FORFAIT_AGENT_<CLÉ>.",
        "",
        "# RPPS attribué aux enregistrements qui n'en portent pas (cabinet d'un seul médecin).",
        f"default_practitioner = {_toml_str(practitioner)}"
        if practitioner
        else '# default_practitioner = "10101010101"',
        "",
        "# Secondes entre deux balayages des dossiers sur le réseau (scrutés, sans notifications).",
        f"poll_interval = {poll:g}",
        "# Secondes entre deux balayages de sécurité des dossiers locaux : les notifications du système",
        "# réveillent l'agent tout de suite ; ce balayage rattrape celles qui se perdent.",
        "rescan_interval = 60",
        "# Secondes sans changement avant de lire un fichier complet (courriels, documents DMP).",
        "settle_seconds = 2",
        "",
        "# Identité trouvée dans un enregistrement (adresse MSSanté de l'expéditeur, identifiant LGC)",
        "# → RPPS du médecin. Clés en minuscules.",
        "[practitioners]",
        '# "dr.martin@cabinet.mssante.fr" = "10101010101"',
        "",
        "# Nom affiché de chaque médecin dans les écrans et rapports (RPPS → nom ; le RPPS reste à côté).",
        "[names]",
        f"{_toml_str(practitioner)} = {_toml_str(name)}"
        if practitioner and name
        else '# "10101010101" = "Dr A. Martin"',
        "",
    ]
    for folder in folders:
        lines += ["[[folders]]", f"path = {_toml_str(folder.expanduser().resolve())}"]
        lines.append(f"adapter = {_toml_str(adapter)}" if adapter else '# adapter = "jsonl"  # sinon d\'après les noms')
        lines += ["recursive = true", ""]
    if not folders:
        lines += [
            "# Dossiers surveillés par « forfait-agent run » : enlevez les « # » et mettez le vôtre.",
            "# [[folders]]",
            '# path = "C:/LGC/Exports"',
            "",
        ]
    return "\n".join(lines)


def _ask(ask: Ask, prompt: str) -> str:
    try:
        return ask(prompt).strip()
    except EOFError:
        raise Abandoned from None


def ask_folders(ask: Ask, say: Callable[[str], None]) -> list[Path]:
    """Folders one by one, each checked at once; an empty answer ends the list (asked twice
    when the list is still empty: without a folder the agent has nothing to watch)."""
    say("Dossiers où le logiciel médical écrit ses journaux ou exports (laisser vide pour finir) :")
    folders: list[Path] = []
    warned = False
    while True:
        answer = _ask(ask, "  dossier : ").strip('"')
        if not answer:
            if folders or warned:
                return folders
            say(
                "  Sans dossier, « run » n'aura rien à surveiller. Tapez un dossier, "
                "ou laissez vide encore une fois pour continuer sans (à compléter plus tard)."
            )
            warned = True
            continue
        folder = Path(answer).expanduser()
        if not folder.is_dir():
            say(f"  Dossier introuvable : {answer} — vérifiez le chemin (copiez-le depuis l'explorateur de fichiers).")
            continue
        folders.append(folder)


def parse_rpps(text: str) -> str:
    """An RPPS as typed (spaces allowed) → 11 digits, or ValueError with a French message."""
    from .events import normalize_rpps

    value = normalize_rpps("".join(text.split()))
    if not (isinstance(value, str) and len(value) == 11 and value.isdigit()):
        raise ValueError(f"RPPS invalide « {text} » (11 chiffres attendus)")
    return value


def ask_practitioner(ask: Ask, say: Callable[[str], None]) -> str | None:
    say("RPPS du médecin (11 chiffres ; laisser vide si plusieurs médecins) :")
    while True:
        answer = _ask(ask, "  RPPS : ")
        if not answer:
            return None
        try:
            return parse_rpps(answer)
        except ValueError as exc:
            say(f"  {exc} : recommencez.")


def questions(ask: Ask, say: Callable[[str], None], answers: Answers) -> Answers:
    """Ask what the options did not give."""
    if not answers.folders:
        answers.folders = ask_folders(ask, say)
    if not answers.practitioner:
        answers.practitioner = ask_practitioner(ask, say)
    if answers.practitioner and not answers.name:
        say("Nom affiché pour ce médecin, par exemple « Dr A. Martin » (facultatif) :")
        answers.name = _ask(ask, "  nom : ") or None
    return answers
