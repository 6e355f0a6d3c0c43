"""Scaling: how long `score` takes as the store grows from 10 thousand to 10 million events,
linked metrics (DMP and MSS consultations linked to documents and messages) included.

    python bench/scaling.py [--sizes 10000,100000,1000000,10000000]

Events are inserted straight through the store, which links and counts them (the whole ingestion
path is measured by backfill.py); insert cost per event and table size per million events are
reported too;
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
from forfait_agent.store import day_number

DIRECT = (
    "SELECT practitioner, kind, detail, flag, COUNT(*) FROM events"
    f" WHERE day BETWEEN {day_number(date(2025, 1, 1))} AND {day_number(date(2025, 12, 31))} GROUP BY 1, 2, 3, 4"
)
KINDS = ("fse", "fsp", "prescription", "mss_message", "teleservice")
SERVICES = ("aat", "dmt", "pse", "atmp", "spe", "dsg")
PATIENTS = 3000  # per practitioner


def rows(start: int, stop: int, rng: random.Random) -> list[tuple]:
    """Visits: a consultation of one of the practitioner's patients (1 in 10 without a patient
    id), a DMP document for a third of them (same day to two days later) and a message to the
    patient for some; between visits, the other kinds."""
    first = date(2023, 1, 1)
    out: list[tuple] = []
    i = start
    while i < stop:
        rpps = f"{20000000000 + rng.randrange(30) * 7919:011d}"
        day = day_number(first + timedelta(days=rng.randrange(3 * 365)))
        if rng.random() < 0.5:
            patient = None if rng.random() < 0.1 else rng.randrange(PATIENTS) + int(rpps) * PATIENTS
            out.append(("consultation", f"e{i:09d}", rpps, day, patient, "", int(patient is not None), None, None))
            if patient is not None and rng.random() < 0.33:
                i += 1
                out.append(
                    ("dmp_document", f"e{i:09d}", rpps, day + rng.choice((0, 0, 0, 1, 2)), patient, "", 1, None, None)
                )
            if patient is not None and rng.random() < 0.1:
                i += 1
                out.append(("mss_message", f"e{i:09d}", rpps, day, patient, "", 1, None, None))
        else:
            kind = rng.choice(KINDS)
            detail = (
                rng.choice(("carte", "apcv"))
                if kind == "fse"
                else (rng.choice(SERVICES) if kind == "teleservice" else "")
            )
            out.append(
                (
                    kind,
                    f"e{i:09d}",
                    rpps,
                    day,
                    None,
                    detail,
                    rng.randrange(2) if kind != "mss_message" else 0,
                    None,
                    None,
                )
            )
        i += 1
    return out[: stop - start]


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
        done, insert_s = 0, 0.0
        for size in sizes:
            while done < size:
                chunk = sorted(rows(done, min(size, done + 50_000), rng), key=lambda r: (r[0], r[1]))
                started = time.perf_counter()
                with app.store.transaction():
                    app.store.insert_events(chunk)
                insert_s += time.perf_counter() - started
                done += len(chunk)
            score_s = median_seconds(lambda: app.score(2025, date(2025, 12, 31)), args.repeat)
            dmp = app.score(2025, date(2025, 12, 31)).practitioners[0].metrics["dmp"]
            db = sqlite3.connect(app.store.path)
            scan_s = median_seconds(lambda db=db: db.execute(DIRECT).fetchall(), args.repeat)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages, page_size = (
                db.execute("PRAGMA page_count").fetchone()[0],
                db.execute("PRAGMA page_size").fetchone()[0],
            )
            db.close()
            results.append(
                {
                    "events": done,
                    "score_s": round(score_s, 4),
                    "direct_s": round(scan_s, 4),
                    "score_over_direct": round(score_s / scan_s, 3) if scan_s else None,
                    "insert_us_per_event": round(insert_s / done * 1e6, 1),
                    "mb_per_million_events": round(pages * page_size / done, 1),
                    "dmp_linked_first_practitioner": [dmp.numerator, dmp.denominator, dmp.unlinked],
                }
            )
            print(
                f"{done:>12,} events: score {score_s * 1000:.1f} ms, aggregate over events {scan_s * 1000:.1f} ms,"
                f" insert {insert_s / done * 1e6:.1f} µs/event, {pages * page_size / done:.1f} MB per million events",
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
                    f"{r['insert_us_per_event']} µs",
                    f"{r['mb_per_million_events']} MB",
                )
                for r in results
            ],
            (
                "events in store",
                "score",
                "aggregate over events",
                "score ÷ direct",
                "insert / event",
                "store / M events",
            ),
        )
    )
    print(f"→ {path}")


if __name__ == "__main__":
    main()
