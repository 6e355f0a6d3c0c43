"""The agent under faults that are not in the files: a database locked by another process, an
exception in its own loop, a failure between saving a position and inserting events, and
whatever bytes a line may hold (hypothesis through the real ingestion)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forfait_agent import agent as agent_module
from forfait_agent.agent import Agent
from forfait_agent.app import App
from forfait_agent.events import PARIS, Consultation
from forfait_agent.store import DB_FILE

from .conftest import RPPS_A, cli, ev, write_jsonl

HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
print("released", flush=True)
sys.stdin.readline()
"""


class LockHolder:
    """Another process holding the database's write lock until told to release it."""

    def __init__(self, home: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(home / DB_FILE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def wait_for(predicate, timeout: float = 60.0) -> bool:
    """Poll an observable state (never a fixed sleep standing for progress)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def logs(home: Path) -> str:
    folder = home / "logs"
    return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.log*"))) if folder.exists() else ""


def count(home: Path) -> int:
    with sqlite3.connect(home / DB_FILE, timeout=5) as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def lines(n: int, prefix: str = "c") -> list[dict]:
    return [ev("consultation", f"{prefix}{i}") for i in range(n)]


@pytest.mark.skipif(os.name != "posix", reason="stops the agent with SIGTERM")
def test_agent_waits_for_a_database_locked_by_another_process(home: Path, tmp_path: Path):
    import signal

    folder = tmp_path / "in"
    folder.mkdir()
    cli(home, "init", "--folder", str(folder), "--poll-interval", "0.2")
    cli(home, "status")  # the store exists and is migrated: the other process can lock it
    write_jsonl(folder / "journal.jsonl", lines(3))
    holder = LockHolder(home)
    agent = subprocess.Popen(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    try:
        # The agent meets the lock, says so, and keeps waiting (far beyond SQLite's own timeout).
        assert wait_for(lambda: "database_busy" in logs(home) or agent.poll() is not None)
        assert agent.poll() is None, agent.communicate()
        assert count(home) == 0
        busy = [json.loads(x) for x in logs(home).splitlines() if '"database_busy"' in x]
        assert "verrouillée" in busy[0]["summary"]
        holder.release()
        assert wait_for(lambda: count(home) == 3), logs(home)
        assert agent.poll() is None
        write_jsonl(folder / "second.jsonl", lines(2, "d"))
        assert wait_for(lambda: count(home) == 5)
    finally:
        holder.close()
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=30)
    assert agent.returncode == 0, err
    assert "agent_error" not in logs(home)


def test_scan_waits_for_a_locked_database_then_gives_up_in_french(home: Path, tmp_path: Path):
    path = write_jsonl(tmp_path / "journal.jsonl", lines(3))
    cli(home, "status")
    holder = LockHolder(home)
    try:
        proc = cli(home, "scan", str(path), check=False, env={"FORFAIT_AGENT_SCAN_LOCK_WAIT": "1"})
        assert proc.returncode == 2
        assert "verrouillée par un autre programme" in proc.stderr and "relancez" in proc.stderr
        assert count(home) == 0
        with sqlite3.connect(home / DB_FILE) as db:
            assert db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 0  # nothing consumed
        # Within its bound, a scan just waits: released while it waits, it does all its work.
        scan = subprocess.Popen(
            [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "scan", "--json", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        assert "attente" in scan.stderr.readline()
        holder.release()
        out, _ = scan.communicate(timeout=60)
    finally:
        holder.close()
    assert scan.returncode == 0
    assert json.loads(out)["new"] == 3


class SpyEvent(threading.Event):
    """An Event that remembers every timeout it was waited with."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return super().wait(timeout)


def test_agent_loop_survives_exceptions_and_waits_in_slices(home: Path, tmp_path: Path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(folder / "journal.jsonl", lines(4))
    (home / "config.toml").write_text(
        f"rescan_interval = 3600\npoll_interval = 3600\n[[folders]]\npath = {json.dumps(str(folder))}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(agent_module, "RESTART_FIRST", 2.5)  # longer than a slice: it must be sliced too
    app = App(home)
    agent = Agent(app, force_polling=True)
    agent.stop, agent.watcher.wake = SpyEvent(), SpyEvent()
    sweeps = {"n": 0}
    real_sweep = agent.tailer.sweep

    def failing_once(only, renamed):
        sweeps["n"] += 1
        if sweeps["n"] == 1:
            raise RuntimeError("panne imprévue")
        return real_sweep(only, renamed)

    agent.tailer.sweep = failing_once
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: count(home) == 4)
        assert wait_for(lambda: len(agent.watcher.wake.timeouts) >= 3)  # idle: waiting for changes
    finally:
        agent.stop.set()
        agent.watcher.wake.set()
        thread.join(30)
    assert not thread.is_alive()
    app.close()
    errors = [json.loads(x) for x in logs(home).splitlines() if '"agent_error"' in x]
    assert len(errors) == 1
    assert errors[0]["summary"] == "Erreur inattendue (RuntimeError) : l'agent reprend dans 2.5 s."
    assert "panne imprévue" in errors[0]["exception"]
    waits = [t for t in agent.stop.timeouts + agent.watcher.wake.timeouts if t is not None]
    assert len(agent.stop.timeouts) >= 3  # the 2.5 s back-off, in slices
    assert waits and max(waits) <= agent_module.WAIT_SLICE


def test_a_crash_loop_backs_off_doubling_up_to_the_ceiling(home: Path, tmp_path: Path, monkeypatch):
    """Each failure in a row doubles the pause before the next pass (capped): a bug that fails at
    once does not spin the old PC's processor, and the agent is still there when it goes away."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(folder / "journal.jsonl", lines(2))
    (home / "config.toml").write_text(
        f"rescan_interval = 3600\npoll_interval = 3600\n[[folders]]\npath = {json.dumps(str(folder))}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(agent_module, "RESTART_MAX", 5.0)
    app = App(home)
    agent = Agent(app, force_polling=True)
    pauses: list[float] = []
    real_wait = Agent._wait

    def wait(event: threading.Event, timeout: float) -> bool:
        if event is agent.stop:  # the back-off: recorded, not slept
            pauses.append(timeout)
            return False
        if count(home) == 2:  # healthy again and idle: the test is over
            agent.stop.set()
        return real_wait(event, min(timeout, 0.05))

    monkeypatch.setattr(agent, "_wait", wait)
    real_sweep = agent.tailer.sweep
    failures = iter(range(5))

    def sweep(only, renamed):
        if next(failures, None) is not None:
            raise OSError(28, "No space left on device")
        return real_sweep(only, renamed)

    agent.tailer.sweep = sweep
    agent.run()
    app.close()
    assert pauses == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert count(home) == 2
    summaries = [json.loads(x)["summary"] for x in logs(home).splitlines() if '"agent_error"' in x]
    assert summaries[-1] == "Erreur inattendue (OSError) : l'agent reprend dans 5 s."


def test_failure_between_saving_a_position_and_inserting_events_rolls_back(home: Path, tmp_path: Path, monkeypatch):
    path = write_jsonl(tmp_path / "journal.jsonl", lines(5))
    app = App(home)
    adapter, ctx = app.plugins.adapters["jsonl"], app.settings.context()
    store = app.store
    saved = []
    real_save, real_insert = store.save_position, store.insert_events

    def save_position(pos):
        saved.append(pos.offset)
        return real_save(pos)

    def insert_events(rows):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "save_position", save_position)
    monkeypatch.setattr(store, "insert_events", insert_events)
    with pytest.raises(sqlite3.OperationalError):
        app.ingestor.ingest_file(path, adapter, ctx, final=True)
    assert saved == [path.stat().st_size]  # the position was saved in the transaction…
    assert store.position(str(path.resolve()), "jsonl") is None  # …and rolled back with it
    assert count(home) == 0
    # Through scan: the file is reported unread (exit 2 in the CLI), nothing is lost.
    report = app.ingestor.scan([path], context=ctx)
    assert report.unread_records() == 5 and "base de données indisponible" in report.errors[0]
    monkeypatch.setattr(store, "insert_events", real_insert)
    result = app.ingestor.ingest_file(path, adapter, ctx, final=True)
    assert (result.new, result.known) == (5, 0)
    assert store.position(str(path.resolve()), "jsonl").offset == path.stat().st_size
    app.close()


class _OddIds:
    """An adapter that builds its events itself (`model_construct`, no validation) and gives some
    an id SQLite cannot store: a lone surrogate, as text decoded with `surrogateescape` carries."""

    name = "odd"
    patterns = ("*.odd",)
    framing = "line"
    encoding = "utf-8"

    def parse(self, record):
        at = datetime(2026, 3, 2, 10, tzinfo=PARIS)
        ident = record.text.replace("BAD", "\udcff")
        return [Consultation.model_construct(kind="consultation", id=ident, at=at, practitioner=RPPS_A)]


def test_a_damaged_page_of_the_practitioners_table_is_a_damaged_store(home: Path, tmp_path: Path):
    """The store was opened, then its first query failed: `scan` ended on « database disk image
    is malformed » at every run instead of setting the store aside and rebuilding it."""
    journal = write_jsonl(tmp_path / "journal.jsonl", [ev("consultation", f"c{i}") for i in range(5)])
    cli(home, "scan", str(journal))
    with sqlite3.connect(home / DB_FILE) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'practitioners'").fetchone()
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with (home / DB_FILE).open("r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xa5" * page_size)
    proc = cli(home, "scan", str(journal))
    assert "endommagée" in proc.stderr
    assert len(list(home.glob("forfait-agent.endommagee-*.sqlite3"))) == 1
    assert json.loads(cli(home, "status", "--json").stdout)["events"] == 5


def test_a_value_sqlite_refuses_quarantines_its_record_alone(home: Path, tmp_path: Path):
    path = tmp_path / "j.odd"
    path.write_text("a1\nBAD-2\na3\nBAD-4\na5\n", encoding="utf-8")
    app = App(home)
    app.ingestor.adapters["odd"] = _OddIds()
    report = app.ingestor.scan([path], context=app.settings.context())
    app.close()
    (result,) = report.files
    assert (result.new, result.quarantined, dict(result.reasons)) == (3, 2, {"internal_error": 2})
    with sqlite3.connect(home / DB_FILE) as db:
        assert [r[0] for r in db.execute("SELECT id FROM events ORDER BY id")] == ["a1", "a3", "a5"]
        rows = db.execute("SELECT line_no, message FROM quarantine ORDER BY line_no").fetchall()
    assert [r[0] for r in rows] == [2, 4]
    assert "UnicodeEncodeError" in rows[0][1]


# -- any line through the real ingestion --------------------------------------------------------
def _good(i: int) -> bytes:
    return json.dumps(ev("consultation", f"good-{i}")).encode()


_bad_line = st.one_of(
    st.binary(min_size=0, max_size=300).map(lambda b: b"#" + b.replace(b"\n", b"").replace(b"\r", b"")),
    st.integers(1, 20_000).map(lambda d: b"[" * d),
    st.integers(1, 20_000).map(lambda d: b"[" * d + b"]" * d),
    st.integers(1, 20_000).map(lambda d: b'{"kind": "consultation", "x": ' + b"{" * d + b"}" * d + b"}"),
    st.integers(1, 5_000).map(lambda d: b'{"kind": "consultation", "id": ' + b"[" * d + b"}"),
    st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2026-02-30T10:00"]).map(
        lambda at: json.dumps(ev("consultation", "bad-date", at=at)).encode()
    ),
    st.text(max_size=80).map(lambda t: json.dumps({"kind": t, "id": "x"}).encode() if t != "consultation" else b"#"),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.booleans(), _bad_line), min_size=1, max_size=25))
def test_any_line_is_counted_or_quarantined_never_an_exception(items):
    body, good = [], 0
    for is_good, bad in items:
        if is_good:
            body.append(_good(good))
            good += 1
        else:
            body.append(bad)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        path = Path(tmp) / "lines.jsonl"
        path.write_bytes(b"\n".join(body) + b"\n")
        app = App(home)
        try:
            report = app.ingestor.scan([path], context=app.settings.context())
        finally:
            app.close()
    assert report.errors == []
    assert report.total("new") == good
    assert report.total("quarantined") == len(body) - good


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name == "nt", reason="POSIX signals")
def test_a_signal_landing_while_the_loop_holds_its_events_lock_still_stops_the_agent(
    home: Path, tmp_path: Path, monkeypatch
):
    """A Python signal handler runs between two bytecodes of the main thread — possibly inside
    `Event.wait`, holding the event's lock. A handler that set the event itself waited for that
    lock forever (an agent that ignored SIGTERM). Here the signal lands exactly there: the handler
    must return at once, and the agent must be told to stop as soon as the lock is free."""
    folder = tmp_path / "in"
    folder.mkdir()
    (home / "config.toml").write_text(f"[[folders]]\npath = {json.dumps(str(folder))}\n", encoding="utf-8")
    app = App(home)
    agent = Agent(app, force_polling=True)
    installed: dict[int, object] = {}
    monkeypatch.setattr(agent_module.signal, "signal", lambda sig, handler: installed.setdefault(sig, handler))
    agent.install_signal_handlers()
    handler = installed[signal.SIGTERM]

    def signal_while_holding_the_locks() -> None:
        with agent.stop._cond, agent.watcher.wake._cond:  # where Event.wait may be interrupted
            handler(signal.SIGTERM, None)

    thread = threading.Thread(target=signal_while_holding_the_locks, daemon=True)
    thread.start()
    thread.join(30)
    try:
        assert not thread.is_alive(), "the signal handler waited for a lock its own thread held"
        assert agent.stop.wait(30) and agent.watcher.wake.wait(30)
    finally:
        app.close()
