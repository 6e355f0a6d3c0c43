"""The JSON Schemas in docs/schema/ are what the models generate, and real data validates against
them with an independent JSON Schema validator: the demo's `score --json`, the demo's journals
(every line the agent stores passes, every line it quarantines fails) and the contract's examples."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from forfait_agent.schema import render, schemas

from .conftest import TEST_INS, cli, ev

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "docs" / "schema"


def validator(name: str) -> Any:
    return fastjsonschema.compile(json.loads((FOLDER / name).read_text(encoding="utf-8")))


def valid(check: Any, data: Any) -> bool:
    try:
        check(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@pytest.mark.parametrize("name", sorted(schemas()))
def test_committed_schemas_are_what_the_models_generate(name: str):
    path = FOLDER / name
    assert path.is_file() and path.read_text(encoding="utf-8") == render(schemas()[name]), (
        f"{path.relative_to(ROOT)} is out of date with the pydantic models: "
        "regenerate it with `python -m forfait_agent.schema` from the repository root and commit it"
    )


def test_the_generator_checks_and_writes(tmp_path: Path):
    from forfait_agent.schema import main

    assert main(["--check", str(tmp_path)]) == 1
    assert main([str(tmp_path)]) == 0
    assert main(["--check", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(schemas())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    cli(home, "demo", "--seed", "5", "--practitioners", "2")
    return home / "demo"


def test_the_demo_score_json_validates_against_the_schema(demo: Path):
    check = validator("score.schema.json")
    for year in (2025, 2026):
        data = json.loads(cli(demo, "score", "--year", str(year), "--json").stdout)
        assert data["practitioners"], "the demo scores its doctors"
        check(data)
        check({**data, "computed_at": "2026-12-06T14:00:00+00:00"})  # score.json, the score_changed hook
        linked = data["practitioners"][0]["metrics"]["dmp"]
        assert {"link_days", "unlinked", "without_patient"} <= linked.keys()
        # Not a schema that accepts anything: an unknown key or a missing one is refused.
        assert not valid(check, {**data, "total": 1})
        assert not valid(check, {k: v for k, v in data.items() if k != "as_of"})


def test_the_demo_journals_agree_with_the_events_schema(demo: Path):
    """Every line of the demo's journals that the agent keeps validates; the lines it quarantines
    (a write cut short, an unknown kind) do not."""
    check = validator("events.schema.json")
    lines = [line for path in sorted((demo / "exports").glob("*.jsonl")) for line in path.read_text().splitlines()]
    refused = []
    for line in lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            refused.append(line)
            continue
        if not valid(check, data):
            refused.append(line)
    status = json.loads(cli(demo, "status", "--json").stdout)
    quarantined = sum(group["count"] for group in status["quarantine_groups"])
    assert len(lines) > 1000 and len(refused) == quarantined > 0
    assert all('"C-tronq' in line or "teleconsultation" in line for line in refused)


def test_the_contract_examples_and_each_kind_validate():
    check = validator("events.schema.json")
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    examples = re.findall(r"^\{\"kind\".*\}$", contract, flags=re.MULTILINE)
    assert len(examples) >= 3
    for line in examples:
        check(json.loads(line))
    for event in [
        ev("fse", "F1", vitale="apcv", transmitted=False),
        ev("fsp", "P1"),
        ev("prescription", "O1", electronic=True),
        ev("mss_message", "M1", recipient=f"{TEST_INS}@patient.mssante.fr", practitioner="810101010101"),
        ev("teleservice", "T1", service="aat", online=True, regime_general=False),
        ev("declaration", "D1", indicator="volet2_x", year=2026, value=True, at="2026-03-02T10:00:00+01:00"),
        ev("dmp_document", "1.2.3", doc_type="1.2.250.1.213.1.1.4.12|SYNTH", patient=TEST_INS),
    ]:
        check(event)
    for wrong in [
        ev("fse", "F2", vitale="apcv", transmitted="yes"),  # booleans are JSON booleans
        ev("prescription", "O2", electronic=1),
        ev("fsp", "P2", practitioner="1010101010"),  # 10 digits
        ev("fsp", "P3", at=1767258000),  # an epoch: refused, like the agent refuses it
        ev("teleconsultation", "X1"),  # no such kind
        {"kind": "fsp", "at": "2026-03-02T10:00:00", "practitioner": "10101010101"},  # no id
    ]:
        assert not valid(check, wrong), wrong
