"""Contract v2, rule by rule: when a consultation is linked, and each key of the rules grammar."""

from __future__ import annotations

from datetime import date

import pytest

from forfait_agent.rules import parse_rules

from .conftest import RPPS_A, RPPS_B, TEST_INS, cli, ev, practitioner, score_json, score_through_store, write_jsonl

RULES = parse_rules(
    """
year = 2026
scheme = "donum"
title = "Essai"
point_value_eur = 7
source = "essai"

[[groups]]
id = "socle"
label = "Socle"
gate = true
points = 100

[[groups]]
id = "opt"
label = "Optionnel"

[[indicators]]
id = "eq"
group = "socle"
label = "Équipement"
condition = { declared = true }
source = "essai"

[[indicators]]
id = "dmp"
group = "opt"
label = "DMP dans les 2 jours"
points = 10
condition = { metric = "dmp", min_rate = 0.5, link_days = 2 }
source = "essai"

[[indicators.variants]]
label = "le jour même"
condition = { metric = "dmp", min_rate = 0.5 }

[[indicators]]
id = "mss"
group = "opt"
label = "MSS patient"
points = 10
condition = { metric = "mss_patient", min_rate = 0.5 }
source = "essai"

[[indicators]]
id = "moyenne"
group = "opt"
label = "Moyenne AAT, DMT"
points = 10
condition = { mean_of = ["teleservice:aat", "teleservice:dmt"], min_rate = 0.5 }
source = "essai"

[[indicators.variants]]
label = "taux groupé"
condition = { mean_of = ["teleservice:aat", "teleservice:dmt"], min_rate = 0.5, how = "pooled" }

[[indicators.variants]]
label = "service absent à 0 %"
condition = { mean_of = [
  "teleservice:aat", "teleservice:dmt", "teleservice:pse"
], min_rate = 0.5, if_no_activity = "zero" }

[[indicators.variants]]
label = "strictement plus de 50 %"
condition = { mean_of = ["teleservice:aat", "teleservice:dmt"], min_rate = 0.5, strict = true }

[[indicators]]
id = "dsg"
group = "opt"
label = "DSG"
points = 10
condition = { metric = "teleservice:dsg", min_rate = 0.5 }
source = "essai"

[[indicators.variants]]
label = "non concerné"
condition = { metric = "teleservice:dsg", min_rate = 0.5, if_no_activity = "met" }
""",
    "essai.toml",
)
VISIT = "2026-03-02T10:00:00"
AS_OF = date(2026, 12, 31)


def _dmp(events: list[dict], as_of: date = AS_OF, rpps: str = RPPS_A):
    score = score_through_store(events, RULES, as_of)
    ps = next(p for p in score.practitioners if p.rpps == rpps)
    value = ps.metrics["dmp"]
    same_day = next(i for i in ps.indicators if i.id == "dmp").met_variants[0]
    return (value.numerator, value.denominator, value.unlinked, value.without_patient), same_day


def visit(patient: str | None = TEST_INS, at: str = VISIT, **fields) -> dict:
    extra = {"patient": patient} if patient else {}
    return ev("consultation", f"c-{at}-{patient}", at=at, **extra, **fields)


def doc(at: str = "2026-03-02T18:00:00", patient: str | None = TEST_INS, ident: str = "d", **fields) -> dict:
    extra = {"patient": patient} if patient else {}
    return ev("dmp_document", ident, at=at, **extra, **fields)


@pytest.mark.parametrize(
    ("events", "expected", "same_day_met"),
    [
        pytest.param([visit(), doc()], (1, 1, 0, 0), True, id="same day"),
        pytest.param([visit(), doc("2026-03-04T23:59:00")], (1, 1, 0, 0), False, id="2 days later, window 2"),
        pytest.param([visit(), doc("2026-03-05T00:00:00")], (0, 1, 1, 0), False, id="3 days later"),
        pytest.param([visit(), doc("2026-03-01T18:00:00")], (0, 1, 1, 0), False, id="the day before"),
        pytest.param([visit(), doc(practitioner=RPPS_B)], (0, 1, 0, 0), False, id="other practitioner"),
        pytest.param([visit(), doc(patient="185057800608436")], (0, 1, 1, 0), False, id="other patient"),
        pytest.param([visit(patient=None), doc()], (0, 1, 1, 1), False, id="consultation without patient"),
        pytest.param([visit(), doc(patient=None)], (0, 1, 1, 0), False, id="document without patient"),
        pytest.param(
            [visit(), doc(ident="d1"), doc(ident="d2"), doc("2026-03-03T09:00:00", ident="d3")],
            (1, 1, 0, 0),
            True,
            id="several documents, one consultation",
        ),
        pytest.param([visit(), doc(patient="2 79 03 51 215 189 89")], (1, 1, 0, 0), True, id="INS with spaces"),
        pytest.param([visit(), doc(patient="2.79.03.51.215.189.89")], (1, 1, 0, 0), True, id="INS with dots"),
        pytest.param([visit(patient="2-79-03-51-215-189-89"), doc()], (1, 1, 0, 0), True, id="INS with dashes"),
        pytest.param(
            [visit(patient="1 69 05 2a 123 456 15"), doc(patient="169052A12345615")], (1, 1, 0, 0), True, id="2A"
        ),
        pytest.param(
            # 23:30 UTC on 2 March is 00:30 on 3 March in Paris: the same Paris day as the document.
            [visit(at="2026-03-02T23:30:00Z"), doc("2026-03-03T08:00:00+01:00")],
            (1, 1, 0, 0),
            True,
            id="Paris day of an UTC time",
        ),
    ],
)
def test_when_a_consultation_is_linked_to_a_dmp_document(events, expected, same_day_met):
    counts, same_day = _dmp(events)
    assert counts == expected
    assert same_day is same_day_met


def test_a_document_after_the_as_of_date_does_not_link():
    events = [visit(), doc("2026-03-03T09:00:00")]
    assert _dmp(events, as_of=date(2026, 3, 2))[0] == (0, 1, 0, 0)
    assert _dmp(events, as_of=date(2026, 3, 3))[0] == (1, 1, 0, 0)


EVENING = "2026-03-02T19:00:00"


def test_a_message_to_a_patient_address_links_by_the_address_ins():
    events = [
        visit(),
        ev("mss_message", "m1", at="2026-03-02T19:00:00", recipient=f'"Mme Test" <{TEST_INS}@patient.mssante.fr>'),
        ev(
            "mss_message",
            "m2",
            at="2026-03-02T19:00:00",
            recipient=f'"{TEST_INS}@patient.mssante.fr" <dr@ch.mssante.fr>',
        ),
    ]
    ps = score_through_store(events, RULES, AS_OF).practitioners[0]
    value = ps.metrics["mss_patient"]
    assert (value.numerator, value.denominator, value.unlinked) == (1, 1, 0)
    assert ps.metrics["mss_patient_messages"].numerator == 1  # the second one is to a colleague


def _teleservices(aat: tuple[int, int], dmt: tuple[int, int], **fields) -> list[dict]:
    """(online, total) forms of AAT and DMT."""
    events = []
    for service, (online, total) in (("aat", aat), ("dmt", dmt)):
        events += [
            ev("teleservice", f"{service}{i}", service=service, online=i < online, **fields) for i in range(total)
        ]
    return events


@pytest.mark.parametrize(
    ("aat", "dmt", "readings"),
    [
        # simple mean, pooled, unused PSE counted 0 %, strict
        pytest.param((1, 1), (1, 9), [True, False, False, True], id="1/1 and 1/9: mean 56 %, pooled 20 %"),
        pytest.param((2, 10), (9, 10), [True, True, False, True], id="20 % and 90 %: 55 %, pooled 11 of 20"),
        pytest.param((1, 2), (1, 2), [True, True, False, False], id="exactly 50 %: not more than 50 %"),
        pytest.param((0, 0), (3, 4), [True, True, False, True], id="no AAT: excluded or counted 0 %"),
    ],
)
def test_mean_of_readings(aat, dmt, readings):
    ps = score_through_store(_teleservices(aat, dmt), RULES, AS_OF).practitioners[0]
    ind = next(i for i in ps.indicators if i.id == "moyenne")
    assert [ind.met, *ind.met_variants] == readings


def test_forms_outside_the_regime_general_count_nowhere():
    events = _teleservices((1, 1), (0, 0)) + _teleservices((0, 5), (0, 3), regime_general=False)
    ps = score_through_store(events, RULES, AS_OF).practitioners[0]
    assert (ps.metrics["teleservice:aat"].numerator, ps.metrics["teleservice:aat"].denominator) == (1, 1)
    assert ps.metrics["teleservice:dmt"].denominator == 0


def test_no_form_at_all_is_not_met_or_met_as_non_concerne():
    events = [ev("declaration", "eq", indicator="eq", year=2026, value=True)]
    ps = score_through_store(events, RULES, AS_OF).practitioners[0]
    dsg = next(i for i in ps.indicators if i.id == "dsg")
    assert (dsg.met, dsg.met_variants, dsg.variant_labels) == (False, [True], ["non concerné"])
    # Gate met: 100 by default; the best reading adds the DSG (10) and the mean with no form at
    # all is undefined in every reading (not met).
    assert (ps.points, ps.points_min, ps.points_max) == (100, 100, 110)
    assert ps.as_json()["indicators"][4]["variants"] == [{"label": "non concerné", "met": True}]


def test_an_empty_patient_column_is_no_patient_not_a_damaged_line(home, tmp_path):
    events = [visit(), ev("consultation", "blank", patient=""), ev("consultation", "spaces", patient="  ")]
    write_jsonl(tmp_path / "e.jsonl", events + [doc()])
    assert "mis en quarantaine : 0" in cli(home, "scan", str(tmp_path)).stdout
    dmp = practitioner(score_json(home), RPPS_A)["metrics"]["dmp"]
    assert (dmp["numerator"], dmp["denominator"], dmp["without_patient"]) == (1, 3, 2)
