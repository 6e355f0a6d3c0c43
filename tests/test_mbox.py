"""mbox framing: a « Sent » folder of any size is read incrementally, in bounded memory, and is
recognised by its content. Uses the real MSSanté plugin, found through its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from forfait_agent import sources
from forfait_agent.app import App
from forfait_agent.config import Settings, WatchedFolder
from forfait_agent.store import KIND_CODE
from forfait_agent.tailer import Tailer

from .conftest import RPPS_A, TEST_INS, cli

SENDER = "martin@cabinet-martin.mssante.fr"


def mail(i: int, body: bytes = b"Bonjour,\r\nci-joint le compte rendu.\r\n") -> bytes:
    headers = (
        f"From: Dr Martin <{SENDER}>\r\nTo: {TEST_INS}@patient.mssante.fr\r\n"
        f"Date: Mon, 02 Mar 2026 10:{i % 60:02d}:00 +0100\r\nMessage-ID: <m{i}@cabinet-martin.mssante.fr>\r\n"
        "Subject: Compte rendu\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    return headers.encode() + body


def entry(i: int, body: bytes | None = None) -> bytes:
    """One mbox entry as Thunderbird writes it: a `From ` line, the message, a blank line."""
    return b"From - Mon Mar  2 10:00:00 2026\r\n" + (mail(i) if body is None else mail(i, body)) + b"\r\n"


def mss_ids(app: App) -> list[str]:
    rows = app.store.db.execute("SELECT id FROM events WHERE kind = ?", (KIND_CODE["mss_message"],))
    return sorted(r[0] for r in rows)


@pytest.fixture
def mailbox(tmp_path: Path):
    """A watched Thunderbird folder, its App and Tailer; the clock says the files have settled."""
    folder = tmp_path / "Mail"
    folder.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[practitioners]\n"{SENDER}" = "{RPPS_A}"\n', encoding="utf-8")
    app = App(home)
    app.__dict__["settings"] = Settings(folders=[WatchedFolder(path=folder)], practitioners={SENDER: RPPS_A})
    app.ingestor.clock = lambda: 4_000_000_000.0  # long after any file's mtime: settled
    parsed: list[int] = []
    adapter = app.ingestor.adapters["mssante-mbox"]
    original = adapter.parse

    def counting(record):
        parsed.append(record.offset)
        return original(record)

    adapter.parse = counting  # type: ignore[method-assign]
    tailer = Tailer(app.ingestor, app.settings, app.log)
    yield folder, app, tailer, parsed
    app.close()


def test_sent_folder_without_extension_is_recognised_by_its_content(mailbox):
    folder, app, tailer, _ = mailbox
    (folder / "Sent").write_bytes(entry(1) + entry(2))
    (folder / "Sent.msf").write_bytes(b'// <!-- <mdb:mork:z v="1.4"/> -->\n')  # Thunderbird's index: not mail
    tailer.sweep()
    assert mss_ids(app) == ["m1@cabinet-martin.mssante.fr#1", "m2@cabinet-martin.mssante.fr#1"]
    assert app.store.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0


def test_appended_messages_are_counted_and_only_they_are_read(mailbox):
    folder, app, tailer, parsed = mailbox
    path = folder / "Envoyes.mbox"
    path.write_bytes(b"".join(entry(i) for i in range(50)))
    tailer.sweep()
    assert len(mss_ids(app)) == 50 and len(parsed) == 50
    size = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(entry(50))
    parsed.clear()
    tailer.seen.clear()
    tailer.sweep()
    assert len(mss_ids(app)) == 51
    assert parsed == [size]  # only the new message, found where the file used to end
    position = app.store.position(str(path.resolve()), "mssante-mbox")
    assert (position.offset, position.line_no) == (path.stat().st_size, 51)


def test_the_last_message_waits_until_the_file_has_settled(mailbox):
    folder, app, tailer, _ = mailbox
    path = folder / "Envoyes.mbox"
    path.write_bytes(entry(1) + entry(2)[:120])  # Thunderbird is still writing message 2
    app.ingestor.clock = lambda: path.stat().st_mtime + 0.5
    tailer.sweep()
    assert mss_ids(app) == ["m1@cabinet-martin.mssante.fr#1"]
    assert tailer.unsettled  # the agent will look again once it may have settled
    with path.open("ab") as handle:
        handle.write(entry(2)[120:])
    app.ingestor.clock = lambda: path.stat().st_mtime + 5
    tailer.sweep()
    assert mss_ids(app) == ["m1@cabinet-martin.mssante.fr#1", "m2@cabinet-martin.mssante.fr#1"]
    assert app.store.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0


def test_compacted_mbox_is_read_again_without_doubles(mailbox):
    folder, app, tailer, _ = mailbox
    path = folder / "Envoyes.mbox"
    path.write_bytes(b"".join(entry(i) for i in range(5)))
    tailer.sweep()
    # Thunderbird compacts the folder (message 1 deleted) and a new message arrives.
    path.write_bytes(b"".join(entry(i) for i in (0, 2, 3, 4, 5, 6)))
    tailer.seen.clear()
    tailer.sweep()
    assert len(mss_ids(app)) == 7


def test_mbox_larger_than_64_mib_is_read_and_what_is_appended_counted(tmp_path: Path):
    path = tmp_path / "Sent"
    filler = (b"x" * 76 + b"\r\n") * ((65 << 20) // 78)  # one 65 MiB message among small ones
    with path.open("wb") as handle:
        handle.write(entry(1) + entry(2, filler) + entry(3))
    os.utime(path, (1_700_000_000, 1_700_000_000))  # settled: written long ago
    home = tmp_path / "home"
    report = json.loads(cli(home, "scan", "--json", str(path)).stdout)
    assert (report["new"], report["quarantined"]) == (3, 0)
    with path.open("ab") as handle:
        handle.write(entry(4))
    os.utime(path, (1_700_000_100, 1_700_000_100))
    report = json.loads(cli(home, "scan", "--json", str(path)).stdout)
    assert (report["records"], report["new"]) == (1, 1)


def test_records_of_an_mbox_are_cut_at_the_limit_with_their_headers_whole(tmp_path: Path):
    path = tmp_path / "Sent"
    path.write_bytes(entry(1, b"y" * 5000) + entry(2))
    with path.open("rb") as handle:
        messages = list(sources.iter_messages(handle, 0, 0, final=True, cap=1000))
    assert [(m.line_no, m.truncated, len(m.data) < 1000) for m in messages] == [(1, True, True), (2, False, True)]
    assert messages[0].data.startswith(mail(1)[:200])
    assert messages[0].end == messages[1].offset


# The agent runs as a grandchild: Linux carries ru_maxrss across exec, so a child of pytest
# would report pytest's own peak; the middle process is small when it forks the agent.
RSS_PROBE = textwrap.dedent(
    """
    import resource, subprocess, sys
    agent = [sys.executable, "-m", "forfait_agent", "--data-dir", sys.argv[1], "scan", "--json", sys.argv[2]]
    print(subprocess.run(agent, capture_output=True, text=True, check=True).stdout)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=sys.stderr)
    """
)


def scan_measuring_rss(home: Path, target: Path) -> tuple[dict, int]:
    """`scan` of `target` in a process of its own: its report and its peak RSS in MB."""
    proc = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, str(home), str(target)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), int(proc.stderr.strip().splitlines()[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
@pytest.mark.parametrize("name", ["grand.eml", "Sent"])
def test_one_60_mb_message_stays_under_150_mb_of_memory(tmp_path: Path, name: str):
    head, tail = (
        mail(7, b"--b\r\n").replace(
            b"Content-Type: text/plain; charset=utf-8", b'Content-Type: multipart/mixed; boundary="b"'
        ),
        (
            b"Content-Type: text/plain\r\n\r\nBonjour\r\n--b\r\nContent-Type: application/pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
        ),
    )
    path = tmp_path / name
    with path.open("wb") as handle:  # written piecewise: this test's own memory stays small
        handle.write((b"From - Mon Mar  2 10:00:00 2026\r\n" if name == "Sent" else b"") + head + tail)
        piece = (b"QUJD" * 19 + b"\r\n") * 13_000  # ~1 MB of base64, as a big PDF attachment is
        for _ in range(60):
            handle.write(piece)
        handle.write(b"--b--\r\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    report, peak_mb = scan_measuring_rss(tmp_path / "home", path)
    assert (report["new"], report["quarantined"]) == (1, 0)
    assert path.stat().st_size > 60_000_000
    assert peak_mb < 150, f"peak RSS {peak_mb} MB"


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_e_mails_of_50_mb_of_headers_are_refused_in_bounded_memory_and_time(tmp_path: Path):
    """Headers are parsed whole (addresses, dates): 50 MB of them once took 1.2 GB and more than
    the record timeout. They are refused with a reason; a refused record's memory is freed at
    once (not at the next cyclic GC), so three big files never add up."""
    folder = tmp_path / "envoyes"
    folder.mkdir()
    piece = (b"QUJD" * 19 + b"\r\n") * 13_000  # ~1 MB
    folded = b"".join(b" c%d@chu-exemple.mssante.fr,\r\n" % i for i in range(30_000))  # ~1 MB
    for name, extra_header, body in (
        ("a-destinataires.eml", b"Cc: a@b.mssante.fr,\r\n", folded),
        ("b-en-tetes.eml", b"", b"X-Suivi: oui\r\n" * 70_000),
        ("c-piece-jointe.eml", None, piece),
    ):
        with (folder / name).open("wb") as handle:
            if extra_header is None:
                handle.write(mail(1))
            else:  # the repeated part goes into the headers, before the blank line
                handle.write(mail(2 if body is folded else 3).split(b"\r\n\r\n")[0] + b"\r\n" + extra_header)
            for _ in range(50):
                handle.write(body)
            handle.write(b" z@chu-exemple.mssante.fr\r\n\r\nBonjour\r\n" if extra_header is not None else b"")
    report, peak_mb = scan_measuring_rss(tmp_path / "home", folder)
    assert (report["files"], report["new"], report["quarantined"]) == (3, 1, 2)
    assert peak_mb < 150, f"peak RSS {peak_mb} MB"
    quarantine = cli(tmp_path / "home", "status", "--quarantaine").stdout
    assert " ".join(quarantine.split()).count("octet 0 · enregistrement illisible : en-têtes de plus de 256 Kio") == 2


@pytest.mark.skipif(os.name != "posix", reason="stops the agent with SIGTERM")
def test_running_agent_counts_the_last_sent_message_once_the_mbox_settles(tmp_path: Path):
    from .test_live import _log, configure, count, stop, wait_for

    folder, home = tmp_path / "Mail", tmp_path / "home"
    folder.mkdir()
    configure(home, folder, poll=30)
    # No safety rescan for an hour: only the agent's own "look again once settled" can count
    # the last message, which no later write will ever announce.
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "FORFAIT_AGENT_RESCAN_INTERVAL": "3600"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert wait_for(lambda: "agent_start" in _log(home))
        (folder / "Sent").write_bytes(entry(1) + entry(2))
        assert wait_for(lambda: count(home) == 2, timeout=60), _log(home)[-2000:]
    finally:
        code, err = stop(proc)
    assert code == 0, err
