"""Every benchmark runs end to end at a tiny scale, so none of them rots (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run(script: str, *args: str) -> dict:
    name = f"smoke-{script.removesuffix('.py')}"
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--name", name],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCH,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = BENCH / "results" / f"{name}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()  # smoke results are not results
    assert data["machine"]["cores"]
    return data


def test_generate_is_deterministic(tmp_path: Path):
    for out in ("a", "b"):
        subprocess.run(
            [
                sys.executable,
                str(BENCH / "generate.py"),
                str(tmp_path / out),
                "--practitioners",
                "2",
                "--years",
                "1",
                "--csv",
            ],
            check=True,
            capture_output=True,
            cwd=BENCH,
        )
    for name in ("events.jsonl", "journal_fse_bench.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_backfill_smoke():
    data = run("backfill.py", "--practitioners", "1", "--years", "1", "--naive-limit", "2000")
    assert data["agent"]["new"] == data["input"]["events"]
    assert data["ratio_agent_to_naive"] > 0 and data["peak_rss_mb"]["agent_jsonl"] > 0
    # Both references of issue 14 ran on the same file (msgspec comes with the test extra).
    assert data["ratio_agent_to_unvalidated_loader"] > 0 and data["ratio_agent_to_strong_pipeline"] > 0


def test_latency_smoke():
    data = run("latency.py", "--lines", "5", "--rate", "20", "--burst", "50")
    # Every paced line and the whole burst showed up in score.json (inf would mean never).
    assert data["paced"]["max_s"] < 60 and data["burst"]["all_counted_s"] < 60


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_footprint_smoke():
    data = run("footprint.py", "--idle", "1", "--starts", "1", "--folders", "2", "--files", "3")
    assert data["idle"]["rss_mb"] > 0 and data["cold_start"]["help_s"] > 0


def test_scaling_smoke():
    data = run("scaling.py", "--sizes", "1000,5000", "--repeat", "1")
    assert [r["events"] for r in data["sizes"]] == [1000, 5000]


def test_crash_smoke():
    data = run("crash.py", "--kills", "2", "--chunk", "3000")
    assert (data["lost"], data["doubled"], data["identical_to_clean_ingest"]) == (0, 0, True)


def test_mbox_smoke():
    data = run("mbox.py", "--messages", "50", "--big-mb", "1")
    assert data["messages"] == 51 and data["append_one"]["records_read"] == 1
