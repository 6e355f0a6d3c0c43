"""Live latency: while `forfait-agent run` is active, a writer appends lines; how long until
the line shows in `score.json` — the file the agent rewrites for the user and other programs
(append → score updated, what a user sees), not merely the row in the events table?

    python bench/latency.py [--lines 200] [--rate 20] [--burst 2000]

Two phases: a realistic pace (`--rate` lines per second, one at a time, like an LGC writing its
journal) and a burst (`--burst` lines written at once, like an export dropped in one go).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from common import save, table

RPPS = "10101010101"
# The agent scores the current year up to today: 1 January of this year is always inside it.
AT = f"{date.today().year}-01-01T08:00"


def line(ident: str) -> str:
    return json.dumps({"kind": "consultation", "id": ident, "at": AT, "practitioner": RPPS})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def consultations(score_file: Path) -> int:
    """Consultations of RPPS in score.json (the denominator of the `dmp` metric); 0 if not written yet."""
    try:
        score = json.loads(score_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not written yet, or caught between write and rename
        return 0
    for practitioner in score.get("practitioners", []):
        if practitioner["rpps"] == RPPS:
            return practitioner["metrics"]["dmp"]["denominator"]
    return 0


class Observer(threading.Thread):
    """Polls score.json from its own thread and notes when each consultation count first shows,
    so the writer keeps its pace whatever the agent does."""

    def __init__(self, score_file: Path) -> None:
        super().__init__(daemon=True)
        self.score_file = score_file
        self.first_seen: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        seen = 0
        while True:
            # One more look once told to stop: the main thread may have seen the last count first.
            stopping = self.done.is_set()
            now, count = time.perf_counter(), consultations(self.score_file)
            for n in range(seen + 1, count + 1):
                self.first_seen[n] = now
            seen = max(seen, count)
            if stopping:
                return
            time.sleep(0.002)


def wait_counted(score_file: Path, expected: int, timeout: float = 30.0) -> float | None:
    """The moment score.json first counts `expected` consultations."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if consultations(score_file) >= expected:
            return time.perf_counter()
        time.sleep(0.002)
    return None


def stop_agent(agent: subprocess.Popen, home: Path) -> None:
    """Wait for the agent asked to stop (it writes its last score first; a busy machine is slow,
    not wrong); one that does not stop is killed and reported with the end of its logs."""
    try:
        agent.wait(timeout=120)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait()
        logs = sorted((home / "logs").glob("*.log*"))
        tail = "".join(log.read_text(encoding="utf-8", errors="replace")[-3000:] for log in logs)
        raise SystemExit(f"the agent did not stop within 120 s of SIGTERM; its logs end with:\n{tail}") from None


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
            score_file = home / "score.json"
            if wait_counted(score_file, 1, timeout=120) is None:
                raise SystemExit("the agent did not start")
            observer = Observer(score_file)
            observer.start()
            written_at = []
            started = time.perf_counter()
            with journal.open("a", encoding="utf-8") as handle:
                for i in range(args.lines):  # a steady pace, whatever the agent does
                    time.sleep(max(0.0, started + i / args.rate - time.perf_counter()))
                    handle.write(line(f"paced-{i}") + "\n")
                    handle.flush()
                    written_at.append(time.perf_counter())
            wait_counted(score_file, args.lines + 1, timeout=120)  # a busy machine is slow, not wrong
            observer.done.set()
            observer.join()
            paced = [observer.first_seen.get(i + 2, float("inf")) - t for i, t in enumerate(written_at)]
            with journal.open("a", encoding="utf-8") as handle:
                handle.write("".join(line(f"burst-{i}") + "\n" for i in range(args.burst)))
            written = time.perf_counter()
            counted = wait_counted(score_file, args.lines + 1 + args.burst, timeout=120)
            burst = (counted or float("inf")) - written
        finally:
            agent.terminate()
            stop_agent(agent, home)
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
            ("append → score.json", "p50", "p99"),
        )
    )
    print(f"→ {path}")


if __name__ == "__main__":
    main()
