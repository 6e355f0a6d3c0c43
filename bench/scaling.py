"""Scaling: how long `score` takes as the store grows from 10 thousand to 10 million events.

    python bench/scaling.py [--sizes 10000,100000,1000000,10000000]

Events are inserted straight through the store (the ingestion path is measured by backfill.py);
at each size the score of the last year is computed several times and the median kept, beside
a reference measured in the same run: the same aggregate computed straight from the events
table, which is what a score without the per-day counts would cost.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import save, table

from forfait_agent.app import App

DIRECT = (
    "SELECT practitioner, kind, detail, flag, COUNT(*) FROM events"
    " WHERE day BETWEEN '2025-01-01' AND '2025-12-31' GROUP BY 1, 2, 3, 4"
)
KINDS = ("consultation", "fse", "fsp", "prescription", "mss_message", "dmp_document", "teleservice")
SERVICES = ("aat", "dmt", "pse", "atmp", "spe", "dsg")


def rows(start: int, stop: int, rng: random.Random) -> list[tuple]:
    first = date(2023, 1, 1)
    out = []
    for i in range(start, stop):
        kind = rng.choice(KINDS)
        detail = (
            rng.choice(("carte", "apcv")) if kind == "fse" else (rng.choice(SERVICES) if kind == "teleservice" else "")
        )
        day = first + timedelta(days=rng.randrange(3 * 365))
        out.append(
            (
                kind,
                f"e{i:09d}",
                f"{20000000000 + rng.randrange(30) * 7919:011d}",
                day.isoformat(),
                f"{day.isoformat()}T10:00:00+01:00",
                None,
                detail,
                rng.randrange(2),
                None,
                None,
                None,
            )
        )
    return out


def median_seconds(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--name", default="scaling")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = random.Random(7)
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        app = App(Path(tmp_name))
        done = 0
        for size in sizes:
            while done < size:
                chunk = rows(done, min(size, done + 50_000), rng)
                with app.store.transaction():
                    app.store.insert_events(chunk)
                done += len(chunk)
            score_s = median_seconds(lambda: app.score(2025, date(2025, 12, 31)), args.repeat)
            db = sqlite3.connect(app.store.path)
            scan_s = median_seconds(lambda db=db: db.execute(DIRECT).fetchall(), args.repeat)
            db.close()
            results.append(
                {
                    "events": size,
                    "score_s": round(score_s, 4),
                    "direct_s": round(scan_s, 4),
                    "score_over_direct": round(score_s / scan_s, 3) if scan_s else None,
                }
            )
            print(
                f"{size:>12,} events: score {score_s * 1000:.1f} ms, aggregate over events {scan_s * 1000:.1f} ms",
                flush=True,
            )
        app.close()
    path = save(args.name, {"sizes": results, "goal": {"score_s_at_10M": 1.0}})
    print(
        table(
            [
                (
                    f"{r['events']:,}",
                    f"{r['score_s'] * 1000:.1f} ms",
                    f"{r['direct_s'] * 1000:.1f} ms",
                    str(r["score_over_direct"]),
                )
                for r in results
            ],
            ("events in store", "score", "aggregate over events", "score ÷ direct"),
        )
    )
    print(f"→ {path}")


if __name__ == "__main__":
    main()
