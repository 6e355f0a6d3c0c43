"""`forfait-agent status`: one line per followed folder and per kind of quarantined record; the
file-by-file and item-by-item detail only on request. Never a patient datum: names of
per-document files are stored hashed, so they are shown as « document au nom masqué » in their
folder, with the adapter, the date and the reason — and, in the item-by-item list, the size and
modification time of the file still on disk, so that the doctor can find it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .console import print_command
from .filesystem import path_text
from .french import fmt_int
from .reasons import REASONS_FR
from .vocab import PARIS

HASHED_PREFIX = "h-"  # ingest stores per-document file names as h-<salted hash>


def _local(at: str | None, fmt: str = "%d/%m/%Y à %H:%M") -> str:
    if not at:
        return "jamais"
    return datetime.fromisoformat(at).astimezone(PARIS).strftime(fmt)


def _day(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y")


def _size(n: int) -> str:
    if n < 1_000_000:
        return f"{fmt_int(n / 1000)}\u202fko" if n >= 1000 else f"{n}\u202foctets"
    return f"{n / 1_000_000:.1f}".replace(".", ",") + "\u202fMo"


def folder_of(path: str, watched: Iterable[Path]) -> str:
    """The configured folder holding `path` (the deepest one), else the file's own folder."""
    candidates = [str(w) for w in watched if Path(path).is_relative_to(w)]
    return max(candidates, key=len) if candidates else str(Path(path).parent)


def shown_name(source: str) -> str:
    """A file as the doctor may see it: hashed names become « document au nom masqué »."""
    path = Path(source)
    if path.name.startswith(HASHED_PREFIX):
        return f"document au nom masqué dans {path.parent}"
    return source


class DocumentFinder:
    """`shown_name`, and for a hashed name still on disk its size and modification time, so that
    the doctor can find the document in its folder without its name (often a patient's) being
    shown: each folder's names are hashed once with the installation's salt and passed through
    the store's privacy `gate`, as ingest does (a hexadecimal digest may hold a run of digits
    the gate masks: then only the gated path matches what the store holds)."""

    def __init__(self, hasher: Callable[[str], str], gate: Callable[[str], str]) -> None:
        self.hasher = hasher
        self.gate = gate
        self._folders: dict[str, dict[str, os.stat_result]] = {}

    def _hashed(self, folder: str) -> dict[str, os.stat_result]:
        if folder not in self._folders:
            found: dict[str, os.stat_result] = {}
            with suppress(OSError), os.scandir(folder) as entries:  # gone, unreadable, or a name the gate masked
                for entry in entries:
                    if entry.is_file():
                        stored = self.gate(str(Path(folder) / f"{HASHED_PREFIX}{self.hasher(path_text(entry.name))}"))
                        found[stored] = entry.stat()
            self._folders[folder] = found
        return self._folders[folder]

    def __call__(self, source: str) -> str:
        path = Path(source)
        if not path.name.startswith(HASHED_PREFIX):
            return source
        stat = self._hashed(str(path.parent)).get(source)
        if stat is None:
            return shown_name(source)
        modified = datetime.fromtimestamp(stat.st_mtime, PARIS).strftime("%d/%m/%Y à %H:%M")
        return f"document au nom masqué ({_size(stat.st_size)}, modifié le {modified}) dans {path.parent}"


@dataclass
class FolderLine:
    folder: str
    files: int = 0
    read: int = 0
    size: int = 0
    behind: int = 0  # files not read to their end yet
    adapters: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "files": self.files,
            "bytes_read": self.read,
            "bytes": self.size,
            "files_behind": self.behind,
            "adapters": sorted(self.adapters),
        }


def folders(positions: Iterable[Any], watched: Iterable[Path]) -> list[FolderLine]:
    watched = [Path(w).expanduser().resolve() for w in watched]
    lines: dict[str, FolderLine] = {}
    by_parent: dict[str, str] = {}  # an old LGC folder holds thousands of journals: one look-up each
    for pos in positions:
        parent = os.path.dirname(pos.path)
        folder = by_parent.get(parent)
        if folder is None:
            folder = by_parent[parent] = folder_of(pos.path, watched)
        line = lines.get(folder)
        if line is None:
            line = lines[folder] = FolderLine(folder)
        line.files += 1
        line.read += pos.offset
        line.size += pos.size
        line.behind += pos.offset < pos.size
        line.adapters.add(pos.adapter)
    return sorted(lines.values(), key=lambda f: f.folder)


@dataclass
class QuarantineGroup:
    adapter: str
    folder: str
    reason: str
    example: str
    count: int
    first: str
    last: str

    @property
    def reason_text(self) -> str:
        """The reason in words; the example message when it says more (« … : XDM sans CDA »)."""
        generic = REASONS_FR.get(self.reason, self.reason)
        return self.example if self.example.startswith(generic) else f"{generic} : {self.example}"

    def as_json(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "folder": self.folder,
            "reason": self.reason,
            "reason_text": self.reason_text,
            "example": self.example,
            "count": self.count,
            "first_at": self.first,
            "last_at": self.last,
        }


def quarantine_groups(rows: Iterable[tuple[str | None, str, str, str, int, str, str]]) -> list[QuarantineGroup]:
    """Rows (adapter, source, reason, message, count, first at, last at) grouped by adapter,
    folder and reason."""
    groups: dict[tuple[str, str, str], QuarantineGroup] = {}
    for adapter, source, reason, message, count, first, last in rows:
        key = (adapter or "—", str(Path(source).parent), reason)
        group = groups.get(key)
        if group is None:
            groups[key] = QuarantineGroup(*key, message, count, first, last)
        else:
            group.count += count
            group.first, group.last = min(group.first, first), max(group.last, last)
    return sorted(groups.values(), key=lambda g: (-g.count, g.folder, g.reason))


def collect(app: Any) -> dict[str, Any]:
    """Everything `status` knows, JSON-ready."""
    from .app import today
    from .lock import DataDirLock
    from .retention import describe

    store = app.store
    pid = DataDirLock(app.home).holder()
    watched = [f.path for f in app.settings.folders]
    positions = store.positions()
    return {
        "running": pid is not None,
        "pid": pid,
        "watch_modes": json.loads(store.meta("agent_modes") or "{}"),
        "data_dir": str(app.home),
        "events": store.event_count(),
        "unattributed_events": store.unattributed(),
        "last_ingest": store.meta("last_ingest"),
        "folders": [f.as_json() for f in folders(positions, watched)],
        "files": [
            {"path": p.path, "adapter": p.adapter, "offset": p.offset, "size": p.size, "line_no": p.line_no}
            for p in positions
        ],
        "quarantine": [{"reason": r, "example": m, "count": n} for r, m, n in store.quarantine_summary()],
        "quarantine_groups": [g.as_json() for g in quarantine_groups(store.quarantine_by_source())],
        "adapters": [
            {"adapter": a, "failures": f, "last_error": e, "disabled_at": d} for a, f, e, d in store.adapter_statuses()
        ],
        "plugin_errors": [{"plugin": i.name, "error": i.error} for i in app.plugins.infos if i.status == "error"],
        "warnings": app.warnings,
        "store_rebuilt": json.loads(store.meta("store_rebuilt") or "null"),
        "retention": describe(store, today(), app.settings.keep_years),
    }


def _watch_mode(mode: str) -> str:
    """How the agent follows a folder (status --json keeps the agent's own word), in French."""
    if mode.startswith("native"):
        return "notifications du système"
    return {
        "polling": "balayage périodique (partage réseau, ou notifications indisponibles)",
        "absent": "dossier introuvable",
    }.get(mode, mode)


def render(
    data: dict[str, Any],
    console: Console,
    command: str,
    *,
    files: bool = False,
    items: list[tuple[str, int, int | None, str, str | None, str, str]] | None = None,
    name: Callable[[str], str] = shown_name,  # for quarantined items: a DocumentFinder says more
) -> None:
    state = f"en marche (processus {data['pid']})" if data["running"] else "arrêté"
    console.print(f"Agent : {state} — dernière ingestion : {_local(data['last_ingest'], '%d/%m/%Y à %H:%M:%S')}")
    when = "" if data["running"] else " (au dernier démarrage de l'agent)"
    for folder, mode in data["watch_modes"].items():
        console.print(f"  surveillance de {folder} : {_watch_mode(mode)}{when}")
    console.print(f"Dossier des données : {data['data_dir']}")
    for warning in data["warnings"]:
        console.print(Text(f"Attention : {warning}", style="yellow"))
    kept = data["retention"]
    line = (
        f"Détail des événements gardé depuis le {_day(kept['kept_from'])} (année en cours et"
        f" {kept['keep_years']} précédente(s), réglage keep_years)"
    )
    if kept["purged_before"]:
        line += f" ; avant le {_day(kept['purged_before'])}, seulement les comptes par jour (les scores sont inchangés)"
    console.print(line + ".")
    if data["store_rebuilt"]:
        rebuilt = data["store_rebuilt"]
        console.print(Text(f"Base reconstruite le {_local(rebuilt['at'])} : {rebuilt['text']}", style="yellow"))
    console.print(f"Événements enregistrés : {fmt_int(data['events'])}")
    if data["unattributed_events"]:
        console.print(
            f"{fmt_int(data['unattributed_events'])} événement(s) sans médecin identifié (« inconnu ») : "
            "ajoutez la correspondance dans config.toml ([practitioners] ou default_practitioner), "
            f"ou « {command} attribute RPPS --folder DOSSIER ».",
            style="yellow",
        )
    total = len(data["files"])
    hint = "" if files else " — détail fichier par fichier :"
    console.print(Text(f"Dossiers suivis : {len(data['folders'])}, {fmt_int(total)} fichier(s){hint}"))
    if not files:
        print_command(console, f"{command} status --fichiers")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")  # a long path wraps, never cut with « … »
    for f in data["folders"]:
        done = "tout est lu" if not f["files_behind"] else f"{f['files_behind']} fichier(s) en cours de lecture"
        grid.add_row(
            "  •",
            f"{f['folder']} : {fmt_int(f['files'])} fichier(s) ({', '.join(f['adapters'])}), "
            f"{_size(f['bytes_read'])} lus sur {_size(f['bytes'])} — {done}",
        )
    console.print(grid)
    if files:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for f in data["files"]:
            read = "tout lu" if f["offset"] >= f["size"] else f"{_size(f['offset'])} lus"
            grid.add_row("   ", f"{shown_name(f['path'])} ({f['adapter']}) : {_size(f['size'])}, {read}")
        console.print(grid)
    groups = data["quarantine_groups"]
    if groups:
        count = sum(g["count"] for g in groups)
        hint = "" if items is not None else " — un par un :"
        console.print(Text(f"Quarantaine : {fmt_int(count)} enregistrement(s) mis à part, non comptés{hint}"))
        if items is None:
            print_command(console, f"{command} status --quarantaine")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for g in groups:
            when = _local(g["first_at"], "%d/%m/%Y")
            if _local(g["last_at"], "%d/%m/%Y") != when:
                when = f"du {when} au {_local(g['last_at'], '%d/%m/%Y')}"
            else:
                when = f"le {when}"
            grid.add_row(
                "  •",
                f"{fmt_int(g['count'])} × {g['reason_text']} — adaptateur {g['adapter']}, dossier {g['folder']}, "
                f"mis à part {when}",
            )
        console.print(grid)
    if items is not None:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for source, offset, line_no, reason, adapter, at, message in items:
            where = f"ligne {line_no}" if line_no else f"octet {offset}"
            why = REASONS_FR.get(reason, reason)
            why = message if message.startswith(why) else f"{why} : {message}"
            grid.add_row("   ", f"{_local(at)} · {adapter or '—'} · {name(source)}, {where} · {why}")
        console.print(grid)
    for a in data["adapters"]:
        if a["disabled_at"]:
            since = _local(a["disabled_at"])
            state = f"EN PAUSE depuis le {since} (réessayé automatiquement ; ses fichiers attendent)"
        else:
            state = "a rencontré des erreurs"
        line = f"Adaptateur {a['adapter']} {state} ({a['failures']} erreurs) : {a['last_error']}"
        console.print(Text(line, style="red"))
    for p in data["plugin_errors"]:
        console.print(Text(f"Greffon {p['plugin']} en erreur : {p['error']}", style="red"))
