"""The real agent in a subprocess: watchdog events, polling, kill -9, signals, the lock."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forfait_agent.service import launchd_plist, service_file, systemd_unit, task_xml
from forfait_agent.store import DB_FILE

from .conftest import RPPS_A, cli

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and kill -9 as on POSIX")


def line(ident: str, kind: str = "consultation") -> str:
    return json.dumps({"kind": kind, "id": ident, "at": "2026-03-02T10:00", "practitioner": RPPS_A}) + "\n"


def configure(home: Path, folder: Path, poll: float = 0.5) -> None:
    cli(home, "init", "--folder", str(folder), "--poll-interval", str(poll))


def start(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.Popen(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def count(home: Path) -> int:
    if not (home / DB_FILE).exists():
        return 0
    with sqlite3.connect(home / DB_FILE, timeout=5) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    return proc.returncode, err


@pytest.mark.parametrize("polling", [False, True], ids=["watchdog", "polling"])
def test_appended_lines_reach_the_score_while_running(home: Path, tmp_path: Path, polling: bool):
    folder = tmp_path / "in"
    folder.mkdir()
    configure(home, folder, poll=0.5 if polling else 30)  # without polling, only events can wake it
    proc = start(home, *(["--polling"] if polling else []))
    try:
        assert wait_for(lambda: (home / "agent.lock").exists() and "agent_start" in _log(home))
        with (folder / "journal.jsonl").open("a") as handle:
            handle.write(line("c1"))
        assert wait_for(lambda: count(home) == 1, timeout=10), _log(home)

        def scored() -> bool:
            data = json.loads(cli(home, "score", "--json", "--as-of", "2026-12-31").stdout)
            return bool(data["practitioners"]) and data["practitioners"][0]["metrics"]["dmp"]["denominator"] == 1

        assert wait_for(scored, timeout=10)
        status = json.loads(cli(home, "status", "--json").stdout)
        assert status["running"] is True
        assert list(status["watch_modes"].values()) == ["polling" if polling else "native (linux)"]
        said = "balayage périodique" if polling else "notifications du système"
        assert f"surveillance de {folder} : {said}" in cli(home, "status", env={"COLUMNS": "200"}).stdout
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert f"agent arrêté. Le score à jour : {sys.executable} -m forfait_agent --data-dir {home} score" in err
    assert json.loads((home / "score.json").read_text(encoding="utf-8"))["year"] >= 2026
    assert (home / "score.json").read_bytes().isascii()  # any reader's code page parses it
    assert (home / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert json.loads(cli(home, "status", "--json").stdout)["running"] is False


def _log(home: Path) -> str:
    path = home / "logs" / "forfait-agent.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_second_agent_on_the_same_data_folder_exits_at_once_with_status_0(home: Path, tmp_path: Path):
    """Task Scheduler relaunches the agent every few minutes: a second one must leave quietly,
    successfully (a failure status would be retried and shown as an error in the task's history)."""
    folder = tmp_path / "in"
    folder.mkdir()
    configure(home, folder)
    first = start(home)
    try:
        assert wait_for(lambda: "agent_start" in _log(home))
        second = cli(home, "run", check=False, timeout=30)
        assert second.returncode == 0
        assert "tourne déjà" in second.stderr
    finally:
        stop(first)


def test_run_without_folders_explains_what_to_do(home: Path):
    proc = cli(home, "run", check=False)
    assert proc.returncode == 1 and "aucun dossier à surveiller : lancez « " in proc.stderr and " init »" in proc.stderr


def _snapshot(home: Path) -> tuple[list, list, list]:
    with sqlite3.connect(home / DB_FILE) as db:
        events = db.execute("SELECT kind, id, practitioner, day, detail, flag FROM events ORDER BY kind, id").fetchall()
        counts = db.execute("SELECT * FROM counts WHERE n > 0 ORDER BY 1, 2, 3, 4, 5").fetchall()
        quarantine = db.execute("SELECT source, offset, line_no, reason FROM quarantine ORDER BY 1, 2").fetchall()
    return events, counts, quarantine


MIXED = {
    "fsp": {},
    "prescription": {"electronic": True},
    "fse": {"vitale": "apcv"},
    "teleservice": {"service": "aat", "online": True},
}


def _committed_files(home: Path) -> int:
    if not (home / DB_FILE).exists():
        return 0
    with sqlite3.connect(home / DB_FILE, timeout=5) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM files WHERE offset > 0").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_kill_9_at_20_points_of_a_mixed_ingest_loses_and_doubles_nothing(home: Path, tmp_path: Path):
    """Each run gets a growing journal and four new files of other kinds, and is killed -9 once
    the store shows 1, 2 or 3 of those files committed (state we observe, not time we guess):
    the store after a last run equals a clean scan of the same files."""
    folder = tmp_path / "in"
    folder.mkdir()
    configure(home, folder, poll=0.2)
    journal, written, expected, proc = folder / "journal.jsonl", 0, 0, None
    try:
        for run in range(20):
            with journal.open("a", encoding="utf-8") as handle:  # resumed mid-file at every run
                for i in range(written, written + 1500):
                    handle.write(line(f"c{i}") if i % 97 else "damaged line\n")
                    expected += 1 if i % 97 else 0
            written += 1500
            for kind, fields in MIXED.items():
                lines = [
                    json.dumps({**json.loads(line(f"{kind}-{run}-{i}", kind)), **fields}) + "\n"
                    if i % 89
                    else "{not json\n"
                    for i in range(1500)
                ]
                (folder / f"{kind}-{run}.jsonl").write_text("".join(lines), encoding="utf-8")
                expected += sum(1 for i in range(1500) if i % 89)
            before = _committed_files(home)
            proc = start(home)
            target = before + 1 + run % 3
            assert wait_for(lambda target=target: _committed_files(home) >= target, timeout=120), run
            proc.kill()
            proc.wait(timeout=10)
        proc = start(home)
        assert wait_for(lambda: count(home) == expected, timeout=240), (count(home), expected)
    finally:
        if proc is not None and proc.poll() is None:
            stop(proc)
    clean = tmp_path / "clean"
    cli(clean, "scan", str(folder), check=False)
    live, fresh = _snapshot(home), _snapshot(clean)
    assert live[:2] == fresh[:2]
    assert set(live[2]) ^ set(fresh[2]) == set(), (len(live[2]), len(fresh[2]))
    assert live == fresh


def test_service_definitions_are_well_formed(tmp_path: Path):
    import plistlib
    import shutil
    import xml.etree.ElementTree as ET

    command = [sys.executable, "-m", "forfait_agent", "--data-dir", str(tmp_path), "run"]
    unit = systemd_unit(command, tmp_path)
    assert f"ExecStart={sys.executable} -m forfait_agent --data-dir {tmp_path} run" in unit
    plist = plistlib.loads(launchd_plist(command, tmp_path))
    assert plist["ProgramArguments"] == command and plist["RunAtLoad"] is True
    root = ET.fromstring(task_xml(command, "CABINET\\drmartin", tmp_path).replace('encoding="UTF-16"', ""))
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    assert root.find(".//t:LogonTrigger/t:UserId", ns).text == "CABINET\\drmartin"
    assert root.find(".//t:RunLevel", ns).text == "LeastPrivilege"
    assert root.find(".//t:Exec/t:Command", ns).text == sys.executable
    windows = service_file(tmp_path, None, platform="win32")
    assert windows.content.decode("utf-16").startswith('<?xml version="1.0" encoding="UTF-16"?>')
    if shutil.which("systemd-analyze"):
        unit_path = tmp_path / "forfait-agent.service"
        unit_path.write_text(unit, encoding="utf-8")
        proc = subprocess.run(["systemd-analyze", "verify", str(unit_path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "forfait-agent.service" not in proc.stderr, proc.stderr


def test_service_show_prints_what_would_be_installed(home: Path):
    out = cli(home, "service", "show").stdout
    assert "forfait_agent" in out and str(home) in out
