"""Live latency: while `forfait-agent run` is active, a writer appends lines; how long until
the line is counted in the store that `score` reads (append → score updated)?

    python bench/latency.py [--lines 200] [--rate 20] [--burst 2000]

Two phases: a realistic pace (`--rate` lines per second, one at a time, like an LGC writing its
journal) and a burst (`--burst` lines written at once, like an export dropped in one go).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save, table


def line(ident: str) -> str:
    return json.dumps({"kind": "consultation", "id": ident, "at": "2026-03-02T10:00", "practitioner": "10101010101"})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_counted(db: sqlite3.Connection, ident: str, timeout: float = 30.0) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if db.execute("SELECT 1 FROM events WHERE kind = 'consultation' AND id = ?", (ident,)).fetchone():
            return time.perf_counter()
        time.sleep(0.002)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200, help="lines written at the realistic pace")
    parser.add_argument("--rate", type=float, default=20.0, help="lines per second at the realistic pace")
    parser.add_argument("--burst", type=int, default=2000, help="lines written at once")
    parser.add_argument("--polling", action="store_true", help="force the polling observer")
    parser.add_argument("--name", default="latency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder, home = tmp / "in", tmp / "home"
        folder.mkdir()
        run = [sys.executable, "-m", "forfait_agent", "--data-dir", str(home)]
        subprocess.run([*run, "init", "--folder", str(folder), "--poll-interval", "5"], check=True, capture_output=True)
        agent = subprocess.Popen(
            [*run, "run", *(["--polling"] if args.polling else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        try:
            journal = folder / "journal.jsonl"
            journal.write_text(line("warm-up") + "\n", encoding="utf-8")
            time.sleep(0.5)
            db = sqlite3.connect(home / "forfait-agent.sqlite3", timeout=10)
            if wait_counted(db, "warm-up") is None:
                raise SystemExit("the agent did not start")
            paced = []
            with journal.open("a", encoding="utf-8") as handle:
                for i in range(args.lines):
                    ident = f"paced-{i}"
                    handle.write(line(ident) + "\n")
                    handle.flush()
                    written = time.perf_counter()
                    counted = wait_counted(db, ident)
                    paced.append((counted or float("inf")) - written)
                    time.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - written)))
            with journal.open("a", encoding="utf-8") as handle:
                handle.write("".join(line(f"burst-{i}") + "\n" for i in range(args.burst)))
            written = time.perf_counter()
            counted = wait_counted(db, f"burst-{args.burst - 1}", timeout=120)
            burst = (counted or float("inf")) - written
            db.close()
        finally:
            agent.terminate()
            agent.wait(timeout=30)
    result = {
        "paced": {
            "lines": args.lines,
            "rate_per_s": args.rate,
            "p50_s": round(percentile(paced, 0.5), 4),
            "p99_s": round(percentile(paced, 0.99), 4),
            "max_s": round(max(paced), 4),
        },
        "burst": {
            "lines": args.burst,
            "all_counted_s": round(burst, 4),
            "lines_per_s": round(args.burst / burst) if burst else None,
        },
        "observer": "polling" if args.polling else "native",
        "goal": {"p99_s": 1.0},
    }
    path = save(args.name, result)
    print(
        table(
            [
                (
                    f"paced, {args.rate:g}/s",
                    f"{result['paced']['p50_s'] * 1000:.0f} ms",
                    f"{result['paced']['p99_s'] * 1000:.0f} ms",
                ),
                (f"burst of {args.burst}", "—", f"{burst * 1000:.0f} ms for all"),
            ],
            ("append → counted", "p50", "p99"),
        )
    )
    print(f"→ {path}")


if __name__ == "__main__":
    main()
