"""Tests of the example adapter: the adapter kit (forfait_agent.testing) does the heavy lifting."""

from __future__ import annotations

from pathlib import Path

from forfait_agent_example import ExampleAdapter
from hypothesis import given
from hypothesis import strategies as st

from forfait_agent import Record, RecordError, SourceContext
from forfait_agent.testing import AdapterContract, agent_json, assert_events, feed

SAMPLE = Path(__file__).parent / "samples" / "example-2026-03.log"
CONTEXT = SourceContext(default_practitioner="10202020202")


# 1. The contract every adapter must pass (stable ids, no patient data, garbage rejected…).
class TestContract(AdapterContract):
    adapter = ExampleAdapter()
    sample = SAMPLE
    context = CONTEXT
    expected_count = 3


# 2. The exact events of the sample, read as the agent reads it.
def test_sample_events():
    assert_events(
        feed(ExampleAdapter(), SAMPLE, CONTEXT).events,
        [
            {"kind": "consultation", "id": "A-000123", "at": "2026-03-02T10:15", "practitioner": "10101010101"},
            {"kind": "prescription", "id": "O-000987", "electronic": True},
            {"kind": "prescription", "id": "O-000988", "electronic": False, "practitioner": "10202020202"},
        ],
    )


# 3. Each way a line can be wrong is quarantined with a reason (the fixture comes from the kit).
def test_bad_lines_are_explained(tmp_path: Path, feed_file):
    path = tmp_path / "example-bad.log"
    path.write_text(
        "2026-03-02T10:15|1|CONSULT\n2026-03-02T10:15||RDV|X|\n2026-03-02T10:15||ORDO|O|FAX\n", encoding="utf-8"
    )
    fed = feed_file(ExampleAdapter(), path, CONTEXT)
    assert [str(e) for _, e in fed.errors] == [
        "3 champs au lieu de 5",
        "type de ligne inconnu « RDV »",
        "type d'ordonnance « FAX » : NUM ou PAPIER attendu",
    ]


# 4. Whatever a line holds, the adapter reads it or refuses it with a reason; no other exception.
@given(st.text(alphabet=st.sampled_from("|0123456789-T:CONSULTORDNUMPAIXé "), max_size=60))
def test_any_line_is_read_or_refused_with_a_reason(text: str):
    record = Record(path=SAMPLE, offset=0, line_no=1, text=text, context=CONTEXT)
    try:
        events = ExampleAdapter().parse(record)
    except RecordError as exc:
        assert str(exc)  # the reason the doctor reads in `forfait-agent status`
    else:
        assert all(event["kind"] in ("consultation", "prescription") for event in events)


# 5. Installed, the agent finds the plugin by its entry point and reads the sample.
def test_agent_finds_and_uses_the_plugin(tmp_path: Path):
    plugins = {p["name"]: p for p in agent_json(tmp_path / "home", "plugins")}
    assert plugins["example"]["status"] == "ok", plugins["example"]["error"]
    assert [a["name"] for a in plugins["example"]["adapters"]] == ["example"]
    report = agent_json(tmp_path / "home", "scan", "--practitioner", "10202020202", str(SAMPLE))
    assert (report["new"], report["quarantined"]) == (3, 0)
