"""Shared fixtures: a fresh data folder, canonical event builders, the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from forfait_agent import Adapter, Record

RPPS_A = "10101010101"
RPPS_B = "10202020202"
TEST_INS = "279035121518989"  # the ANS test INS, never a real person
# The day every command and App of the suite believes it is (FORFAIT_AGENT_TODAY, the injectable
# "today"): assertions on scores, projections and campaigns hold whatever the machine's date.
FROZEN_TODAY = "2026-12-06"


@pytest.fixture(scope="session", autouse=True)
def frozen_today() -> Iterator[None]:
    """Without it the suite turned red by itself on 1 January (a test may set another day).
    Session-wide, so that module fixtures (a demo built once) see the same day as the tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FORFAIT_AGENT_TODAY", FROZEN_TODAY)
        yield


@pytest.fixture(scope="session", autouse=True)
def venv_not_on_path() -> Iterator[None]:
    """The commands the CLI suggests depend on what PATH finds (`python -m forfait_agent` when the
    virtualenv is activated, its full path otherwise): tests expect the latter, so the suite
    gives the same verdict whether or not the developer activated the virtualenv."""
    bin_dir = os.path.realpath(os.path.dirname(sys.executable))
    kept = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != bin_dir]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.pathsep.join(kept))
        patch.delenv("VIRTUAL_ENV", raising=False)
        yield


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def ev(kind: str, id: str, at: str = "2026-03-02T10:00:00", practitioner: str = RPPS_A, **fields: Any) -> dict:
    return {"kind": kind, "id": id, "at": at, "practitioner": practitioner, **fields}


def write_jsonl(path: Path, events: Iterable[dict | str], *, newline: str = "\n") -> Path:
    lines = [e if isinstance(e, str) else json.dumps(e, ensure_ascii=False) for e in events]
    path.write_text(newline.join(lines) + newline, encoding="utf-8", newline="")
    return path


def cli(
    home: Path, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m forfait_agent --data-dir HOME ARGS…` as a user would."""
    full_env = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    full_env.pop("FORFAIT_AGENT_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=full_env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def score_json(home: Path, *args: str) -> dict:
    return json.loads(cli(home, "score", "--json", *args).stdout)


def practitioner(score: dict, rpps: str) -> dict:
    return next(p for p in score["practitioners"] if p["rpps"] == rpps)


def indicator(entry: dict, ident: str) -> dict:
    return next(i for i in entry["indicators"] if i["id"] == ident)


class SemicolonAdapter(Adapter):
    """A cp1252 `id;date` journal, as many LGC exports are."""

    name = "semicolon"
    patterns = ("*.csv",)
    encoding = "cp1252"

    def parse(self, record: Record):
        ident, at = record.text.split(";")
        return [{"kind": "consultation", "id": ident, "at": at, "practitioner": RPPS_A}]


@pytest.fixture
def env(tmp_path: Path):
    """A watched folder, its App and a Tailer (what `run` sweeps), with a cp1252 CSV adapter."""
    from forfait_agent.app import App
    from forfait_agent.config import Settings, WatchedFolder
    from forfait_agent.tailer import Tailer

    folder = tmp_path / "in"
    folder.mkdir()
    app = App(tmp_path / "home")
    app.__dict__["settings"] = Settings(folders=[WatchedFolder(path=folder)])
    app.ingestor.adapters["semicolon"] = SemicolonAdapter()
    tailer = Tailer(app.ingestor, app.settings, app.log)
    yield folder, app, tailer
    app.close()


def score_through_store(events: Iterable[dict], rules: Any, as_of: Any) -> Any:
    """Events → a real SQLite store (through the ingestor's event → row mapping) → Score."""
    import tempfile

    import structlog

    from forfait_agent.events import Declaration, parse_event
    from forfait_agent.ingest import Ingestor
    from forfait_agent.privacy import Hasher
    from forfait_agent.scoring import Window, compute_score
    from forfait_agent.store import Store

    window = Window(rules.year, as_of)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp)) as store:
        ingestor = Ingestor(store, {}, Hasher(b"test salt"), structlog.get_logger())
        parsed = [parse_event(e) for e in events]
        with store.transaction():
            store.insert_events([ingestor.event_row(e, None) for e in parsed if not isinstance(e, Declaration)])
            store.insert_declarations([ingestor.declaration_row(e) for e in parsed if isinstance(e, Declaration)])
        tallies = store.tallies(window.start, window.end, rules.link_windows)
        return compute_score(rules, as_of, {k: v[""] for k, v in tallies.items()}, store.declarations(rules.year))
