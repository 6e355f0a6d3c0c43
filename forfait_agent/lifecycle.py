"""The store's life cycle: integrity at start, a damaged store set aside and rebuilt, a journal of
declarations that survives any rebuild, and backup / restore through SQLite's online backup API.

Everything else the store holds can be rebuilt by reading the watched files again (events are
unique by (kind, id), so a re-read never counts twice); declarations typed with `forfait-agent
declare` exist nowhere else, hence their small append-only journal beside the database.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .store import DB_FILE, MIGRATIONS, DeclarationRow, Store, StoreError, is_busy

INTEGRITY_SECONDS = 10.0  # longest quick_check at start; a bigger store is checked in part
JOURNAL_FILE = "declarations.jsonl"
SIDECARS = ("-wal", "-shm", "-journal")


class StoreDamaged(StoreError):
    """The database file is not a readable SQLite database (French message)."""


def check_integrity(db: sqlite3.Connection, seconds: float = INTEGRITY_SECONDS) -> str | None:
    """SQLite's `quick_check`, stopped after `seconds`: None when nothing wrong was found (or
    time ran out first), else SQLite's complaint."""
    deadline = time.monotonic() + seconds
    db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        rows = db.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):
            return None
        raise
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        db.set_progress_handler(None, 0)
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    return "; ".join(problems)[:300] or None


def is_damage(exc: BaseException) -> bool:
    """A database error that means the file itself is damaged (not locked, not missing)."""
    text = str(exc)
    return isinstance(exc, sqlite3.DatabaseError) and (
        type(exc) is sqlite3.DatabaseError or "malformed" in text or "not a database" in text
    )


def set_aside(path: Path, label: str) -> Path:
    """Rename a database and its sidecar files out of the way, keeping them together."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.{label}-{stamp}{path.suffix}")
    for suffix in ("", *SIDECARS):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


def open_store(
    home: Path,
    *,
    check: bool,
    may_set_aside: Callable[[], bool],
    notice: Callable[[str], None],
) -> Store:
    """Open the store of a data folder. A damaged one (unreadable, or failing `quick_check` when
    `check`) is set aside and a new one started, to be filled again from the watched files;
    the journal's declarations are put back. `may_set_aside` says whether no other process
    uses the store (an agent does not give it up)."""
    path = home / DB_FILE
    try:
        store = Store(home)
    except StoreError as exc:
        if not isinstance(exc.__cause__, sqlite3.DatabaseError) or not is_damage(exc.__cause__):
            raise
        problem = str(exc.__cause__)
    else:
        problem = check_integrity(store.db) if check else None
        if problem is None:
            if store.created:
                replay_declarations(store, home)
            return store
        store.close()
    if not may_set_aside():
        raise StoreDamaged(
            f"{path} : base de données endommagée ({problem}) ; arrêtez l'agent puis relancez-le :"
            " il la mettra de côté et la reconstruira en relisant les fichiers surveillés"
        )
    aside = set_aside(path, "endommagee")
    store = Store(home)
    declarations = replay_declarations(store, home)
    text = (
        f"la base de données était endommagée ({problem}) : elle est mise de côté ({aside.name}) et une"
        " nouvelle est construite en relisant les fichiers surveillés (sans doublon) ;"
        f" {declarations} déclaration(s) reprise(s) du journal {JOURNAL_FILE}."
    )
    with store.transaction():  # `status` says so for as long as this store lives
        store.set_meta(
            "store_rebuilt", json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), "text": text})
        )
    notice(text)
    return store


# -- declarations journal --------------------------------------------------------------------------
def journal_declaration(home: Path, row: DeclarationRow) -> None:
    """Append a declaration to the journal (readable by the user only), flushed to disk."""
    fd = os.open(home / JOURNAL_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(list(row), ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def replay_declarations(store: Store, home: Path) -> int:
    """Put the journal's declarations into the store (those already there are left alone).
    Returns how many the journal holds; a damaged line is skipped."""
    path = home / JOURNAL_FILE
    if not path.exists():
        return 0
    rows: list[DeclarationRow] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rows.append(tuple(json.loads(line)))  # type: ignore[arg-type]
        except ValueError:
            continue
    with store.transaction():
        for row in rows:
            try:
                with store.savepoint():
                    store.insert_declarations([row])
            except (sqlite3.Error, ValueError, TypeError, OverflowError):
                continue
    return len(rows)


# -- backup and restore ----------------------------------------------------------------------------
def backup(store: Store, target: Path) -> None:
    """Copy the store into `target` (one self-contained file, readable by the user only) with
    SQLite's online backup API: a consistent snapshot even while the agent writes."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        copy = sqlite3.connect(tmp, isolation_level=None)
        try:
            _copy(store.db, copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # no -wal file to carry along
            problem = check_integrity(copy, 600)
        finally:
            copy.close()
        if problem:
            raise StoreError(f"copie de la base incohérente ({problem}) : sauvegarde non écrite")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, wait: float = 600.0) -> None:
    """`source.backup(target)`, waiting while a writer holds the lock (rollback-journal mode)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            source.backup(target)
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def restore(home: Path, source: Path) -> tuple[Store, Path | None]:
    """Replace the data folder's store by the backup `source` (checked first). The current store
    is kept aside, never deleted. Returns the new store (open, migrated, declarations of the
    journal put back) and where the previous one went. The caller holds the agent's lock."""
    try:
        backup_db = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{source} : sauvegarde illisible ({exc})") from exc
    path = home / DB_FILE
    tmp = path.with_name(path.name + ".restore")
    tmp.unlink(missing_ok=True)
    try:
        try:
            problem = check_integrity(backup_db, 600)
            version = backup_db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in backup_db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{source} : ce n'est pas une sauvegarde de forfait-agent ({exc})") from exc
        if problem:
            raise StoreError(f"{source} : sauvegarde endommagée ({problem})")
        if not {"events", "files", "declarations"} <= tables:
            raise StoreError(f"{source} : ce n'est pas une sauvegarde de forfait-agent")
        if version > len(MIGRATIONS):
            raise StoreError(f"{source} : sauvegarde faite par une version plus récente de forfait-agent")
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        copy = sqlite3.connect(tmp, isolation_level=None)
        try:
            _copy(backup_db, copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        backup_db.close()
    previous = set_aside(path, "avant-restauration") if path.exists() else None
    os.replace(tmp, path)
    store = Store(home)
    replay_declarations(store, home)
    return store, previous
