"""The shipped rules files as data: sourced, flagged where inferred, every open reading a variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from forfait_agent.rules import (
    AllCondition,
    Condition,
    CountCondition,
    MeanCondition,
    RateCondition,
    RuleBook,
    Rules,
    builtin_rules_dir,
)

from .conftest import cli

BOOK = RuleBook()
SHIPPED = sorted(builtin_rules_dir().glob("*.toml"))
MARKS = ("[OFF", "[SEC", "[INF")
# Maximum points per year (the totals the sources give, see docs/rules.md; 2023: ameli states 1 163,
# the encoded indicators 1 140 — one téléservice of 22.5 points was found nowhere).
TOTALS = {2021: 885, 2022: 1385, 2023: 1140, 2024: 1115, 2025: 1115, 2026: 420, 2027: 420, 2028: 420}


def _leaves(condition: Condition) -> list[RateCondition | CountCondition | MeanCondition]:
    if isinstance(condition, AllCondition):
        return [leaf for sub in condition.all for leaf in _leaves(sub)]
    return [condition] if isinstance(condition, RateCondition | CountCondition | MeanCondition) else []


def _variants(rules: Rules, ident: str) -> list[Condition]:
    return [v.condition for v in next(i for i in rules.indicators if i.id == ident).variants]


def test_every_year_has_its_totals():
    assert {y: BOOK.get(y).max_points for y in BOOK.years()} == TOTALS


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_number_is_sourced_and_every_inference_explained(path: Path, home: Path):
    rules = BOOK.get(int(path.stem))
    assert "valide" in cli(home, "rules", "check", str(path)).stdout
    sources = [rules.source] + [g.source or "" for g in rules.groups] + [i.source for i in rules.indicators]
    assert all(any(mark in s for mark in MARKS) for s in sources), "a source without [OFF]/[SEC]/[INF]"
    for ind in rules.indicators:
        if "[INF" in ind.source or "[INF" in ind.label:
            assert ind.note, f"{ind.id}: inferred without a note"
        labels = [v.label for v in ind.variants]
        assert len(set(labels)) == len(labels), f"{ind.id}: two variants with the same label"
        assert ind.condition not in [v.condition for v in ind.variants], f"{ind.id}: a variant equal to the default"
        if ind.variants:
            assert ind.note, f"{ind.id}: variants without a note saying why the default was chosen"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_strict_where_the_label_says_more_than(path: Path):
    for ind in BOOK.get(int(path.stem)).indicators:
        strict = [leaf.strict for leaf in _leaves(ind.condition) if not isinstance(leaf, CountCondition)]
        if ">" in ind.label or "supérieur à" in ind.label:
            assert strict and all(strict), ind.id
        elif "≥" in ind.label:
            assert not any(strict), ind.id


@pytest.mark.parametrize("year", range(2022, 2026))
def test_teletransmission_more_than_two_thirds_with_the_at_least_reading(year: int):
    rules = BOOK.get(year)
    (default,) = _leaves(next(i for i in rules.indicators if i.id == "teletransmission").condition)
    (variant,) = _variants(rules, "teletransmission")
    assert (default.strict, variant.strict) == (True, False)


@pytest.mark.parametrize("year", range(2022, 2029))
def test_dmp_link_window_is_a_variant(year: int):
    rules = BOOK.get(year)
    ident = "dmp" if year < 2026 else "dmp_ordonnance"
    windows = {leaf.link_days for v in _variants(rules, ident) for leaf in _leaves(v) if leaf.metrics() == ("dmp",)}
    assert windows - {None, 0}


@pytest.mark.parametrize("year", range(2026, 2029))
def test_donum_readings_are_all_encoded(year: int):
    rules = BOOK.get(year)
    socle = [leaf for v in _variants(rules, "teleservices_socle") for leaf in _leaves(v)]
    assert {(m.how, m.if_no_activity) for m in socle} >= {("pooled", "excluded"), ("simple", "zero")}
    others = _variants(rules, "dematerialisation")
    assert any(isinstance(v, MeanCondition) and v.how == "pooled" for v in others)  # one pooled rate
    default_strict = _leaves(next(i for i in rules.indicators if i.id == "dematerialisation").condition)[0].strict
    assert any(all(leaf.strict != default_strict for leaf in _leaves(v)) for v in others)  # > vs ≥
    assert any(all(leaf.if_no_activity == "met" for leaf in _leaves(v)) for v in others)  # non concerné
    assert any(isinstance(v, MeanCondition) for v in _variants(rules, "dmp_ordonnance"))  # each vs together
    apcv_mss = next(i for i in rules.indicators if i.id == "apcv_mss").condition
    assert {leaf.metrics() for leaf in _leaves(apcv_mss)} == {("apcv",), ("mss_patient_messages",)}


def test_2023_spe_threshold_twenty_with_ninety_as_a_variant():
    rules = BOOK.get(2023)
    (default,) = _leaves(next(i for i in rules.indicators if i.id == "teleservice_spe").condition)
    assert default.min_rate == 0.20
    assert 0.90 in [leaf.min_rate for v in _variants(rules, "teleservice_spe") for leaf in _leaves(v)]


@pytest.mark.parametrize("year", range(2023, 2026))
def test_a_teleservice_never_used_is_a_reading(year: int):
    rules = BOOK.get(year)
    for ind in rules.indicators:
        if ind.id.startswith("teleservice_"):
            assert any(leaf.if_no_activity == "met" for v in _variants(rules, ind.id) for leaf in _leaves(v)), ind.id
