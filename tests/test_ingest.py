"""Scanning real files into real SQLite: dedupe, quarantine with file and line, framing."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from forfait_agent.app import App
from forfait_agent.store import DB_FILE

from .conftest import RPPS_A, cli, ev, practitioner, score_json, write_jsonl

GOOD = [
    ev("consultation", "c1"),
    ev("consultation", "c2"),
    ev("prescription", "p1", electronic=True),
    ev("prescription", "p2", electronic=False),
    ev("fse", "f1", vitale="apcv"),
]


def quarantine_rows(home: Path) -> list[tuple]:
    with sqlite3.connect(home / DB_FILE) as db:
        return db.execute("SELECT source, line_no, reason, message FROM quarantine ORDER BY line_no").fetchall()


def test_scan_twice_changes_nothing(home: Path, tmp_path: Path):
    path = write_jsonl(tmp_path / "events.jsonl", GOOD)
    first = json.loads(cli(home, "scan", "--adapter", "jsonl", "--json", str(path)).stdout)
    assert (first["new"], first["known"]) == (5, 0)
    before = score_json(home, "--year", "2026", "--as-of", "2026-12-31")
    second = json.loads(cli(home, "scan", "--adapter", "jsonl", "--json", str(path)).stdout)
    assert second["new"] == 0
    assert score_json(home, "--year", "2026", "--as-of", "2026-12-31") == before


def test_same_events_in_another_file_are_not_double_counted(home: Path, tmp_path: Path):
    write_jsonl(tmp_path / "a.jsonl", GOOD)
    write_jsonl(tmp_path / "b.jsonl", [*GOOD, ev("consultation", "c3")])
    report = json.loads(cli(home, "scan", "--json", str(tmp_path)).stdout)
    assert (report["new"], report["known"]) == (6, 5)
    p = practitioner(score_json(home, "--as-of", "2026-12-31"), RPPS_A)
    assert p["metrics"]["eprescription"] == {"numerator": 1, "denominator": 2, "rate": 0.5, "projected_rate": 0.5}
    assert p["metrics"]["dmp"]["denominator"] == 3


def test_malformed_lines_are_quarantined_with_file_and_line(home: Path, tmp_path: Path):
    path = tmp_path / "messy.jsonl"
    lines = [
        "\ufeff" + json.dumps(GOOD[0]),  # 1: BOM on the first line
        "{not json",  # 2
        json.dumps(ev("teleconsultation", "x1")),  # 3: unknown kind
        json.dumps({"kind": "consultation", "at": "2026-03-02T10:00:00", "practitioner": RPPS_A}),  # 4
        json.dumps(ev("consultation", "bad-date", at="2026-02-30T10:00")),  # 5
        "",  # 6: blank, ignored
        json.dumps(GOOD[1]),  # 7
    ]
    raw = "\r\n".join(lines).encode("utf-8") + b"\r\n"
    raw += b'{"kind": "consultation", "id": "caf\xe9", "at": "2026-03-02T10:00", "practitioner": "10101010101"}\r\n'
    raw += json.dumps(GOOD[2]).encode() + b"\r\n"  # 9
    path.write_bytes(raw)
    report = json.loads(cli(home, "scan", "--json", str(path)).stdout)
    assert report["new"] == 3
    assert report["quarantined"] == 5
    assert report["reasons"] == {
        "invalid_json": 1,
        "unknown_kind": 1,
        "missing_field": 1,
        "invalid_date": 1,
        "encoding": 1,
    }
    rows = quarantine_rows(home)
    assert [(r[1], r[2]) for r in rows] == [
        (2, "invalid_json"),
        (3, "unknown_kind"),
        (4, "missing_field"),
        (5, "invalid_date"),
        (8, "encoding"),
    ]
    assert all(r[0] == str(path.resolve()) for r in rows)
    assert "« id »" in rows[2][3]
    status = cli(home, "status", "--quarantaine").stdout
    assert "ligne 8" in status and "Quarantaine" in status


def test_partial_last_line_is_read_by_a_one_shot_scan(home: Path, tmp_path: Path):
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(GOOD[0]) + "\n" + json.dumps(GOOD[1]), encoding="utf-8")
    os.utime(path, (1_700_000_000, 1_700_000_000))  # a finished export, written long ago
    report = json.loads(cli(home, "scan", "--json", str(path)).stdout)
    assert report["new"] == 2


def test_live_tail_waits_for_the_newline_and_resumes_at_the_offset(home: Path, tmp_path: Path):
    path = tmp_path / "live.jsonl"
    first, second = json.dumps(GOOD[0]), json.dumps(GOOD[1])
    path.write_text(first + "\n" + second[:20], encoding="utf-8")
    app = App(home)
    adapter = app.plugins.adapters["jsonl"]
    ctx = app.settings.context()
    r1 = app.ingestor.ingest_file(path, adapter, ctx, final=False)
    assert (r1.new, r1.quarantined) == (1, 0)
    pos = app.store.position(str(path.resolve()), "jsonl")
    assert pos.offset == len(first) + 1
    with path.open("a", encoding="utf-8") as handle:
        handle.write(second[20:] + "\n")
    r2 = app.ingestor.ingest_file(path, adapter, ctx, final=False)
    assert (r2.new, r2.records, r2.quarantined) == (1, 1, 0)
    app.close()


def test_lines_ended_by_a_carriage_return_alone_are_records_live_and_scanned(home: Path, tmp_path: Path):
    """Classic Mac OS line ends: the file was once one unreadable « line » (its records lost)."""
    path = tmp_path / "mac.jsonl"
    path.write_bytes(f"{json.dumps(GOOD[0])}\r{{pas du json\r{json.dumps(GOOD[1])}\r".encode())
    app = App(home)
    adapter, ctx = app.plugins.adapters["jsonl"], app.settings.context()
    live = app.ingestor.ingest_file(path, adapter, ctx, final=False)
    assert (live.new, live.quarantined) == (2, 1)
    with path.open("ab") as handle:
        handle.write(f"{json.dumps(GOOD[2])}\r{json.dumps(GOOD[3])[:10]}".encode())
    appended = app.ingestor.ingest_file(path, adapter, ctx, final=False)
    assert (appended.new, appended.records, appended.quarantined) == (1, 1, 0)
    app.close()
    assert [(row[1], row[2]) for row in quarantine_rows(home)] == [(2, "invalid_json")]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_journal_saved_as_utf16_with_its_bom_is_read(home: Path, tmp_path: Path, encoding: str):
    """Windows PowerShell 5 writes `>` and `Out-File` in UTF-16 with a BOM: every line was
    quarantined as invalid JSON under the adapter's declared UTF-8."""
    path = tmp_path / "powershell.jsonl"
    bom = b"\xfe\xff" if encoding == "utf-16-be" else b""  # Python's utf-16 writes its own BOM
    path.write_bytes(bom + "".join(json.dumps(e) + "\r\n" for e in GOOD[:2]).encode(encoding))
    app = App(home)
    adapter, ctx = app.plugins.adapters["jsonl"], app.settings.context()
    assert (app.ingestor.ingest_file(path, adapter, ctx, final=False).new, quarantine_rows(home)) == (2, [])
    with path.open("ab") as handle:  # appended in the same encoding, without a second BOM
        handle.write((json.dumps(GOOD[2]) + "\r\n").encode("utf-16-be" if bom else "utf-16-le"))
    assert app.ingestor.ingest_file(path, adapter, ctx, final=False).new == 1
    app.close()


def test_truncated_or_replaced_file_is_read_from_its_start(home: Path, tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", GOOD)
    app = App(home)
    adapter, ctx = app.plugins.adapters["jsonl"], app.settings.context()
    app.ingestor.ingest_file(path, adapter, ctx, final=True)
    write_jsonl(path, [ev("consultation", "new1")])  # replaced by a shorter, different file
    result = app.ingestor.ingest_file(path, adapter, ctx, final=True)
    assert result.restarted == "replaced"
    assert result.new == 1
    app.close()


def test_over_long_line_is_quarantined_and_the_rest_kept(home: Path, tmp_path: Path):
    from forfait_agent import sources

    path = tmp_path / "long.jsonl"
    long_line = json.dumps(ev("consultation", "x" * 100, note="y" * 5000))
    path.write_text("\n".join([json.dumps(GOOD[0]), long_line, json.dumps(GOOD[1])]) + "\n", encoding="utf-8")
    with path.open("rb") as handle:
        lines = list(sources.iter_lines(handle, 0, 0, "utf-8", final=True, max_line=1000))
    assert [(line.line_no, line.error) for line in lines] == [(1, None), (2, "line_too_long"), (3, None)]
    assert lines[2].text == json.dumps(GOOD[1])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "cp1252"])
def test_other_encodings_are_framed_by_characters(tmp_path: Path, encoding: str):
    from forfait_agent import sources

    text = "premier;é\r\nsecond;€ ligne\r\ntroisième\n"
    path = tmp_path / "f.txt"
    path.write_bytes(text.encode(encoding))
    with path.open("rb") as handle:
        lines = list(sources.iter_lines(handle, 0, 0, encoding, final=True))
    assert [line.text for line in lines] == ["premier;é", "second;€ ligne", "troisième"]


def test_practitioner_default_applies_only_when_absent(home: Path, tmp_path: Path):
    no_rpps = {"kind": "consultation", "id": "c9", "at": "2026-03-02T10:00:00"}
    path = write_jsonl(tmp_path / "e.jsonl", [no_rpps, ev("consultation", "c10", practitioner="10202020202")])
    report = json.loads(cli(home, "scan", "--json", str(path)).stdout)
    assert (report["new"], report["reasons"]) == (1, {"missing_field": 1})
    path2 = write_jsonl(tmp_path / "f.jsonl", [{**no_rpps, "id": "c11"}])
    cli(home, "scan", "--practitioner", "10303030303", str(path2))
    rpps = {p["rpps"] for p in score_json(home, "--as-of", "2026-12-31")["practitioners"]}
    assert rpps == {"10202020202", "10303030303"}


def test_unreadable_path_is_exit_2_with_the_file_named(home: Path, tmp_path: Path):
    proc = cli(home, "scan", str(tmp_path / "absent.jsonl"), check=False)
    assert proc.returncode == 2
    assert "absent.jsonl" in proc.stderr and "introuvable" in proc.stderr


def test_files_no_adapter_claims_are_listed_not_read(home: Path, tmp_path: Path):
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    write_jsonl(tmp_path / "e.jsonl", GOOD[:1])
    out = cli(home, "scan", str(tmp_path)).stdout
    assert "Ignorés" in out and "notes.docx" in out
