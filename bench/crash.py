"""Crash safety at scale: kill -9 the live agent at random points of a large ingest, many times,
then compare the store with a clean single ingest of the same files.

    python bench/crash.py [--kills 100] [--chunk 20000]

Before each run the journal grows by `--chunk` lines (a few damaged), so every run has work in
progress when it is killed. Reports how many events were lost or doubled (both must be 0) and
how many events were stored when each kill landed.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save, table

SNAPSHOT = (
    "SELECT kind, id, practitioner, day, detail, flag FROM events ORDER BY kind, id",
    "SELECT practitioner, day, kind, detail, flag, n FROM counts WHERE n > 0 ORDER BY 1, 2, 3, 4, 5",
    "SELECT offset, line_no, reason FROM quarantine ORDER BY offset",
)


def snapshot(db_path: Path) -> list[list[tuple]]:
    with sqlite3.connect(db_path) as db:
        return [db.execute(query).fetchall() for query in SNAPSHOT]


def stored(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            return db.execute("SELECT COALESCE(SUM(n), 0) FROM counts").fetchone()[0]
    except sqlite3.Error:
        return 0


def append(path: Path, start: int, count: int) -> int:
    """Append lines `start`…`start + count - 1` (every 997th damaged); return the new total."""
    with path.open("a", encoding="utf-8") as handle:
        for i in range(start, start + count):
            if i % 997 == 0:
                handle.write("damaged line\n")
                continue
            handle.write(
                json.dumps(
                    {"kind": "consultation", "id": f"c{i}", "at": "2026-03-02T10:00", "practitioner": "10101010101"}
                )
                + "\n"
            )
    return start + count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=20_000, help="lines appended before each run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="crash")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder, home, clean = tmp / "in", tmp / "home", tmp / "clean"
        folder.mkdir()
        run = [sys.executable, "-m", "forfait_agent", "--data-dir", str(home)]
        subprocess.run(
            [*run, "init", "--folder", str(folder), "--poll-interval", "0.2"], check=True, capture_output=True
        )
        progress = []
        written = 0
        for _ in range(args.kills):
            written = append(folder / "big.jsonl", written, args.chunk)
            agent = subprocess.Popen([*run, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.2, 1.2))
            agent.kill()
            agent.wait()
            progress.append(stored(home / "forfait-agent.sqlite3"))
        agent = subprocess.Popen([*run, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        expected = written - len(range(0, written, 997))
        deadline = time.monotonic() + 600
        while stored(home / "forfait-agent.sqlite3") < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        agent.terminate()
        agent.wait()
        subprocess.run(
            [sys.executable, "-m", "forfait_agent", "--data-dir", str(clean), "scan", str(folder)],
            check=True,
            capture_output=True,
        )
        got, want = snapshot(home / "forfait-agent.sqlite3"), snapshot(clean / "forfait-agent.sqlite3")
    got_ids, want_ids = {r[:2] for r in got[0]}, {r[:2] for r in want[0]}
    result = {
        "kills": args.kills,
        "lines": written,
        "lost": len(want_ids - got_ids),
        "doubled": sum(r[-1] for r in got[1]) - len(got[0]),
        "identical_to_clean_ingest": got == want,
        "stored_at_each_kill": progress,
    }
    path = save(args.name, result)
    print(
        table(
            [(str(args.kills), str(result["lost"]), str(result["doubled"]), str(result["identical_to_clean_ingest"]))],
            ("kill -9", "events lost", "events doubled", "identical to a clean ingest"),
        )
    )
    print(f"→ {path}")


if __name__ == "__main__":
    main()
