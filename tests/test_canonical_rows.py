"""The canonical hot path (canonical_rows.py) stores exactly what the full path would.

For any line — plain, odd or hostile — the lean reader either gives up (the full path then reads
the line) or gives the very row the event models and `Ingestor.event_row` give. A scan of a file
mixing both kinds of lines stores what scanning each line alone through the full path stores."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forfait_agent.app import App
from forfait_agent.canonical_rows import CanonicalRows
from forfait_agent.events import EVENT_ADAPTER, parse_event
from forfait_agent.privacy import SALT_FILE

from .conftest import write_jsonl

KINDS = ["consultation", "fse", "fsp", "prescription", "dmp_document", "teleservice", "mss_message", "declaration"]
AT = [
    "2025-01-02T08:30:00+01:00",
    "2025-12-31T23:30:00-05:00",  # already the next day in Paris
    "2025-03-30T02:30:00",  # a local time that does not exist (spring forward)
    "2025-10-26T02:30:00",  # one that exists twice
    "2025-06-01T12:00:00Z",
    "2025-06-01 12:00:00",
    "2025-06-01",
    " 2025-06-01T12:00:00",
    "1700000000",
    "9999-12-31T23:59:59-12:00",  # year 10000 in Paris
    "0001-01-01T00:00:00+14:00",
    "2025-02-30T10:00:00",
    "",
    1700000000,
    None,
    True,
]
PRACTITIONER = ["20000000000", " 20000000000 ", "820000000000", "inconnu", "2000000000", "٢٠٠٠٠٠٠٠٠٠٠", "", 20000000000]
PATIENT = [
    "279035121518989",
    " 2 79 03 51 215 189 89 ",
    "279035121518989@patient.mssante.fr",
    "x-7",
    "",
    "   ",
    "\x1c",
    "\u00a0",
    "2a",
    "x" * 600,
    None,
    12,
]
ID = ["C1", " C1 ", "", " ", "\x1c", "x" * 513, 4, None, "279035121518989"]
TEXT = st.one_of(st.sampled_from(["carte", "apcv", "sans_vitale", "aat", "spe", "", " apcv", "x"]), st.text(max_size=8))
FLAG = st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None]))
OPTIONAL = {
    "vitale": TEXT,
    "transmitted": FLAG,
    "electronic": FLAG,
    "service": TEXT,
    "online": FLAG,
    "regime_general": FLAG,
    "doc_type": st.one_of(TEXT, st.just(5)),
    "recipient": st.sampled_from(["279035121518989@patient.mssante.fr", "dr@chu.mssante.fr", "x"]),
    "to_patient": FLAG,
    "indicator": TEXT,
    "year": st.sampled_from([2025, 1999, "2025"]),
    "value": st.sampled_from([0.5, True, 3]),
}


@st.composite
def lines(draw: st.DrawFn) -> str:
    record = {
        "kind": draw(st.one_of(st.sampled_from(KINDS), st.just("Consultation"), st.just(3))),
        "id": draw(st.one_of(st.sampled_from(ID), st.text(max_size=6))),
        "at": draw(st.sampled_from(AT)),
        "practitioner": draw(st.sampled_from(PRACTITIONER)),
    }
    if draw(st.booleans()):
        record["patient"] = draw(st.sampled_from(PATIENT))
    for key in draw(st.sets(st.sampled_from(sorted(OPTIONAL)))):
        record[key] = draw(OPTIONAL[key])
    for key in draw(st.sets(st.sampled_from(["id", "at", "practitioner", "kind"]), max_size=1)):
        del record[key]
    text = json.dumps(record, ensure_ascii=draw(st.booleans()))
    return text if draw(st.booleans()) else text.replace(", ", ",")


@st.composite
def plain_lines(draw: st.DrawFn) -> str:
    """Lines well formed but for one odd common value: the lean reader's borderline."""
    kind = draw(st.sampled_from(KINDS[:6]))
    record = {"kind": kind, "id": f"{kind[0]}{draw(st.integers(0, 30))}", "at": draw(st.sampled_from(AT[:6]))}
    record["practitioner"] = draw(st.sampled_from(["20000000000", "10101010101", "inconnu"]))
    record["patient"] = draw(st.sampled_from(PATIENT[:4] + [None]))
    record |= {"fse": {"vitale": "apcv"}, "prescription": {"electronic": True}}.get(kind, {})
    record |= {"teleservice": {"service": "aat", "online": False, "regime_general": False}}.get(kind, {})
    odd = draw(st.sampled_from(["at", "practitioner", "patient", "id", None]))
    if odd is not None:
        record[odd] = draw(st.sampled_from({"at": AT, "practitioner": PRACTITIONER, "patient": PATIENT}.get(odd, ID)))
    return json.dumps(record, ensure_ascii=draw(st.booleans()))


def _full_row(app: App, text: str) -> tuple | None:
    try:
        event = EVENT_ADAPTER.validate_json(text)
    except Exception:  # noqa: BLE001 - refused by the full path
        return None
    if event.kind == "declaration":
        return None
    return app.ingestor.event_row(event, None)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(lines(), plain_lines()))
def test_lean_row_is_the_full_paths_row_or_nothing(home: Path, text: str) -> None:
    app = App(home)
    try:
        lean = CanonicalRows(app.ingestor.hasher).row(text)
        if lean is not None:
            assert lean == _full_row(app, text), text
    finally:
        app.close()


WHEN = [
    datetime(2025, 1, 2, 8, 30),
    datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2025, 3, 30, 2, 30),
    datetime(2025, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris")),
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))),
    datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=14))),
    date(2025, 6, 1),
    "2025-06-01T12:00:00",
    1700000000,
    None,
]


@st.composite
def mappings(draw: st.DrawFn) -> dict:
    """What an adapter may return: Python values of any type, mostly well formed."""
    kind = draw(st.sampled_from(KINDS))
    data: dict = {"kind": kind, "id": draw(st.sampled_from(["F1", " F1 ", "", 7])), "at": draw(st.sampled_from(WHEN))}
    data["practitioner"] = draw(st.sampled_from(["20000000000", " 20000000000", "820000000000", b"20000000000", 2]))
    if draw(st.booleans()):
        data["patient"] = draw(st.sampled_from([*PATIENT, b"279035121518989"]))
    extra = {"fse": {"vitale": "apcv"}, "prescription": {"electronic": True}, "teleservice": {"service": "aat"}}
    data |= extra.get(kind, {})
    if kind == "teleservice":
        data["online"] = draw(st.sampled_from([True, 1, "true"]))
    for key in draw(st.sets(st.sampled_from(sorted(OPTIONAL)), max_size=2)):
        data[key] = draw(st.one_of(OPTIONAL[key], st.sampled_from([1, 0, 1.0, None])))
    return data


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mappings())
def test_an_adapters_mapping_gives_the_full_paths_row_or_nothing(home: Path, data: dict) -> None:
    app = App(home)
    try:
        lean = CanonicalRows(app.ingestor.hasher).row_of(data)
        if lean is not None:
            event = parse_event(dict(data))
            assert lean == app.ingestor.event_row(event, None), data
    finally:
        app.close()


def test_plain_lines_do_take_the_lean_path(home: Path) -> None:
    """The point of it: a journal's ordinary lines never need the event models."""
    app = App(home)
    try:
        rows = CanonicalRows(app.ingestor.hasher)
        plain = {"consultation": {}, "fse": {"vitale": "carte"}, "teleservice": {"service": "dmt", "online": True}}
        for kind, extra in plain.items():
            record = {"kind": kind, "id": "X1", "at": "2025-01-02T08:30:00", "practitioner": "20000000000"}
            text = json.dumps(record | {"patient": "279035121518989"} | extra)
            assert rows.row(text) is not None
            assert rows.row(text) == _full_row(app, text)
    finally:
        app.close()


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.one_of(lines(), plain_lines()), min_size=1, max_size=60))
def test_a_scan_stores_what_the_full_path_stores(texts: list[str]) -> None:
    """Same store (events, counts, quarantine reasons) whether lines go through the lean reader
    or, one file per line, only through the full path's adapter."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fast = App(root / "fast")
        fast_ingestor = fast.ingestor  # creates the salt
        (root / "slow").mkdir()
        shutil.copy(root / "fast" / SALT_FILE, root / "slow" / SALT_FILE)  # the same patient keys
        slow = App(root / "slow")
        try:
            context = fast.settings.context()
            (root / "in").mkdir()
            (root / "in2").mkdir()
            fast_ingestor.scan([write_jsonl(root / "in" / "all.jsonl", texts)], adapter="jsonl", context=context)
            slow.ingestor._canonical_rows.row = lambda *_: None  # type: ignore[method-assign]
            slow.ingestor.scan([write_jsonl(root / "in2" / "all.jsonl", texts)], adapter="jsonl", context=context)
            rpps = "(SELECT rpps FROM practitioners AS p WHERE p.id = {}.practitioner)"
            query = f"SELECT kind, id, {rpps.format('events')}, day, patient, flag, dmp_link, mss_link FROM events"
            assert sorted(fast.store.db.execute(query)) == sorted(slow.store.db.execute(query))
            counts = f"SELECT day, {rpps.format('counts')}, kind, detail, flag, dmp, mss, n FROM counts WHERE n != 0"
            assert sorted(fast.store.db.execute(counts)) == sorted(slow.store.db.execute(counts))
            reasons = "SELECT offset, reason FROM quarantine ORDER BY 1"
            assert fast.store.db.execute(reasons).fetchall() == slow.store.db.execute(reasons).fetchall()
        finally:
            fast.close()
            slow.close()
