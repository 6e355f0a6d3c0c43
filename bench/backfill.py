"""Backfill throughput: `scan` end to end against four references measured in the same run.

    python bench/backfill.py [--practitioners 30] [--years 3] [--naive-limit 200000]

Every figure comes from one run on one machine, and what matters are the ratios of the agent's
events/s to:
(a) the raw floor — reading and splitting the same bytes into lines in Python;
(b) the unvalidated loader — `json.loads` + `INSERT OR IGNORE` of the raw fields, all in one
    transaction: the fastest thing that still puts every event in SQLite once (no validation, no
    hashing, no offsets, no linking);
(c) the strong simple pipeline — what a good engineer writes in 50 lines: msgspec decoding into
    typed structs (validation), HMAC of the patient id, one SQLite writer with batched
    `executemany` inserts, one commit per batch;
(d) a naive ingester — json.loads + a pydantic model + one INSERT and commit per event.
Each side runs in its own process so that its peak RSS is its own. The strong pipeline needs
msgspec (in the `test` extra); without it that column is reported as missing, not faked.
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

UNVALIDATED = """
import json, resource, sqlite3, sys, time
db = sqlite3.connect(sys.argv[2])
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE events (kind TEXT, id TEXT, practitioner TEXT, at TEXT, patient TEXT, "
           "detail TEXT, PRIMARY KEY (kind, id))")
t = time.perf_counter(); n = 0
with open(sys.argv[1], encoding="utf-8") as f, db:
    for line in f:
        e = json.loads(line)
        db.execute("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                   (e["kind"], e["id"], e["practitioner"], e["at"], e.get("patient"),
                    e.get("vitale") or e.get("service") or e.get("doc_type")))
        n += 1
print(json.dumps({"seconds": time.perf_counter() - t, "events": n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

STRONG = """
import hashlib, hmac, json, resource, sqlite3, sys, time
from datetime import datetime
from typing import Literal
import msgspec

class Event(msgspec.Struct, forbid_unknown_fields=False):
    kind: Literal["consultation", "fse", "fsp", "prescription", "mss_message", "dmp_document",
                  "teleservice", "declaration"]
    id: str
    at: datetime
    practitioner: str
    patient: str | None = None
    vitale: Literal["carte", "apcv", "sans_vitale"] | None = None
    transmitted: bool = True
    electronic: bool | None = None
    recipient: str | None = None
    doc_type: str | None = None
    service: str | None = None
    online: bool | None = None

decode = msgspec.json.Decoder(Event).decode
key = b"salt-of-this-installation"
db = sqlite3.connect(sys.argv[2])
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE events (kind TEXT, id TEXT, practitioner TEXT, day TEXT, patient BLOB, "
           "detail TEXT, flag INTEGER, PRIMARY KEY (kind, id))")
sql = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
t = time.perf_counter(); n = 0; bad = 0; batch = []
with open(sys.argv[1], "rb") as f:
    for line in f:
        try:
            e = decode(line)
        except msgspec.ValidationError:
            bad += 1
            continue
        if len(e.practitioner) != 11 or not e.practitioner.isdigit():
            bad += 1
            continue
        patient = hmac.new(key, e.patient.encode(), hashlib.sha256).digest()[:16] if e.patient else None
        flag = e.transmitted if e.kind == "fse" else e.electronic if e.kind == "prescription" else e.online
        batch.append((e.kind, e.id, e.practitioner, e.at.date().isoformat(), patient,
                      e.vitale or e.service or e.doc_type, flag))
        n += 1
        if len(batch) >= 20000:
            with db:
                db.executemany(sql, batch)
            batch.clear()
with db:
    db.executemany(sql, batch)
print(json.dumps({"seconds": time.perf_counter() - t, "events": n, "invalid": bad,
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
        unvalidated, unvalidated_rss = run_child(UNVALIDATED, str(jsonl), str(tmp / "unvalidated.db"))
        try:
            strong, strong_rss = run_child(STRONG, str(jsonl), str(tmp / "strong.db"))
        except RuntimeError as exc:  # msgspec not installed: say so in the result
            strong, strong_rss = {"seconds": None, "events": 0, "error": str(exc)[-300:]}, 0.0
        agent, agent_rss = run_child(AGENT, str(jsonl), str(tmp / "agent"), "jsonl")
        try:
            csv_run, csv_rss = run_child(AGENT, str(csv), str(tmp / "agent-csv"), "csv-journal-fse")
        except RuntimeError as exc:  # forfait-agent-csv not installed
            csv_run, csv_rss = {"seconds": None, "records": 0, "error": str(exc)[-300:]}, 0.0
    raw_rate = raw["lines"] / raw["seconds"]
    naive_rate = naive["events"] / naive["seconds"]
    unvalidated_rate = unvalidated["events"] / unvalidated["seconds"]
    strong_rate = strong["events"] / strong["seconds"] if strong.get("seconds") else None
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
        "unvalidated_loader_events_per_s": round(unvalidated_rate),
        "strong_pipeline_events_per_s": round(strong_rate) if strong_rate else None,
        "agent_jsonl_events_per_s": round(agent_rate),
        "agent_csv_lines_per_s": round(csv_rate) if csv_rate else None,
        "ratio_agent_to_raw_floor": round(agent_rate / raw_rate, 4),
        "ratio_agent_to_naive": round(agent_rate / naive_rate, 2),
        "ratio_agent_to_unvalidated_loader": round(agent_rate / unvalidated_rate, 3),
        "ratio_agent_to_strong_pipeline": round(agent_rate / strong_rate, 3) if strong_rate else None,
        "ratio_csv_to_agent_jsonl": round(csv_rate / agent_rate, 3) if csv_rate else None,
        "peak_rss_mb": {
            "raw": round(raw_rss, 1),
            "naive": round(naive_rss, 1),
            "unvalidated": round(unvalidated_rss, 1),
            "strong": round(strong_rss, 1),
            "agent_jsonl": round(agent_rss, 1),
            "agent_csv": round(csv_rss, 1),
        },
        "goals": {
            "ratio_agent_to_unvalidated_loader": 1.0,
            "ratio_agent_to_strong_pipeline": 2.0,
            "ratio_csv_to_agent_jsonl": 0.5,
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
            "unvalidated loader (json.loads+INSERT OR IGNORE, 1 tx)",
            f"{unvalidated_rate:,.0f} events/s",
            f"{unvalidated_rate / raw_rate:.4f}",
            f"{unvalidated_rss:.0f} MB",
        ),
        (
            "strong simple pipeline (msgspec+HMAC+executemany)",
            f"{strong_rate:,.0f} events/s" if strong_rate else "msgspec missing",
            f"{strong_rate / raw_rate:.4f}" if strong_rate else "—",
            f"{strong_rss:.0f} MB",
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
    strong_ratio = f"{agent_rate / strong_rate:.2f}× (goal ≥ 2)" if strong_rate else "n/a"
    print(
        f"agent ÷ unvalidated loader = {agent_rate / unvalidated_rate:.2f}× (goal ≥ 1)   "
        f"agent ÷ strong pipeline = {strong_ratio}   agent ÷ naive = {agent_rate / naive_rate:.1f}×"
    )
    if csv_rate:
        print(f"CSV plugin ÷ canonical path = {csv_rate / agent_rate:.2f}× (goal ≥ 0.5)")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
