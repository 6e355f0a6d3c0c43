"""Links between consultations and DMP documents / MSS messages to a patient, as the store keeps
them while events arrive in any order and any batches, are deleted or re-attributed: the per-day
counts always give what a brute-force reading of contract v2 gives, for every window up to the
31-day horizon and any as-of day."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from forfait_agent.rules import RateCondition
from forfait_agent.store import DB_FILE, KIND_CODE, MIGRATIONS, Store, _split_sql, day_number, hash64
from forfait_agent.tally import LINK_HORIZON_DAYS, Link

from .conftest import RPPS_A, RPPS_B

YEAR_START = date(2026, 1, 1)
WINDOWS = (0, 1, 7, LINK_HORIZON_DAYS)


@dataclass(frozen=True)
class Ev:
    kind: str  # consultation, dmp_document, mss_message
    id: str
    rpps: str
    day: date
    patient: int | None
    to_patient: bool = True

    @property
    def flag(self) -> int:
        return int(self.to_patient) if self.kind == "mss_message" else int(self.patient is not None)

    def row(self, rpps: str | None = None) -> tuple:
        return (self.kind, self.id, rpps or self.rpps, day_number(self.day), self.patient, "", self.flag, None, None)

    def partner_of(self, metric: str) -> bool:
        return self.kind == "dmp_document" if metric == "dmp" else self.kind == "mss_message" and self.to_patient


def expected(events: list[Ev], rpps: str, metric: str, window: int, as_of: date) -> Link:
    """Contract v2 read literally: consultations with a partner from their day to `window` days
    after (and not after the as-of day); partners with no such consultation in the counted period."""
    kept = [e for e in events if e.rpps == rpps and YEAR_START <= e.day <= as_of]
    consultations = [e for e in kept if e.kind == "consultation" and e.patient is not None]
    partners = [e for e in kept if e.partner_of(metric)]

    def pair(c: Ev, p: Ev) -> bool:
        return c.patient == p.patient and p.patient is not None and c.day <= p.day <= c.day + timedelta(window)

    linked = sum(1 for c in consultations if any(pair(c, p) for p in partners))
    unlinked = sum(1 for p in partners if not any(pair(c, p) for c in consultations))
    return Link(linked, unlinked)


MONTHS_FROM_DAYS = (
    "SELECT strftime('%Y-%m', day * 86400, 'unixepoch'), practitioner, kind, detail, flag, dmp, mss, SUM(n)"
    " FROM counts GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING SUM(n) != 0"
)


def check(store: Store, events: list[Ev], as_of: date) -> None:
    # The per-month totals a score reads are always the per-day counts added up.
    months = store.db.execute("SELECT * FROM month_counts WHERE n != 0").fetchall()
    assert sorted(months) == sorted(store.db.execute(MONTHS_FROM_DAYS).fetchall())
    windows = [(metric, w) for metric in ("dmp", "mss_patient") for w in WINDOWS]
    tallies = store.tallies(YEAR_START, as_of, windows)
    for rpps in (RPPS_A, RPPS_B):
        found = tallies.get(rpps, {}).get("")
        for metric, window in windows:
            got = found.links.get((metric, window), Link()) if found else Link()
            assert got == expected(events, rpps, metric, window, as_of), (rpps, metric, window, as_of)


kinds = st.sampled_from(["consultation", "consultation", "dmp_document", "mss_message"])
one_event = st.tuples(
    kinds,
    # Days from 1 January: mostly close together (several partners compete for a consultation),
    # some a horizon apart; the previous year's end is in the links too.
    st.one_of(st.integers(-3, 8), st.integers(-3, 8), st.integers(-40, 75), st.integers(-40, 400)),
    st.sampled_from([None, 1, 1, 2]),
    st.sampled_from([RPPS_A, RPPS_A, RPPS_A, RPPS_B]),
    st.booleans(),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drawn=st.lists(one_event, min_size=10, max_size=40),
    seed=st.integers(0, 2**16),
    as_of=st.one_of(st.integers(0, 10), st.integers(0, 90), st.sampled_from([59, 89, 180, 364])),
)
def test_links_match_a_brute_force_reading_whatever_the_order(tmp_path_factory, drawn, seed, as_of):
    rng = random.Random(seed)
    events = [
        Ev(kind, f"e{i}", rpps, YEAR_START + timedelta(offset), patient, to_patient)
        for i, (kind, offset, patient, rpps, to_patient) in enumerate(drawn)
    ]
    store = Store(tmp_path_factory.mktemp("store"))
    try:
        order = events[:]
        rng.shuffle(order)
        # Some arrive unattributed and are given to their doctor later, as `attribute` does.
        late = {e.id for e in order if e.rpps == RPPS_A and rng.random() < 0.3}
        cut = sorted(rng.sample(range(len(order) + 1), k=min(3, len(order) + 1)))
        for start, stop in zip([0, *cut], [*cut, len(order)], strict=True):
            batch = order[start:stop]
            with store.transaction():
                # The same id twice in one batch (a line repeated with another day): the first wins.
                again = [replace(e, day=e.day + timedelta(3)).row() for e in batch[:1]]
                store.insert_events([e.row("inconnu" if e.id in late else None) for e in batch] + again)
                store.insert_events([e.row() for e in batch[:1]])  # a copy read again: ignored
        with store.transaction():
            store.reattribute(RPPS_A)
        day = YEAR_START + timedelta(as_of)
        check(store, events, day)
        # Events deleted (as a re-export that dropped them would, through the same triggers).
        gone = {e.id for e in events if rng.random() < 0.25}
        with store.transaction():
            for e in events:
                if e.id in gone:
                    store.db.execute("DELETE FROM events WHERE id = ?", (e.id,))
        check(store, [e for e in events if e.id not in gone], day)
    finally:
        store.close()


def test_deleting_a_partner_relinks_to_the_next_one_even_the_same_day(tmp_path: Path):
    day = YEAR_START + timedelta(3)
    events = [
        Ev("consultation", "c", RPPS_A, day, 1),
        Ev("dmp_document", "d1", RPPS_A, day, 1),
        Ev("dmp_document", "d2", RPPS_A, day, 1),
        Ev("mss_message", "m1", RPPS_A, day, 1),
        Ev("mss_message", "m2", RPPS_A, day + timedelta(1), 1),
    ]
    store = Store(tmp_path)
    try:
        with store.transaction():
            store.insert_events([e.row() for e in events])
            store.db.execute("DELETE FROM events WHERE id IN ('d1', 'm1')")
        check(store, [e for e in events if e.id not in ("d1", "m1")], day + timedelta(5))
    finally:
        store.close()


def test_a_window_wider_than_the_horizon_is_refused_by_the_rules():
    RateCondition.model_validate({"metric": "dmp", "min_rate": 0.3, "link_days": LINK_HORIZON_DAYS})
    with pytest.raises(ValidationError, match="link_days"):
        RateCondition.model_validate({"metric": "dmp", "min_rate": 0.3, "link_days": LINK_HORIZON_DAYS + 1})


def test_an_old_store_keeps_only_links_within_the_horizon(tmp_path: Path):
    """A store of schema 3 (links of any distance, kept by its triggers) is migrated in place:
    links further apart than the horizon are forgotten and their counts moved; nothing is read again."""
    events = [
        Ev("consultation", "c1", RPPS_A, YEAR_START, 1),
        Ev("dmp_document", "d1", RPPS_A, YEAR_START + timedelta(60), 1),
        Ev("consultation", "c2", RPPS_A, YEAR_START + timedelta(70), 2),
        Ev("dmp_document", "d2", RPPS_A, YEAR_START + timedelta(70), 2),
    ]
    db = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None)
    db.create_function("hash64", 1, hash64, deterministic=True)
    for script in MIGRATIONS[:3]:
        for statement in _split_sql(script):
            db.execute(statement)
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO practitioners (id, rpps) VALUES (1, ?)", (RPPS_A,))
    db.executemany(
        "INSERT INTO events (kind, id, practitioner, day, patient, detail, flag) VALUES (?, ?, 1, ?, ?, '', ?)",
        [(KIND_CODE[e.kind], e.id, day_number(e.day), e.patient, e.flag) for e in events],
    )
    far = dict(db.execute("SELECT id, dmp_link FROM events"))
    assert far["c1"] == day_number(YEAR_START) + 60  # what schema 3 kept
    db.close()
    store = Store(tmp_path)
    try:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        check(store, events, YEAR_START + timedelta(90))
        rows = dict(store.db.execute("SELECT id, dmp_link FROM events"))
        assert rows["c1"] is None and rows["d1"] is None and rows["c2"] == rows["d2"] == day_number(events[2].day)
        counts = store.db.execute("SELECT SUM(n) FROM counts WHERE dmp = -1 AND kind IN (1, 6)").fetchone()[0]
        assert counts == 2  # c1 and d1 moved to « no link »
    finally:
        store.close()
