"""The store's life cycle, through the real CLI: a damaged store is set aside and rebuilt from the
watched files with the declarations kept; backup while the agent writes; restore only with the
agent stopped, and nothing lost that the files or the declarations journal can bring back."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forfait_agent.lifecycle import JOURNAL_FILE
from forfait_agent.lock import DataDirLock
from forfait_agent.store import DB_FILE

from .conftest import RPPS_A, cli, ev

pytestmark = pytest.mark.skipif(os.name != "posix", reason="stops the agent with SIGTERM")


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def query(db_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path, timeout=5) as db:
        try:
            return db.execute(sql).fetchall()
        except sqlite3.DatabaseError:
            return []


def events(home: Path) -> int:
    rows = query(home / DB_FILE, "SELECT COUNT(*) FROM events")
    return rows[0][0] if rows else 0


def declarations(home: Path) -> list[tuple]:
    return query(home / DB_FILE, "SELECT practitioner, year, indicator, value FROM declarations")


def append(path: Path, start: int, n: int) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for i in range(start, start + n):
            handle.write(json.dumps(ev("consultation", f"c{i}", practitioner=RPPS_A)) + "\n")


def starts(home: Path) -> int:
    return sum(p.read_text(encoding="utf-8").count('"agent_start"') for p in (home / "logs").glob("*.log*"))


def start_agent(home: Path) -> subprocess.Popen:
    """An agent, once it has installed its signal handlers (it logs `agent_start` after)."""
    before = starts(home) if (home / "logs").exists() else 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert wait_for(lambda: starts(home) > before or proc.poll() is not None)
    return proc


def stop_agent(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


@pytest.fixture
def cabinet(home: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    cli(home, "init", "--folder", str(folder), "--poll-interval", "0.2", "--practitioner", RPPS_A)
    return folder


def test_damaged_store_is_set_aside_and_rebuilt_from_the_watched_files(home: Path, cabinet: Path):
    append(cabinet / "journal.jsonl", 0, 40)
    cli(home, "scan", str(cabinet))
    cli(home, "declare", "equipement", "oui", "--year", "2026")
    assert events(home) == 40 and len(declarations(home)) == 1
    journal = home / JOURNAL_FILE
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    db = home / DB_FILE
    data = bytearray(db.read_bytes())
    page = 4096
    data[2 * page : len(data) - page] = b"\xa5" * (len(data) - 3 * page)  # pages gone, header intact
    db.write_bytes(bytes(data))
    agent = start_agent(home)
    try:
        assert wait_for(lambda: events(home) == 40), agent.stderr
        assert declarations(home) == [(RPPS_A, 2026, "equipement", 1.0)]
    finally:
        err = stop_agent(agent)
    assert "endommagée" in err and "relisant les fichiers surveillés" in err
    assert len(list(home.glob("forfait-agent.endommagee-*.sqlite3"))) == 1
    assert "endommagée" in cli(home, "status").stdout


def test_unreadable_store_is_rebuilt_by_any_command_but_never_taken_from_a_running_agent(home: Path, cabinet: Path):
    append(cabinet / "journal.jsonl", 0, 5)
    cli(home, "scan", str(cabinet))
    cli(home, "declare", "equipement", "non", "--year", "2026")
    (home / DB_FILE).write_bytes(os.urandom(8192))  # not a database at all
    lock = DataDirLock(home)
    lock.acquire()  # an agent holds the data folder
    try:
        proc = cli(home, "score", "--json", "--year", "2026", check=False)
        assert proc.returncode == 2 and "arrêtez l'agent" in proc.stderr
        assert not list(home.glob("forfait-agent.endommagee-*"))
    finally:
        lock.release()
    proc = cli(home, "score", "--json", "--year", "2026", "--as-of", "2026-12-31")
    assert "endommagée" in proc.stderr
    assert declarations(home) == [(RPPS_A, 2026, "equipement", 0.0)]
    cli(home, "scan", str(cabinet))
    assert events(home) == 5


def test_backup_while_the_agent_writes_and_restore_only_when_it_is_stopped(home: Path, cabinet: Path, tmp_path: Path):
    journal = cabinet / "journal.jsonl"
    append(journal, 0, 2000)
    agent = start_agent(home)
    backup = tmp_path / "sauvegarde.sqlite3"
    try:
        assert wait_for(lambda: events(home) == 2000)
        append(journal, 2000, 3000)  # the agent is writing while the backup is taken
        assert wait_for(lambda: events(home) > 2000)
        out = cli(home, "backup", str(backup)).stdout
        assert "Sauvegarde écrite" in out
        refused = cli(home, "restore", str(backup), check=False)
        assert refused.returncode == 1 and "arrêtez-le" in refused.stderr
        assert wait_for(lambda: events(home) == 5000)
    finally:
        stop_agent(agent)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert not Path(f"{backup}-wal").exists()
    assert query(backup, "PRAGMA quick_check") == [("ok",)]
    saved = query(backup, "SELECT COUNT(*) FROM events")[0][0]
    assert 2000 <= saved <= 5000
    cli(home, "declare", "equipement", "oui", "--year", "2026")  # after the backup: in the journal only
    out = cli(home, "restore", str(backup)).stdout
    assert f"{saved} événements" in out
    assert events(home) == saved
    assert declarations(home) == [(RPPS_A, 2026, "equipement", 1.0)]
    assert len(list(home.glob("forfait-agent.avant-restauration-*.sqlite3"))) == 1
    # Positions and events of the snapshot agree: what the files got since is read, once.
    agent = start_agent(home)
    try:
        assert wait_for(lambda: events(home) == 5000)
    finally:
        stop_agent(agent)
    assert query(home / DB_FILE, "SELECT COUNT(DISTINCT id) FROM events") == [(5000,)]


def test_backup_refuses_to_overwrite_and_restore_refuses_what_is_not_a_backup(home: Path, tmp_path: Path):
    cli(home, "status")
    existing = tmp_path / "b.sqlite3"
    existing.write_bytes(b"keep me")
    proc = cli(home, "backup", str(existing), check=False)
    assert proc.returncode == 1 and "existe déjà" in proc.stderr
    assert existing.read_bytes() == b"keep me"
    proc = cli(home, "restore", str(existing), check=False)
    assert proc.returncode == 2 and "sauvegarde" in proc.stderr
    assert query(home / DB_FILE, "PRAGMA quick_check") == [("ok",)]


def test_a_read_only_command_on_a_damaged_store_says_what_will_repair_it(home: Path, cabinet: Path):
    """`status` and `score` do not check the whole file (run and scan do); when they meet a damaged
    page they say in French that the store is damaged and that scan or the agent rebuild it."""
    append(cabinet / "journal.jsonl", 0, 40)
    cli(home, "scan", str(cabinet))
    db = home / DB_FILE
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'counts'").fetchone()[0]
        page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    data = bytearray(db.read_bytes())
    data[(root - 1) * page : root * page] = b"\xa5" * page  # the per-day counts' page only
    db.write_bytes(bytes(data))
    for command in (["status"], ["score", "--year", "2026", "--as-of", "2026-12-31"]):
        proc = cli(home, *command, check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "base de données endommagée" in proc.stderr and "reconstruiront" in proc.stderr, proc.stderr
        assert "erreur d'accès aux fichiers" not in proc.stderr
    cli(home, "scan", str(cabinet))
    assert events(home) == 40
