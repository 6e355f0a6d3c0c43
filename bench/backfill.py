"""Backfill throughput: `scan` end to end against the raw read floor and a naive ingester.

    python bench/backfill.py [--practitioners 30] [--years 3] [--naive-limit 200000]

Every figure comes from one run on one machine, and what matters are the ratios: the agent's
events/s divided by (a) the raw floor — reading and splitting the same bytes into lines in
Python — and (b) a naive ingester — json.loads + a pydantic model + one INSERT and commit per
event, with the same SQLite durability settings. Each side runs in its own process so that its
peak RSS is its own.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import run_child, save, table
from generate import write_csv, write_jsonl

RAW_FLOOR = """
import json, resource, sys, time
t = time.perf_counter(); n = 0; tail = b""
with open(sys.argv[1], "rb") as f:
    while chunk := f.read(1 << 20):
        parts = (tail + chunk).split(b"\\n"); tail = parts.pop(); n += len(parts)
print(json.dumps({"seconds": time.perf_counter() - t, "lines": n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

NAIVE = """
import json, resource, sqlite3, sys, time
from forfait_agent.events import EVENT_ADAPTER
limit = int(sys.argv[3])
db = sqlite3.connect(sys.argv[2])
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE events (kind TEXT, id TEXT, practitioner TEXT, at TEXT, PRIMARY KEY (kind, id))")
t = time.perf_counter(); n = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        event = EVENT_ADAPTER.validate_python(json.loads(line))
        db.execute("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)",
                   (event.kind, event.id, event.practitioner, event.at.isoformat()))
        db.commit()
        n += 1
        if n >= limit:
            break
print(json.dumps({"seconds": time.perf_counter() - t, "events": n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

AGENT = """
import json, resource, sys, time
from pathlib import Path
from forfait_agent.app import App
app = App(Path(sys.argv[2]))
plugins = app.plugins  # loading plugins is start-up, not ingestion
t = time.perf_counter()
report = app.ingestor.scan([Path(sys.argv[1])], adapter=sys.argv[3] or None, context=app.settings.context())
scored = [app.score(y, app.as_of_for(y)) for y in app.store.years() if y in app.rulebook.years()]
seconds = time.perf_counter() - t
app.close()
print(json.dumps({"seconds": seconds, "records": report.total("records"), "new": report.total("new"),
                  "quarantined": report.total("quarantined"), "years_scored": len(scored),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--practitioners", type=int, default=30)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--naive-limit", type=int, default=200_000, help="events the naive ingester gets")
    parser.add_argument("--name", default="backfill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        jsonl, events = write_jsonl(tmp, args.practitioners, args.years, args.seed)
        csv, csv_lines = write_csv(tmp, args.practitioners, args.years, args.seed)
        raw, raw_rss = run_child(RAW_FLOOR, str(jsonl))
        naive, naive_rss = run_child(NAIVE, str(jsonl), str(tmp / "naive.db"), str(args.naive_limit))
        agent, agent_rss = run_child(AGENT, str(jsonl), str(tmp / "agent"), "jsonl")
        try:
            csv_run, csv_rss = run_child(AGENT, str(csv), str(tmp / "agent-csv"), "csv-journal-fse")
        except RuntimeError as exc:  # forfait-agent-csv not installed
            csv_run, csv_rss = {"seconds": None, "records": 0, "error": str(exc)[-300:]}, 0.0
    raw_rate = raw["lines"] / raw["seconds"]
    naive_rate = naive["events"] / naive["seconds"]
    agent_rate = agent["new"] / agent["seconds"]
    csv_rate = csv_run["records"] / csv_run["seconds"] if csv_run.get("seconds") else None
    result = {
        "input": {
            "practitioners": args.practitioners,
            "years": args.years,
            "events": events,
            "jsonl_mb": round(jsonl.stat().st_size / 1e6, 1) if jsonl.exists() else None,
            "csv_lines": csv_lines,
        },
        "raw_floor_lines_per_s": round(raw_rate),
        "naive_events_per_s": round(naive_rate),
        "agent_jsonl_events_per_s": round(agent_rate),
        "agent_csv_lines_per_s": round(csv_rate) if csv_rate else None,
        "ratio_agent_to_raw_floor": round(agent_rate / raw_rate, 4),
        "ratio_agent_to_naive": round(agent_rate / naive_rate, 2),
        "peak_rss_mb": {
            "raw": round(raw_rss, 1),
            "naive": round(naive_rss, 1),
            "agent_jsonl": round(agent_rss, 1),
            "agent_csv": round(csv_rss, 1),
        },
        "goals": {
            "agent_jsonl_events_per_s": 200_000,
            "agent_csv_lines_per_s": 100_000,
            "ratio_agent_to_naive": 5,
            "peak_rss_mb": 150,
        },
        "agent": agent,
        "csv": csv_run,
    }
    path = save(args.name, result)
    rows = [
        ("raw floor (read + split)", f"{raw_rate:,.0f} lines/s", "1", f"{raw_rss:.0f} MB"),
        (
            "naive (json+pydantic+INSERT/commit)",
            f"{naive_rate:,.0f} events/s",
            f"{naive_rate / raw_rate:.4f}",
            f"{naive_rss:.0f} MB",
        ),
        (
            "agent scan, canonical JSONL",
            f"{agent_rate:,.0f} events/s",
            f"{agent_rate / raw_rate:.4f}",
            f"{agent_rss:.0f} MB",
        ),
    ]
    if csv_rate:
        rows.append(
            ("agent scan, CSV plugin", f"{csv_rate:,.0f} lines/s", f"{csv_rate / raw_rate:.4f}", f"{csv_rss:.0f} MB")
        )
    print(f"{events:,} events ({args.practitioners} practitioners × {args.years} years)")
    print(table(rows, ("path", "throughput", "÷ raw floor", "peak RSS")))
    print(f"agent ÷ naive = {agent_rate / naive_rate:.1f}×   → {path}")


if __name__ == "__main__":
    main()
