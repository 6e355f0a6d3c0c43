"""No record takes anything else down: hostile lines and files, failing adapters, odd file names.

Every test feeds real files through the real ingestion (CLI in a subprocess or `App.ingestor`)
into a real SQLite store, and checks what a user sees: what is counted, what is quarantined
with which reason, what `scan` says and its exit code.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import struct
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest

from forfait_agent.app import App
from forfait_agent.store import DB_FILE

from .conftest import RPPS_A, cli, ev, write_jsonl

GOOD = json.dumps(ev("consultation", "good-1"))
GOOD_LAST = json.dumps(ev("consultation", "good-2"))


def quarantine(home: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(home / DB_FILE) as db:
        return db.execute("SELECT line_no, reason, message FROM quarantine ORDER BY offset").fetchall()


def event_ids(home: Path) -> list[str]:
    with sqlite3.connect(home / DB_FILE) as db:
        return [r[0] for r in db.execute("SELECT id FROM events ORDER BY id")]


def test_deeply_nested_and_overflowing_lines_are_quarantined_one_by_one(home: Path, tmp_path: Path):
    lines = [
        GOOD,
        "[" * 100_000,  # nesting beyond any parser's depth
        '{"kind": "consultation", "nested": ' + "[" * 50_000 + "]" * 50_000 + "}",  # nested inside an object
        *[json.dumps(ev("consultation", f"late-{i}", at="9999-12-31T23:59:59-12:00")) for i in range(12)],
        *[json.dumps(ev("consultation", f"early-{i}", at="0001-01-01T00:00:00+14:00")) for i in range(12)],
        GOOD_LAST,
    ]
    path = write_jsonl(tmp_path / "hostile.jsonl", lines)
    proc = cli(home, "scan", "--json", str(path))
    report = json.loads(proc.stdout)
    assert (report["new"], report["quarantined"], report["unread"]) == (2, 26, 0)
    assert report["reasons"] == {"invalid_json": 2, "invalid_date": 24}
    assert event_ids(home) == ["good-1", "good-2"]
    rows = quarantine(home)
    assert [r[0] for r in rows] == list(range(2, 28))
    assert "date hors des années possibles" in rows[-1][2]
    assert "Quarantaine" in cli(home, "status").stdout


def test_declared_values_that_are_not_numbers_are_invalid_values(home: Path, tmp_path: Path):
    """JSON's NaN and Infinity (and 1e400, read as infinity) are not answers."""
    lines = [
        json.dumps(ev("declaration", f"d-{i}", indicator="equipement", year=2026, value=0)).replace("0}", f"{value}}}")
        for i, value in enumerate(["NaN", "Infinity", "-Infinity", "1e400", "0.5"])
    ]
    path = write_jsonl(tmp_path / "declarations.jsonl", lines)
    report = json.loads(cli(home, "scan", "--json", str(path)).stdout)
    assert (report["new"], report["quarantined"], report["reasons"]) == (1, 4, {"invalid_field": 4})
    assert all(message.startswith("valeur invalide") for _, _, message in quarantine(home))


class _Raising:
    """An adapter whose records make it raise what hostile input makes library code raise."""

    name = "raising"
    patterns = ("*.raising",)
    framing = "line"
    encoding = "utf-8"
    errors: ClassVar = {
        "overflow": lambda: OverflowError("Python int too large to convert to C int"),
        "zip": lambda: zipfile.BadZipFile("Bad CRC-32 for file 'IHE_XDM/SUBSET01/DOC0001.XML'"),
        "method": lambda: NotImplementedError("That compression method is not supported"),
        "encrypted": lambda: RuntimeError("File is encrypted, password required for extraction"),
        "recursion": lambda: RecursionError("maximum recursion depth exceeded"),
        "key": lambda: KeyError("missing"),
    }

    def parse(self, record):
        make = self.errors.get(record.text.split(":")[0])
        if make:
            raise make()
        return [ev("consultation", record.text)]


def test_data_errors_of_any_type_never_pause_the_adapter(home: Path, tmp_path: Path):
    kinds = list(_Raising.errors)
    lines = [f"{kinds[i % len(kinds)]}:{i}" for i in range(60)] + ["ok-after"]
    path = tmp_path / "a.raising"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    app = App(home)
    app.ingestor.adapters["raising"] = _Raising()
    report = app.ingestor.scan([path], context=app.settings.context())
    app.close()
    (result,) = report.files
    assert (result.new, result.quarantined, result.unread) == (1, 60, None)
    assert dict(result.reasons) == {"invalid_record": 60}
    assert report.errors == []
    assert app.ingestor.pauses == {}
    assert event_ids(home) == ["ok-after"]


def _zip_with_member(content: bytes, *, flags: int = 0, method: int | None = None, bad_crc: bool = False) -> bytes:
    """A one-document IHE XDM archive, its member patched as an encrypted, unknown-method or
    corrupt one (zipfile cannot write those)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", "<SubmitObjectsRequest/>")
        archive.writestr("IHE_XDM/SUBSET01/DOC0001.XML", content)
    data = bytearray(buffer.getvalue())
    name = b"IHE_XDM/SUBSET01/DOC0001.XML"
    for signature, flag_at, method_at, crc_at in ((b"PK\x03\x04", 6, 8, 14), (b"PK\x01\x02", 8, 10, 16)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_len = struct.unpack_from("<H", data, start + (26 if signature == b"PK\x03\x04" else 28))[0]
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if bytes(data[name_at : name_at + name_len]) == name:
                struct.pack_into("<H", data, start + flag_at, flags)
                if method is not None:
                    struct.pack_into("<H", data, start + method_at, method)
                if bad_crc:
                    struct.pack_into("<I", data, start + crc_at, 0xDEADBEEF)
            start += 4
    return bytes(data)


CDA = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <id root="1.2.250.1.213.4.1.2.9" extension="{doc}"/>
  <code code="11488-4" codeSystem="2.16.840.1.113883.6.1"/>
  <effectiveTime value="{ts}"/>
  <author><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="8{rpps}"/></assignedAuthor></author>
</ClinicalDocument>
"""


def test_corrupt_xdm_archives_and_overflowing_dates_do_not_skip_later_documents(home: Path, tmp_path: Path):
    folder = tmp_path / "dmp"
    folder.mkdir()
    for i in range(24):  # more than the failure threshold, in any order of reading
        doc = CDA.format(doc=f"bad-{i}", ts="20260302101500+0100", rpps=RPPS_A).encode()
        hostile = [
            _zip_with_member(doc, flags=0x1),  # "encrypted": zipfile wants a password
            _zip_with_member(doc, method=99),  # AES (WinZip): compression method not supported
            _zip_with_member(doc, bad_crc=True),
            _zip_with_member(CDA.format(doc=f"late-{i}", ts="99991231235959-1200", rpps=RPPS_A).encode()),
        ][i % 4]
        (folder / f"a{i:02}.zip").write_bytes(hostile)
    for i in range(3):
        doc = CDA.format(doc=f"good-{i}", ts="20260302101500+0100", rpps=RPPS_A).encode()
        (folder / f"z{i}.zip").write_bytes(_zip_with_member(doc))
    proc = cli(home, "scan", "--json", str(folder))
    report = json.loads(proc.stdout)
    assert (report["files"], report["new"], report["quarantined"], report["unread"]) == (27, 3, 24, 0)
    assert sorted(event_ids(home)) == [f"1.2.250.1.213.4.1.2.9^good-{i}" for i in range(3)]
    status = json.loads(cli(home, "status", "--json").stdout)
    assert not any(a["disabled_at"] for a in status["adapters"])


class _Buggy:
    """An adapter with a bug (TypeError) on lines that say so, fine on the others."""

    name = "buggy"
    patterns = ("*.buggy",)
    framing = "line"
    encoding = "utf-8"

    def parse(self, record):
        if record.text.startswith("bug"):
            return None + 1  # type: ignore[operator]
        return [ev("consultation", record.text)]


def _ingest(home: Path, path: Path, clock=None, **options):
    app = App(home)
    if clock is not None:
        app.ingestor.timer = clock
    for name, value in options.items():
        setattr(app.ingestor, name, value)
    app.ingestor.adapters["buggy"] = _Buggy()
    return app


def test_failing_adapter_is_paused_retried_and_never_skips_for_good(home: Path, tmp_path: Path):
    path = tmp_path / "journal.buggy"
    path.write_text("ok-1\n" + "".join(f"bug-{i}\n" for i in range(4)) + "ok-2\nok-3\n", encoding="utf-8")
    now = [1000.0]
    app = _ingest(home, path, clock=lambda: now[0], failure_threshold=3, pause_first=30.0)
    adapter, ctx = app.ingestor.adapters["buggy"], app.settings.context()
    first = app.ingestor.ingest_file(path, adapter, ctx, final=False)
    # Paused at the third consecutive failure; the offset stops right after it.
    assert (first.new, first.quarantined) == (1, 3)
    assert "en pause" in first.unread
    assert app.store.position(str(path.resolve()), "buggy").line_no == 4
    now[0] += 29  # still paused: nothing read, nothing skipped
    assert app.ingestor.ingest_file(path, adapter, ctx, final=False).records == 0
    now[0] += 1  # its chance: one more failure pauses it again, twice as long
    second = app.ingestor.ingest_file(path, adapter, ctx, final=False)
    assert (second.records, second.quarantined) == (1, 1)
    assert app.ingestor.pauses["buggy"].seconds == 60
    now[0] += 60
    third = app.ingestor.ingest_file(path, adapter, ctx, final=False)
    assert (third.new, third.quarantined, third.unread) == (2, 0, None)
    assert app.ingestor.pauses == {}
    assert event_ids(home) == ["ok-1", "ok-2", "ok-3"]
    status = app.store.adapter_statuses()
    assert [(name, failures, paused) for name, failures, _, paused in status] == [("buggy", 4, None)]
    app.close()


def test_scan_says_how_many_records_were_left_unread_and_a_restart_reads_them(home: Path, tmp_path: Path):
    path = tmp_path / "journal.buggy"
    path.write_text("".join(f"bug-{i}\n" for i in range(20)) + "ok-1\nok-2\n", encoding="utf-8")
    other = write_jsonl(tmp_path / "other.jsonl", [ev("consultation", "j1")])
    app = _ingest(home, path)
    report = app.ingestor.scan([tmp_path], context=app.settings.context())
    app.close()
    by_adapter = {r.adapter: r for r in report.files}
    assert by_adapter["buggy"].unread_records == 2
    assert report.unread_records() == 2
    assert by_adapter["jsonl"].new == 1  # other adapters go on
    assert report.as_json()["unread"] == 2
    # The CLI prints it in French and exits 2.
    from rich.console import Console

    from forfait_agent.cli import print_scan_report

    console = Console(record=True, width=200)
    print_scan_report(report, console)
    text = console.export_text()
    assert "Enregistrements non lus : 2 dans 1 fichier(s)" in text
    assert "en pause" in text
    assert "DÉSACTIVÉ" not in cli(home, "status").stdout
    assert "EN PAUSE" in cli(home, "status").stdout
    # A new process (a restart, a new scan) tries the adapter again: the two lines are read.
    app = _ingest(home, path)
    again = app.ingestor.scan([path], context=app.settings.context())
    app.close()
    assert (again.total("new"), again.errors) == (2, [])
    assert event_ids(home) == ["j1", "ok-1", "ok-2"]
    assert other.exists()
    assert "EN PAUSE" not in cli(home, "status").stdout  # it works again: no longer shown paused


@pytest.mark.skipif(os.name != "posix", reason="named pipes and /dev/zero are POSIX")
def test_a_named_pipe_or_a_device_is_refused_not_waited_for(home: Path, tmp_path: Path):
    """A FIFO once blocked `scan` forever at its open (and the agent, had an event named it)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    os.mkfifo(folder / "tube.jsonl")
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    good = write_jsonl(folder / "journal.jsonl", [ev("consultation", "good-1")])
    proc = cli(home, "scan", str(folder / "tube.jsonl"), str(folder / "zero.jsonl"), str(good), check=False, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    said = " ".join(proc.stdout.split())
    assert "Enregistrements non lus : un nombre inconnu dans 2 fichier(s)" in said
    assert said.count("lecture impossible : pas un fichier ordinaire (tube nommé ou périphérique)") == 2
    assert event_ids(home) == ["good-1"]
    assert cli(home, "scan", str(folder), timeout=60).returncode == 0  # a folder's listing skips them


@pytest.mark.skipif(os.name != "posix", reason="symbolic links without privileges")
def test_a_link_to_itself_does_not_hide_the_rest_of_its_folder(home: Path, tmp_path: Path):
    """Listing the folder asked the link whether it is a file: ELOOP made `scan` report the
    whole folder unreadable and read none of its files."""
    folder = tmp_path / "exports"
    (folder / "sous-dossier").mkdir(parents=True)
    (folder / "boucle.jsonl").symlink_to("boucle.jsonl")
    (folder / "sous-dossier" / "parent").symlink_to("..")  # followed, it would never end
    write_jsonl(folder / "journal.jsonl", [ev("consultation", "good-1")])
    write_jsonl(folder / "sous-dossier" / "journal.jsonl", [ev("consultation", "good-2")])
    proc = cli(home, "scan", str(folder), timeout=60)
    assert "Dossier non lu" not in proc.stdout
    assert event_ids(home) == ["good-1", "good-2"]


@pytest.mark.skipif(os.name != "posix", reason="only POSIX file names can be bytes that are not UTF-8")
def test_file_and_folder_names_that_are_not_utf8_are_read_and_shown(home: Path, tmp_path: Path):
    root = os.fsencode(tmp_path / "exports")
    os.makedirs(root + b"/sous-dossier-\xff")
    for name in (b"/caf\xe9.jsonl", b"/sous-dossier-\xff/journal-\xfe.jsonl"):
        with open(root + name, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(ev("consultation", name.decode("latin-1"))) + "\n")
    with open(root + b"/notes-\xe9.docx", "wb") as handle:
        handle.write(b"PK")
    folder = os.fsdecode(root)
    out = cli(home, "scan", folder)
    assert "événements nouveaux : 2" in out.stdout
    assert "notes-\\xe9.docx" in out.stdout
    report = json.loads(cli(home, "scan", "--json", folder).stdout)
    assert (report["files"], report["new"], report["unread"]) == (2, 0, 0)
    status = json.loads(cli(home, "status", "--json").stdout)
    assert sorted(f["path"] for f in status["files"]) == [
        f"{tmp_path}/exports/caf\\xe9.jsonl",
        f"{tmp_path}/exports/sous-dossier-\\xff/journal-\\xfe.jsonl",
    ]
    assert "caf\\xe9.jsonl" in cli(home, "status", "--fichiers").stdout


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names may hold control characters")
def test_names_holding_control_characters_are_shown_escaped_never_acted_on(home: Path, tmp_path: Path):
    """A newline in a name printed a fake line of output; ESC coloured the terminal or retitled
    its window (from a quarantine reason quoting the line, too); a right-to-left override showed
    `cod.exe` for `exe.doc`."""
    folder = tmp_path / "exports"
    folder.mkdir()
    name = "a\nFichiers lus : 999\x1b[31mrouge\x1b]0;titre\x07\u202eexe.jsonl"
    # The reason quoted in the quarantine holds what the line held: an escape sequence too.
    write_jsonl(folder / name, [ev("consultation", "c1"), "{pas du json", '{"kind": "\\u001b]0;titre\\u0007"}'])
    assert "événements nouveaux : 1" in cli(home, "scan", str(folder)).stdout
    shown = "a\\x0aFichiers lus : 999\\x1b[31mrouge\\x1b]0;titre\\x07\\u202eexe.jsonl"
    (stored,) = [f["path"] for f in json.loads(cli(home, "status", "--json").stdout)["files"]]
    assert stored == f"{folder}/{shown}"
    for args in (["status", "--fichiers"], ["status", "--quarantaine"]):
        out = cli(home, *args, env={"COLUMNS": "400"}).stdout
        assert not any(c in out for c in "\x1b\x07\u202e"), args
        assert shown in out, args
        assert "\nFichiers lus : 999" not in out


@pytest.mark.skipif(os.name != "posix", reason="only POSIX file names can be bytes that are not UTF-8")
def test_agent_follows_files_whose_names_are_not_utf8(home: Path, tmp_path: Path):
    import signal
    import subprocess
    import sys
    import time

    root = os.fsencode(tmp_path / "exports")
    os.makedirs(root + b"/sous-dossier-\xff")
    journal = root + b"/sous-dossier-\xff/journal-\xfe.jsonl"
    with open(journal, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(ev("consultation", "first")) + "\n")
    cli(home, "init", "--folder", os.fsdecode(root), "--poll-interval", "0.2")
    agent = subprocess.Popen(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )

    def counted(n: int) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and agent.poll() is None:
            try:
                if len(event_ids(home)) == n:
                    return True
            except sqlite3.OperationalError:  # not created yet
                pass
            time.sleep(0.05)
        return False

    try:
        assert counted(1)
        with open(journal, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(ev("consultation", "second")) + "\n")
        assert counted(2)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=30)
    assert agent.returncode == 0, err
    assert "Traceback" not in err
