"""Template tests: the adapter kit does the heavy lifting; keep these three kinds of test."""

from __future__ import annotations

from pathlib import Path

from forfait_agent_example import ExampleAdapter

from forfait_agent import SourceContext
from forfait_agent.testing import AdapterContract, assert_events, feed

SAMPLE = Path(__file__).parent / "samples" / "exemple-2026-03.log"
CONTEXT = SourceContext(default_practitioner="10202020202")


# 1. The contract every adapter must pass (stable ids, no patient data, garbage rejected…).
class TestExampleContract(AdapterContract):
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
    path = tmp_path / "exemple-bad.log"
    path.write_text(
        "2026-03-02T10:15|1|CONSULT\n2026-03-02T10:15||RDV|X|\n2026-03-02T10:15||ORDO|O|FAX\n", encoding="utf-8"
    )
    fed = feed_file(ExampleAdapter(), path, CONTEXT)
    assert [str(e) for _, e in fed.errors] == [
        "3 champs au lieu de 5",
        "type de ligne inconnu « RDV »",
        "type d'ordonnance « FAX » : NUM ou PAPIER attendu",
    ]
