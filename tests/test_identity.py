"""File identity v2: a file is known by its first bytes *and* the bytes just before the offset;
unterminated and over-long lines are never half-counted; file ids of any width are stored."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import sqlite3
from pathlib import Path

import pytest

from forfait_agent import sources
from forfait_agent.app import App
from forfait_agent.store import DB_FILE, MIGRATIONS, FilePosition, Store

from .conftest import cli
from .test_tailer import append, line, stored_ids, sweep

PAD = "x" * 1100  # a first line longer than the 1 KiB head fingerprint


def head_line() -> str:
    return json.dumps(
        {"kind": "fsp", "id": "head", "at": "2026-03-02T10:00", "practitioner": "10101010101", "pad": PAD}
    )


def test_rewrite_keeping_the_first_kib_but_changing_what_was_read_is_read_again(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, head_line() + "\n" + line("a") + line("b"))
    sweep(tailer)
    # Same first KiB, same length or longer, other records before the old offset: an export
    # rewritten in place (not appended to) must not be resumed in the middle.
    path.write_text(head_line() + "\n" + line("c") + line("d") + line("e"), encoding="utf-8")
    sweep(tailer)
    assert stored_ids(app) == ["a", "b", "c", "d", "e", "head"]


def test_re_export_by_atomic_rename_with_a_record_inserted_mid_file(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, head_line() + "\n" + line("a") + line("b"))
    sweep(tailer)
    tmp = folder / ".j.tmp"
    tmp.write_text(head_line() + "\n" + line("a") + line("inserted") + line("b") + line("c"), encoding="utf-8")
    os.replace(tmp, path)
    sweep(tailer)
    assert stored_ids(app) == ["a", "b", "c", "head", "inserted"]
    # Re-read from its start, yet nothing counted twice.
    assert app.store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 5


def test_the_stored_offset_is_checked_against_the_file_at_start(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "j.jsonl"
    path.write_text(head_line() + "\n" + line("a") + line("b"), encoding="utf-8")
    home = tmp_path / "home"
    cli(home, "scan", str(path))
    # While the agent was stopped the export was rewritten: same head, longer, other content.
    path.write_text(head_line() + "\n" + line("x") + line("y") + line("z"), encoding="utf-8")
    report = json.loads(cli(home, "scan", "--json", str(path)).stdout)
    assert report["new"] == 3


def test_scan_leaves_an_unterminated_last_line_alone_while_the_file_may_still_grow(env):
    folder, app, _ = env
    path = folder / "j.jsonl"
    whole = line("a") + line("b")
    append(path, whole[:-12])  # "b" is still being written
    mtime = path.stat().st_mtime
    app.ingestor.clock = lambda: mtime + 0.5  # modified half a second ago (settle_seconds = 2)
    result = app.ingestor.scan([path])
    assert stored_ids(app) == ["a"]
    assert result.files[0].pending_bytes == len(whole[:-12]) - len(line("a"))
    append(path, whole[-12:])
    app.ingestor.clock = lambda: path.stat().st_mtime + 0.5
    app.ingestor.scan([path])
    assert stored_ids(app) == ["a", "b"]
    assert app.store.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0


def test_scan_reads_an_unterminated_last_line_once_the_file_has_settled(env):
    folder, app, _ = env
    path = folder / "j.jsonl"
    append(path, line("a") + line("b").rstrip("\n"))
    app.ingestor.clock = lambda: path.stat().st_mtime + 2.5
    report = app.ingestor.scan([path])
    assert stored_ids(app) == ["a", "b"]
    assert report.files[0].pending_bytes == 0


def test_scan_cli_says_a_line_was_left_for_later(tmp_path: Path):
    path = tmp_path / "j.jsonl"
    path.write_text(line("a") + line("b")[:-10], encoding="utf-8")
    future = path.stat().st_mtime + 3600  # "modified just now" whatever the machine's speed
    os.utime(path, (future, future))
    proc = cli(tmp_path / "home", "scan", str(path))
    assert "inachevée" in proc.stdout
    assert json.loads(cli(tmp_path / "home", "scan", "--json", str(path)).stdout)["pending_bytes"] > 0


def test_the_tail_of_a_progressively_written_over_long_line_is_never_an_event(env, monkeypatch):
    folder, app, tailer = env
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 1000)
    path = folder / "j.jsonl"
    append(path, line("a") + "x" * 1500)  # an over-long line, still being written
    sweep(tailer)
    append(path, "y" * 700)
    sweep(tailer)
    # The end of that same line happens to be a valid record: it is still part of the long line.
    append(path, line("tail") + line("b"))
    sweep(tailer)
    assert stored_ids(app) == ["a", "b"]
    reasons = [r[0] for r in app.store.db.execute("SELECT reason FROM quarantine")]
    assert reasons == ["line_too_long"]


def test_over_long_line_state_survives_a_restart(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "j.jsonl"
    path.write_text(line("a") + "x" * 1500, encoding="utf-8")
    app = App(tmp_path / "home")
    adapter = app.plugins.adapters["jsonl"]
    app.ingestor.ingest_file(path, adapter, app.settings.context(), final=False)
    app.close()
    append(path, line("tail"))
    app = App(tmp_path / "home")
    app.ingestor.ingest_file(path, adapter, app.settings.context(), final=False)
    assert stored_ids(app) == ["a"]
    app.close()


def test_file_ids_of_64_and_128_bits_are_stored_exactly(tmp_path: Path):
    store = Store(tmp_path)
    big = [2**64 - 1, 2**63, 2**128 - 5]
    with store.transaction():
        for n, inode in enumerate(big):
            store.save_position(FilePosition(0, f"/f{n}", "jsonl", 2**64 - 2, inode, 10, "h", 5, 1, 10))
    assert [p.inode for p in store.positions()] == big
    assert {p.dev for p in store.positions()} == {2**64 - 2}
    store.close()


def test_positions_of_an_older_database_survive_the_migration(tmp_path: Path):
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO files (path, adapter, dev, inode, fp_len, fp_hash, offset, line_no, size, updated_at)"
        " VALUES ('/a', 'jsonl', 2049, 9223372036854775807, 4, 'h', 3, 1, 4, '2026-01-01')"
    )
    db.commit()
    db.close()
    store = Store(tmp_path)
    (pos,) = store.positions()
    assert (pos.path, pos.dev, pos.inode, pos.offset, pos.line_no) == ("/a", 2049, 2**63 - 1, 3, 1)
    store.close()


@pytest.mark.parametrize("inode", [2**63, 2**64 - 1])
def test_ingesting_a_file_whose_id_does_not_fit_in_64_signed_bits(tmp_path: Path, monkeypatch, inode: int):
    path = tmp_path / "j.jsonl"
    path.write_text(line("a"), encoding="utf-8")
    real_fstat = os.fstat

    class Stat:
        def __init__(self, st: os.stat_result) -> None:
            self._st = st

        def __getattr__(self, name: str):
            return inode if name == "st_ino" else getattr(self._st, name)

    monkeypatch.setattr(sources.os, "fstat", lambda fd: Stat(real_fstat(fd)))
    app = App(tmp_path / "home")
    app.ingestor.ingest_file(path, app.plugins.adapters["jsonl"], app.settings.context(), final=False)
    assert app.store.positions()[0].inode == inode
    assert stored_ids(app) == ["a"]
    app.close()


@pytest.mark.parametrize(
    ("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)]
)
def test_rotation_compressed_before_draining_is_read_from_the_archive(env, suffix, compress):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a"))
    sweep(tailer)
    append(path, line("b") + line("c"))  # written after our last read
    rotated = folder / "j.jsonl.1"
    path.rename(rotated)  # logrotate without delaycompress: renamed, then compressed at once
    (folder / f"j.jsonl.1{suffix}").write_bytes(compress(rotated.read_bytes()))
    rotated.unlink()
    append(path, line("d"))
    sweep(tailer)
    sweep(tailer)
    assert stored_ids(app) == ["a", "b", "c", "d"]
    assert app.store.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0


def _log(app: App) -> list[dict]:
    text = (app.home / "logs" / app.log_file).read_text(encoding="utf-8")
    return [json.loads(row) for row in text.splitlines() if row.startswith("{")]


def test_rotated_file_that_cannot_be_found_is_reported_as_a_loss(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a") + line("b")[:10])  # "b" half written at our last read: known unread
    sweep(tailer)
    append(path, line("b")[10:])
    path.rename(folder / "j.jsonl.1")
    (folder / "j.jsonl.1").unlink()  # compressed into a format we cannot read, or deleted
    append(path, line("c"))
    sweep(tailer)
    assert stored_ids(app) == ["a", "c"]
    (reason, message) = app.store.db.execute("SELECT reason, message FROM quarantine").fetchone()
    assert reason == "rotation_unverified"
    assert "ont pu être perdues" in message and f"{len(line('b')[:10])} octets non lus" in message
    (lost,) = [e for e in _log(app) if e["event"] == "file_replaced"]
    assert (lost["unread_lost"], lost["unread_bytes"], lost["level"]) == ("possible", 10, "warning")


def test_rotated_file_fully_read_but_gone_is_not_said_to_have_lost_nothing(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a"))
    sweep(tailer)
    path.rename(folder / "j.jsonl.1")
    (folder / "j.jsonl.1").unlink()
    append(path, line("c"))
    sweep(tailer)
    assert stored_ids(app) == ["a", "c"]
    (event,) = [e for e in _log(app) if e["event"] == "file_replaced"]
    assert event["unread_lost"] == "possible"  # lines written after our last read may have been lost
    (reason,) = app.store.db.execute("SELECT reason FROM quarantine").fetchone()
    assert reason == "rotation_unverified"
