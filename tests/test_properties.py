"""Property-based: the store's score equals an independent recount; framing never loses a byte."""

from __future__ import annotations

import itertools
import json
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forfait_agent import sources
from forfait_agent.app import App
from forfait_agent.rules import builtin_rules_dir

from .recount import engine_view, recount

PARIS = ZoneInfo("Europe/Paris")
RPPS = ["10101010101", "10202020202"]
AS_OF = date(2026, 9, 15)


@st.composite
def events(draw):
    kind = draw(
        st.sampled_from(["consultation", "fse", "fsp", "prescription", "mss_message", "dmp_document", "teleservice"])
    )
    # Dates straddle both year ends and the as-of date; some with an explicit UTC offset.
    at = datetime(2025, 12, 31, 22, 0) + timedelta(minutes=draw(st.integers(0, 60 * 24 * 370)))
    text = at.isoformat() if draw(st.booleans()) else at.replace(tzinfo=PARIS).astimezone(ZoneInfo("UTC")).isoformat()
    event = {
        "kind": kind,
        "id": f"{kind[:2]}{draw(st.integers(0, 40))}",
        "at": text,
        "practitioner": draw(st.sampled_from(RPPS)),
    }
    if kind == "fse":
        event["vitale"] = draw(st.sampled_from(["carte", "apcv", "sans_vitale"]))
        if draw(st.booleans()):
            event["transmitted"] = draw(st.booleans())
    elif kind == "prescription":
        event["electronic"] = draw(st.booleans())
    elif kind == "mss_message":
        event["recipient"] = draw(st.sampled_from(["279035121518989@patient.mssante.fr", "dr@chu.mssante.fr"]))
    elif kind == "teleservice":
        event["service"] = draw(st.sampled_from(["aat", "dmt", "pse", "atmp", "spe", "dsg"]))
        event["online"] = draw(st.booleans())
        if draw(st.booleans()):
            event["regime_general"] = draw(st.booleans())
    if kind in ("consultation", "dmp_document", "mss_message") and draw(st.booleans()):
        event["patient"] = draw(st.sampled_from(["279035121518989", "2 79 03 51 215 189 89", "185057800608436", "x-7"]))
    return event


JUNK = [
    "{not json",
    "",
    "   ",
    json.dumps({"kind": "teleconsultation", "id": "x", "at": "2026-03-02T10:00", "practitioner": RPPS[0]}),
    json.dumps({"kind": "consultation", "at": "2026-03-02T10:00", "practitioner": RPPS[0]}),
    json.dumps({"kind": "consultation", "id": "bad-date", "at": "2026-02-30T10:00", "practitioner": RPPS[0]}),
    json.dumps({"kind": "fse", "id": "no-vitale", "at": "2026-03-02T10:00", "practitioner": RPPS[0]}),
    json.dumps(
        {
            "kind": "prescription",
            "id": "str-bool",
            "at": "2026-03-02T10:00",
            "practitioner": RPPS[0],
            "electronic": "true",
        }
    ),
    "[1, 2, 3]",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(events(), max_size=120),
    st.integers(1, 3),
    st.lists(st.tuples(st.integers(0, 200), st.sampled_from(JUNK)), max_size=8),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0, 1, 3]),
)
def test_store_score_equals_naive_recount(evs, files, junk, crlf, bom, link_window):
    """Messy files as LGCs write them (junk lines, CRLF, a BOM, the same events in several
    files) score exactly like a recount of the valid events written straight from the contract,
    with the DMP link window the year's rules give (a cabinet's own rules file sets it here)."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = (builtin_rules_dir() / "2026.toml").read_text(encoding="utf-8")
        dmp = '{ metric = "dmp", min_rate = 0.30, strict = true }'
        assert rules.count(dmp) == 1  # the default condition
        (Path(tmp) / "home" / "rules").mkdir(parents=True)
        (Path(tmp) / "home" / "rules" / "2026.toml").write_text(
            rules.replace(dmp, dmp.replace(" }", f", link_days = {link_window} }}"), 1), encoding="utf-8"
        )
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i in range(files):  # the same events spread over several files, overlapping
            part = [json.dumps(e) for e in evs[i::files] + evs[: len(evs) // 3]]
            for position, text in junk:
                part.insert(position % (len(part) + 1), text)
            body = ("\r\n" if crlf else "\n").join(part) + "\n"
            (folder / f"f{i}.jsonl").write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))
        app = App(Path(tmp) / "home")
        try:
            app.ingestor.scan([folder], context=app.settings.context())
            score = app.score(2026, AS_OF)
        finally:
            app.close()
        ordered = [e for i in range(files) for e in evs[i::files] + evs[: len(evs) // 3]]
        data = score.as_json()
        for p in data["practitioners"]:
            link_days = {m: v["link_days"] for m, v in p["metrics"].items() if "link_days" in v}
            assert link_days["dmp"] == link_window
            expected = recount(ordered, p["rpps"], 2026, AS_OF, link_days)
            assert engine_view(p["metrics"]) == expected
            for metric, (num, den, *_) in expected.items():
                rate = p["metrics"][metric]["rate"]
                assert (rate is None) == (den == 0)
                if den:
                    assert rate == num / den


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30),
        max_size=30,
    ),
    st.sampled_from(["utf-8", "utf-16", "cp1252"]),
    st.integers(1, 64),
    st.booleans(),
    st.booleans(),
)
def test_framing_returns_every_line_with_exact_offsets(lines, encoding, chunk, crlf, terminated):
    if encoding == "cp1252":
        lines = [line.encode("cp1252", "replace").decode("cp1252") for line in lines]
    sep = "\r\n" if crlf else "\n"
    text = sep.join(lines) + (sep if terminated and lines else "")
    data = text.encode(encoding)
    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        old = sources.CHUNK
        sources.CHUNK = chunk * (2 if encoding == "utf-16" else 1)
        try:
            got = list(sources.iter_lines(handle, 0, 0, encoding, final=True))
            live = list(sources.iter_lines(handle, 0, 0, encoding, final=False))
        finally:
            sources.CHUNK = old
    expected = lines if (terminated or not lines or lines[-1]) else lines[:-1]
    if not terminated and lines and lines[-1] == "":
        expected = lines[:-1]
    assert [line.text for line in got] == expected
    assert [line.line_no for line in got] == list(range(1, len(got) + 1))
    # Offsets tile the file: each line ends where the next starts.
    for before, after in itertools.pairwise(got):
        assert before.end == after.offset
    if got:
        assert got[-1].end == len(data)
    # A live tail never consumes an unterminated last line.
    assert len(live) == len(got) - (0 if terminated or not lines or lines[-1] == "" else 1)
