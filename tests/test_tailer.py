"""Following files through what LGCs and log rotators do to them, asserting the exact events."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import date
from pathlib import Path

from forfait_agent import Adapter, Record
from forfait_agent.app import App
from forfait_agent.store import DB_FILE, day_number
from forfait_agent.tailer import Tailer

from .conftest import RPPS_A


def line(ident: str) -> str:
    return json.dumps({"kind": "consultation", "id": ident, "at": "2026-03-02T10:00", "practitioner": RPPS_A}) + "\n"


def stored_ids(app: App) -> list[str]:
    return sorted(r[0] for r in app.store.db.execute("SELECT id FROM events"))


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(text)


def sweep(tailer: Tailer) -> None:
    tailer.sweep()
    tailer.seen.clear()  # as if time had passed: no stat-based shortcut in these tests


def test_appended_lines_are_read_once(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a") + line("b"))
    sweep(tailer)
    append(path, line("c"))
    sweep(tailer)
    sweep(tailer)
    assert stored_ids(app) == ["a", "b", "c"]
    assert app.store.position(str(path.resolve()), "jsonl").line_no == 3


def test_partial_line_is_never_consumed_half(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    whole = line("a") + line("b")
    append(path, whole[:-10])
    sweep(tailer)
    assert stored_ids(app) == ["a"]
    append(path, whole[-10:])
    sweep(tailer)
    assert stored_ids(app) == ["a", "b"]
    assert app.store.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0


def test_rotation_by_rename_drains_the_old_file_then_reads_the_new(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a"))
    sweep(tailer)
    append(path, line("b"))  # written after our last read, just before rotation
    path.rename(folder / "j.jsonl.1")
    append(path, line("c"))
    sweep(tailer)
    sweep(tailer)
    assert stored_ids(app) == ["a", "b", "c"]


def test_rotation_to_a_name_that_still_matches_is_not_read_twice(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a") + "not json\n")
    sweep(tailer)
    path.rename(folder / "j-old.jsonl")  # sorts before j.jsonl, and matches *.jsonl
    append(path, line("b"))
    sweep(tailer)
    sweep(tailer)
    assert stored_ids(app) == ["a", "b"]
    # The bad line was quarantined once, not once per name the file had.
    assert app.store.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 1


def test_copy_truncate_reads_the_tail_from_the_copy(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a"))
    sweep(tailer)
    append(path, line("b"))
    shutil.copy(path, folder / "j.jsonl.1")
    with path.open("w"):
        pass  # truncate in place, as logrotate's copytruncate does
    append(path, line("c"))
    sweep(tailer)
    sweep(tailer)
    assert stored_ids(app) == ["a", "b", "c"]


def test_truncation_then_regrowth_past_the_old_offset_is_read_from_the_start(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a"))
    sweep(tailer)
    path.write_text(line("x") + line("y") + line("z"), encoding="utf-8")  # shrank then grew past
    sweep(tailer)
    assert stored_ids(app) == ["a", "x", "y", "z"]


def test_replacement_by_another_file_with_the_same_name(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a") + line("b"))
    sweep(tailer)
    tmp = folder / ".j.tmp"
    tmp.write_text(line("c"), encoding="utf-8")
    os.replace(tmp, path)  # an editor-style atomic save
    sweep(tailer)
    assert stored_ids(app) == ["a", "b", "c"]


def test_deleted_file_keeps_its_events_and_a_new_one_is_read(env):
    folder, app, tailer = env
    path = folder / "j.jsonl"
    append(path, line("a"))
    sweep(tailer)
    path.unlink()
    sweep(tailer)
    append(path, line("b"))
    sweep(tailer)
    assert stored_ids(app) == ["a", "b"]


def test_bom_crlf_and_cp1252(env):
    folder, app, tailer = env
    (folder / "j.csv").write_bytes(b"\xef\xbb\xbfcaf\xc3\xa9;2026-03-02T10:00\r\n")  # UTF-8 BOM stripped
    (folder / "k.csv").write_bytes("pâté-é;2026-03-03T10:00\r\nœuvre;2026-03-04T10:00\r\n".encode("cp1252"))
    sweep(tailer)
    assert stored_ids(app) == ["cafÃ©", "pâté-é", "œuvre"]  # j.csv is UTF-8 read as cp1252: as declared
    with sqlite3.connect(app.home / DB_FILE) as db:
        days = sorted(r[0] for r in db.execute("SELECT day FROM events"))
    assert days == [day_number(date(2026, 3, d)) for d in (2, 3, 4)]


def test_whole_file_framing_waits_until_settled(env, tmp_path: Path):
    folder, app, tailer = env

    class WholeAdapter(Adapter):
        name = "whole"
        patterns = ("*.msg",)
        framing = "file"

        def parse(self, record: Record):
            return [
                {
                    "kind": "consultation",
                    "id": record.data.decode().strip(),
                    "at": "2026-03-02T10:00",
                    "practitioner": RPPS_A,
                }
            ]

    app.ingestor.adapters["whole"] = WholeAdapter()
    app.settings.settle_seconds = 0.0
    (folder / "m1.msg").write_text("m1", encoding="utf-8")
    tailer.sweep()  # first sight: not settled yet
    assert stored_ids(app) == []
    tailer.sweep()  # unchanged since last sweep: settled
    tailer.sweep()
    assert stored_ids(app) == ["m1"]
    (folder / "m2.msg").write_text("m2", encoding="utf-8")
    tailer.sweep(renamed_in={str(folder / "m2.msg")})  # renamed into place: complete at once
    assert stored_ids(app) == ["m1", "m2"]
