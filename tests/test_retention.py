"""Retention through the real store: old closed years lose their events, never a point of score."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import date
from pathlib import Path

from forfait_agent.app import App
from forfait_agent.retention import purge
from forfait_agent.store import DB_FILE, day_number

from .conftest import RPPS_A, cli, ev, write_jsonl

TODAY = date(2026, 6, 1)  # injected: the test does not depend on the real date


def history(rng: random.Random) -> list[dict]:
    """Consultations, DMP documents and messages linked to them (same patient, same or next day),
    FSE, across 2020–2026, a December consultation linked in January too."""
    events = []
    for year in range(2020, 2027):
        for i in range(40):
            day = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            patient = f"P{rng.randint(1, 15)}"
            events.append(ev("consultation", f"c{year}-{i}", at=f"{day}T09:00", patient=patient))
            if rng.random() < 0.5:
                events.append(ev("dmp_document", f"d{year}-{i}", at=f"{day}T18:00", patient=patient))
            if rng.random() < 0.3:
                address = f"{patient}@patient.mssante.fr"
                events.append(ev("mss_message", f"m{year}-{i}", at=f"{day}T19:00", patient=patient, recipient=address))
            events.append(ev("fse", f"f{year}-{i}", at=f"{day}T09:05", vitale=rng.choice(["carte", "apcv"])))
        events.append(ev("consultation", f"c{year}-dec", at=f"{year}-12-31T17:00", patient="P1"))
        events.append(ev("dmp_document", f"d{year}-jan", at=f"{year + 1}-01-01T10:00", patient="P1"))
    return events


def scores(app: App) -> dict[int, dict]:
    return {year: app.score(year, date(year, 12, 31)).as_json() for year in range(2021, 2027)}


def count_rows(home: Path, first: int) -> list[tuple]:
    with sqlite3.connect(home / DB_FILE) as db:
        sql = f"SELECT * FROM counts WHERE day < {first} AND n != 0 ORDER BY 1, 2, 3, 4, 5, 6, 7"
        return db.execute(sql).fetchall()


def test_purged_years_keep_their_counts_and_every_score(home: Path, tmp_path: Path):
    events = history(random.Random(2026))
    path = write_jsonl(tmp_path / "journal.jsonl", events)
    app = App(home)
    app.ingestor.scan([path], context=app.settings.context())
    before, first = scores(app), day_number(date(2023, 1, 1))
    old_counts = count_rows(home, first)
    old = sum(1 for e in events if e["at"] < "2023")
    assert purge(app.store, TODAY, keep_years=3) == old
    assert purge(app.store, TODAY, keep_years=3) == 0  # idempotent
    assert app.store.db.execute("SELECT COUNT(*) FROM events WHERE day < ?", (first,)).fetchone()[0] == 0
    assert app.store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(events) - old
    assert count_rows(home, first) == old_counts
    app.close()
    app = App(home)
    assert scores(app) == before
    # The same old events exported again (another file, read from its start) are not counted twice.
    again = write_jsonl(tmp_path / "reexport.jsonl", [e for e in events if e["at"] < "2024"])
    report = app.ingestor.scan([again], context=app.settings.context())
    assert report.total("new") == 0
    assert scores(app) == before
    app.close()
    status = json.loads(cli(home, "status", "--json").stdout)["retention"]
    assert (status["kept_from"][:4], status["purged_before"]) == ("2023", "2023-01-01")  # frozen today: 2026
    assert "seulement les comptes par jour" in cli(home, "status").stdout


def test_nothing_is_purged_within_the_kept_years(home: Path, tmp_path: Path):
    path = write_jsonl(tmp_path / "j.jsonl", [ev("consultation", "a", at="2023-01-01T00:30", practitioner=RPPS_A)])
    app = App(home)
    app.ingestor.scan([path], context=app.settings.context())
    assert purge(app.store, date(2026, 12, 31), keep_years=3) == 0
    assert purge(app.store, date(2027, 1, 1), keep_years=3) == 1  # a year later, 2023 is no longer kept
    app.close()
