"""Scoring is a pure function: each metric, each condition type, both gates, the projection."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from forfait_agent.rules import RuleBook, parse_rules

from .conftest import RPPS_A, TEST_INS, ev, score_through_store

BOOK = RuleBook()


def score_of(events, year=2026, as_of=date(2026, 12, 31), rules=None):
    return score_through_store(events, rules or BOOK.get(year), as_of)


def many(kind, n, prefix=None, at="2026-03-02T10:00:00", **fields):
    return [ev(kind, f"{prefix or kind}{i}", at=at, **fields) for i in range(n)]


def declared(indicator, value=True, year=2026, at="2026-06-01T09:00:00", id=None):
    return ev("declaration", id or f"d-{indicator}-{at}", at=at, indicator=indicator, year=year, value=value)


def seen(n, prefix="c", at="2026-03-02T10:00:00"):
    """n consultations, each with its own patient p0…p(n-1)."""
    return [ev("consultation", f"{prefix}{i}", at=at, patient=f"p{i}") for i in range(n)]


def test_every_metric_numerator_and_denominator():
    events = (
        seen(10)
        + many("fse", 6, vitale="carte")
        + many("fse", 2, "fa", vitale="apcv")
        + many("fse", 1, "fn", vitale="sans_vitale", transmitted=False)
        + many("fsp", 1)
        + many("prescription", 3, "pe", electronic=True)
        + many("prescription", 7, "pp", electronic=False)
        + [
            ev("mss_message", "m1", recipient=f"{TEST_INS}@patient.mssante.fr"),
            ev("mss_message", "m2", recipient="dr@chu.mssante.fr"),
            ev("mss_message", "m3", recipient="p3@patient.mssante.fr"),
        ]
        + [ev("dmp_document", f"d{i}", patient=p) for i, p in enumerate(("p0", "p0", "p1", "p2"))]
        + many("teleservice", 9, "ta", service="aat", online=True)
        + many("teleservice", 1, "tp", service="aat", online=False)
        + many("teleservice", 5, "tr", service="aat", online=False, regime_general=False)
    )
    m = score_of(events).practitioners[0].metrics
    got = {k: (v.numerator, v.denominator) for k, v in m.items()}
    assert got["teletransmission"] == (8, 10)
    assert got["apcv"] == (2, 9)
    assert got["eprescription"] == (3, 10)
    assert got["mss_patient"] == (1, 10)  # p3's consultation; the test INS has none
    assert got["mss_patient_messages"] == (2, 10)
    assert got["dmp"] == (3, 10)  # p0 (two documents, one consultation), p1, p2
    assert got["dmp_documents"] == (4, 10)
    assert got["teleservice:aat"] == (9, 10)  # forms of another régime count nowhere
    assert got["teleservice:dsg"] == (0, 0)
    assert m["teleservice:dsg"].rate is None
    assert float(m["eprescription"].rate) == 0.3
    assert (m["mss_patient"].unlinked, m["mss_patient"].without_patient) == (1, 0)


def test_a_consultation_counts_once_however_many_documents():
    events = seen(2) + many("dmp_document", 5, patient="p0")
    value = score_of(events).practitioners[0].metrics["dmp"]
    assert (value.numerator, value.denominator, float(value.rate)) == (1, 2, 0.5)


def test_threshold_is_met_exactly_at_the_rate():
    # 3 electronic of 10 is exactly 30 %, even though 0.1 + 0.2 != 0.3 in floating point: met where
    # the reading is « au moins 30 % », not where DONUM's « > 30 % » is read strictly (the default).
    base = [declared("equipement")] + many("teleservice", 10, "t", service="dmt", online=True)
    events = (
        base
        + seen(10)
        + [ev("dmp_document", f"dmp_document{i}", patient=f"p{i}") for i in range(3)]
        + many("prescription", 3, "pe", electronic=True)
        + many("prescription", 7, "pp", electronic=False)
    )
    ind = {i.id: i for i in score_of(events).practitioners[0].indicators}["dmp_ordonnance"]
    at_least = ind.variant_labels.index("« Au moins » : le seuil exact suffit (≥)")
    assert (ind.met, ind.met_variants[at_least]) == (False, True)
    events_below = [e for e in events if e["id"] != "dmp_document2"]
    ind = {i.id: i for i in score_of(events_below).practitioners[0].indicators}["dmp_ordonnance"]
    assert (ind.met, ind.met_variants[at_least]) == (False, False)
    more = [ev("dmp_document", "dmp_document3", patient="p3"), ev("prescription", "pe3", electronic=True)]
    events_above = events + more
    ind = {i.id: i for i in score_of(events_above).practitioners[0].indicators}["dmp_ordonnance"]
    assert (ind.met, ind.met_variants[at_least]) == (True, True)


def test_donum_gate_needs_both_socle_indicators():
    online = many("teleservice", 10, "t", service="dmt", online=True)
    optional_met = many("fse", 1, vitale="apcv") + [
        ev("consultation", "c", patient=TEST_INS),
        ev("mss_message", "m", recipient=f"{TEST_INS}@patient.mssante.fr"),
    ]
    no_declaration = score_of(online + optional_met).practitioners[0]
    assert (no_declaration.gate_met, no_declaration.points) == (False, 0)
    assert {i.id: i.met for i in no_declaration.indicators}["apcv_mss"] is True
    full = score_of(online + optional_met + [declared("equipement")]).practitioners[0]
    assert (full.gate_met, full.points, full.euros) == (True, 300, 2100)
    paper = many("teleservice", 10, "t", service="dmt", online=False)
    gate_fail = score_of(paper + optional_met + [declared("equipement")]).practitioners[0]
    assert gate_fail.gate_met is False and gate_fail.points == 0


def test_donum_mean_of_is_simple_mean_of_defined_rates():
    # dmt 100 %, pse 20 %, teletransmission 70 %, aat undefined → mean (1 + .2 + .7) / 3 = 63 % ≥ 60 %
    events = (
        [declared("equipement")]
        + many("teleservice", 5, "d", service="dmt", online=True)
        + many("teleservice", 1, "p1", service="pse", online=True)
        + many("teleservice", 4, "p0", service="pse", online=False)
        + many("fse", 7, vitale="carte")
        + many("fsp", 3)
    )
    ps = score_of(events).practitioners[0]
    assert ps.gate_met is True
    # with pse at 0 %, the mean is (1 + 0 + .7) / 3 = 56.7 % < 60 %
    events = [e for e in events if not e["id"].startswith("p1")]
    ps = score_of(events).practitioners[0]
    ind = {i.id: i for i in ps.indicators}["teleservices_socle"]
    assert ind.met is False
    assert {m.metric for m in ind.missing} == {"teleservice:pse", "teleservice:aat"}


def test_forfait_structure_volet1_gate_and_volet2_points():
    volet1 = [
        declared(i, year=2025, at="2025-05-01T10:00:00")
        for i in ("logiciel_segur", "sesam_vitale_apcv", "horaires_annuaire")
    ]
    fse = [ev("fse", f"f{i}", at="2025-05-02T10:00:00", vitale="carte", transmitted=i < 2) for i in range(3)]
    apcv = [ev("fse", "fa", at="2025-05-02T10:00:00", vitale="apcv")]
    ps = score_of(volet1 + fse + apcv, year=2025, as_of=date(2025, 12, 31)).practitioners[0]
    # 3 of 4 transmitted = 75 % ≥ 2/3: gate met; apcv (40) met → 280 + 40
    assert (ps.gate_met, ps.points) == (True, 320)
    assert ps.max_points == 1115
    # 2 of 4 transmitted: volet 1 fails and nothing at all is paid.
    fse_bad = [ev("fse", f"f{i}", at="2025-05-02T10:00:00", vitale="carte", transmitted=i < 1) for i in range(3)]
    ps = score_of(volet1 + fse_bad + apcv, year=2025, as_of=date(2025, 12, 31)).practitioners[0]
    assert (ps.gate_met, ps.points) == (False, 0)
    assert {i.id: i.met for i in ps.indicators}["apcv"] is True


def test_two_thirds_exactly_is_not_more_than_two_thirds():
    """« Supérieur à 2/3 » (2022–2025) is strict: 2 of 3 fails by default, passes in the « au moins
    2/3 » reading; 201 of 300 passes both."""

    def teletransmission(sent, total):
        fse = [ev("fse", f"f{i}", at="2025-05-02T10:00:00", vitale="carte", transmitted=i < sent) for i in range(total)]
        ps = score_of(fse, year=2025, as_of=date(2025, 12, 31)).practitioners[0]
        ind = {i.id: i for i in ps.indicators}["teletransmission"]
        return ind.met, ind.met_variants

    assert teletransmission(2, 3) == (False, [True])
    assert teletransmission(201, 300) == (True, [True])
    assert teletransmission(199, 300) == (False, [False])


def test_latest_declaration_wins():
    events = [
        declared("equipement", True, at="2026-02-01T10:00:00", id="a"),
        declared("equipement", False, at="2026-03-01T10:00:00", id="b"),
    ]
    ps = score_of(events).practitioners[0]
    assert {i.id: i.met for i in ps.indicators}["equipement"] is False


def test_counting_window_is_the_year_up_to_as_of():
    events = [
        ev("consultation", "before", at="2025-12-31T23:59:00"),
        ev("consultation", "in", at="2026-03-01T00:00:00"),
        ev("consultation", "asof", at="2026-06-30T23:59:00"),
        ev("consultation", "after", at="2026-07-01T00:00:01"),
    ]
    ps = score_of(events, as_of=date(2026, 6, 30)).practitioners[0]
    assert ps.metrics["dmp"].denominator == 2


def test_missing_counts_more_numerator_events_at_the_current_pace():
    # Half-way through the year (as of 2 July, day 183 of 365): 100 prescriptions, 20 electronic.
    events = [ev("prescription", f"p{i}", at="2026-06-15T10:00:00", electronic=i < 20) for i in range(100)]
    events += [declared("equipement"), *many("teleservice", 1, "t", service="dmt", online=True)]
    ps = score_of(events, as_of=date(2026, 7, 2)).practitioners[0]
    ind = {i.id: i for i in ps.indicators}["dmp_ordonnance"]
    miss = {m.metric: m.count for m in ind.missing}
    value = ps.metrics["eprescription"]
    # At this pace the year ends with 100 × 365/183 prescriptions, 20 × 365/183 of them electronic:
    # 30 % needs (0.30 × 100 − 20) × 365/183 = 19.94… → 20 more electronic ones.
    assert miss["eprescription"] == 20
    assert value.projected_denominator == Fraction(100 * 365, 183)
    assert float(value.projected_rate) == pytest.approx(0.20)
    # At 31 December, nothing is projected any more: « > 30 % » needs 31 of 100, 20 done → 11 more.
    ps = score_of(events, as_of=date(2026, 12, 31)).practitioners[0]
    ind = {i.id: i for i in ps.indicators}["dmp_ordonnance"]
    assert {m.metric: m.count for m in ind.missing}["eprescription"] == 11
    assert ind.missing and all(not i.missing for i in ps.indicators if i.met)


def test_count_condition_missing_and_zero_denominator():
    ps = score_of([declared("equipement")]).practitioners[0]
    ind = {i.id: i for i in ps.indicators}["apcv_mss"]
    assert {(m.metric, m.count) for m in ind.missing} == {("apcv", 1), ("mss_patient_messages", 1)}


def test_all_condition_and_declared_in_custom_rules():
    rules = parse_rules(
        """
year = 2026
scheme = "donum"
title = "T"
point_value_eur = 7
source = "src"
[[groups]]
id = "g"
label = "G"
gate = true
points = 10
[[groups]]
id = "o"
label = "O"
[[indicators]]
id = "eq"
group = "g"
label = "Eq"
source = "src"
condition = { declared = true }
[[indicators]]
id = "both"
group = "o"
label = "Both"
points = 5
source = "src"
condition = { all = [ { metric = "apcv", min_count = 2 }, { metric = "dmp", min_rate = 0.5 } ] }
""",
        "t.toml",
    )
    base = [declared("eq"), *seen(2), ev("dmp_document", "d", patient="p1")]
    one_apcv = many("fse", 1, vitale="apcv")
    assert score_of(base + one_apcv, rules=rules).practitioners[0].points == 10
    two_apcv = many("fse", 2, vitale="apcv")
    assert score_of(base + two_apcv, rules=rules).practitioners[0].points == 15


def test_practitioners_are_scored_separately():
    events = [ev("consultation", "a"), ev("consultation", "b", practitioner="10202020202")]
    score = score_of(events)
    assert [p.rpps for p in score.practitioners] == [RPPS_A, "10202020202"]
    assert all(p.metrics["dmp"].denominator == 1 for p in score.practitioners)


def test_score_json_shape_is_the_contract():
    data = score_of(many("consultation", 3)).as_json()
    assert {"year", "as_of", "point_value_eur", "practitioners"} <= set(data)
    p = data["practitioners"][0]
    assert {"rpps", "gate_met", "points", "max_points", "euros", "metrics", "indicators"} <= set(p)
    assert len(p["metrics"]) == 13  # every metric, even with a zero denominator
    assert set(p["metrics"]["apcv"]) == {"numerator", "denominator", "rate", "projected_rate"}
    assert {"id", "group", "met", "points", "max_points", "missing"} <= set(p["indicators"][0])
