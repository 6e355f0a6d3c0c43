"""Retention: the events of old closed years are purged down to their per-day counts.

A score only ever reads counts, so purging the events themselves changes no score, past or
present; what is lost is the detail (ids, patient hashes, links still to come), which a dispute
with the CPAM needs for the current year and the three before — the default kept.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from .store import Store, day_number

KEPT_FROM_META = "retention_kept_from"  # ISO day: events before it were purged, their counts kept
PURGED_AT_META = "retention_purged_at"
COUNT_TABLES = (("counts", "day"), ("year_counts", "year"))  # per-day and per-year totals, when present


def kept_from(today: date, keep_years: int) -> date:
    """First day whose events are kept in detail: 1 January, `keep_years` years before today's."""
    return date(today.year - keep_years, 1, 1)


def purged_before(store: Store) -> date | None:
    """Events before this day were purged (their counts stay): later copies must not be stored."""
    value = store.meta(KEPT_FROM_META)
    return date.fromisoformat(value) if value else None


def purge(store: Store, today: date, keep_years: int) -> int:
    """Delete the events before `kept_from(today, keep_years)`, keeping every count exactly as it
    was. Returns how many events were purged. Idempotent, one transaction."""
    start = kept_from(today, keep_years)
    done = purged_before(store)
    if done is not None and done >= start:
        return 0
    first = day_number(start)
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    with store.transaction() as db:
        purged = int(db.execute("SELECT COUNT(*) FROM events WHERE day < ?", (first,)).fetchone()[0])
        if purged:
            kept: list[tuple[str, str, Any]] = [
                (table, column, first if column == "day" else start.year)
                for table, column in COUNT_TABLES
                if table in tables
            ]
            # Deleting events decrements their counts (triggers): the old counts are put back after.
            for table, column, limit in kept:
                db.execute(f"CREATE TEMP TABLE kept_{table} AS SELECT * FROM {table} WHERE {column} < ?", (limit,))
            db.execute("DELETE FROM events WHERE day < ?", (first,))
            for table, column, limit in kept:
                db.execute(f"DELETE FROM {table} WHERE {column} < ?", (limit,))
                db.execute(f"INSERT INTO {table} SELECT * FROM temp.kept_{table}")
                db.execute(f"DROP TABLE temp.kept_{table}")
        store.set_meta(KEPT_FROM_META, start.isoformat())
        store.set_meta(PURGED_AT_META, today.isoformat())
    return purged


def describe(store: Store, today: date, keep_years: int) -> dict[str, Any]:
    """What `status` says is kept."""
    done = purged_before(store)
    return {
        "keep_years": keep_years,
        "kept_from": kept_from(today, keep_years).isoformat(),
        "purged_before": done.isoformat() if done else None,
        "purged_at": store.meta(PURGED_AT_META),
    }
