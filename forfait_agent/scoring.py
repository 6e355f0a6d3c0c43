"""Scoring: a pure function of (per-day event counts, declarations, rules, as-of date).

No I/O here. Thresholds are compared with exact fractions so that 3 of 10 meets 30 % whatever
binary floating point thinks of 0.3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from .events import UNKNOWN_PRACTITIONER, Declaration, Event
from .rules import (
    METRICS,
    AllCondition,
    Condition,
    CountCondition,
    DeclaredCondition,
    MeanCondition,
    RateCondition,
    Rules,
)

CountKey = tuple[str, str, int]  # (kind, detail, flag)
Counts = Mapping[CountKey, int]
CAPPED_METRICS = frozenset({"mss_patient", "dmp"})


def count_key(event: Event) -> CountKey:
    """The dimensions an event is counted by: its kind, a detail and its numerator flag."""
    kind = event.kind
    if kind == "fse":
        return kind, event.vitale, int(event.transmitted)
    if kind == "prescription":
        return kind, "", int(event.electronic)
    if kind == "mss_message":
        return kind, "", int(event.is_to_patient)
    if kind == "teleservice":
        return kind, event.service, int(event.online)
    return kind, "", 0


def _sum(counts: Counts, kind: str, detail: str | None = None, flag: int | None = None) -> int:
    return sum(
        n
        for (k, d, f), n in counts.items()
        if k == kind and (detail is None or d == detail) and (flag is None or f == flag)
    )


def metric_fraction(metric: str, counts: Counts) -> tuple[int, int]:
    """(numerator, denominator) of a metric, as defined in the contract."""
    if metric == "teletransmission":
        return _sum(counts, "fse", flag=1), _sum(counts, "fse") + _sum(counts, "fsp")
    if metric == "apcv":
        return _sum(counts, "fse", detail="apcv"), _sum(counts, "fse")
    if metric == "eprescription":
        return _sum(counts, "prescription", flag=1), _sum(counts, "prescription")
    if metric == "mss_patient":
        return _sum(counts, "mss_message", flag=1), _sum(counts, "consultation")
    if metric == "dmp":
        return _sum(counts, "dmp_document"), _sum(counts, "consultation")
    if metric.startswith("teleservice:"):
        service = metric.split(":", 1)[1]
        return (
            _sum(counts, "teleservice", detail=service, flag=1),
            _sum(counts, "teleservice", detail=service),
        )
    raise KeyError(metric)


def _rate(metric: str, num: Fraction | int, den: Fraction | int) -> Fraction | None:
    if den == 0:
        return None
    rate = Fraction(num) / Fraction(den)
    return min(rate, Fraction(1)) if metric in CAPPED_METRICS else rate


def _threshold(value: float) -> Fraction:
    """The decimal the rules file wrote (0.3 → 3/10), not its binary approximation."""
    return Fraction(repr(value))


@dataclass(frozen=True)
class Window:
    """Where the as-of date stands in the rules' year."""

    year: int
    as_of: date

    @property
    def start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        """Last counted day: the as-of date, clamped to the year."""
        return max(min(self.as_of, date(self.year, 12, 31)), self.start - timedelta(days=1))

    @property
    def days_in_year(self) -> int:
        return (date(self.year, 12, 31) - self.start).days + 1

    @property
    def elapsed(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def remaining(self) -> int:
        return self.days_in_year - self.elapsed

    @property
    def pace(self) -> Fraction | None:
        """Year ÷ elapsed days: at the current pace, each count ends the year this many times larger."""
        return Fraction(self.days_in_year, self.elapsed) if self.elapsed > 0 else None


@dataclass
class MetricValue:
    numerator: int
    denominator: int
    rate: Fraction | None
    projected_numerator: Fraction
    projected_denominator: Fraction
    projected_rate: Fraction | None

    def as_json(self) -> dict[str, Any]:
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": _float(self.rate),
            "projected_rate": _float(self.projected_rate),
        }


@dataclass
class Missing:
    """`count` more numerator events of `metric` by 31 December, beyond the current pace."""

    metric: str
    count: int
    min_rate: float | None = None
    min_count: int | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"metric": self.metric, "count": self.count}
        if self.min_rate is not None:
            data["min_rate"] = self.min_rate
        if self.min_count is not None:
            data["min_count"] = self.min_count
        return data


@dataclass
class IndicatorResult:
    id: str
    group: str
    label: str
    gate: bool
    met: bool
    points: float
    max_points: float
    metrics: tuple[str, ...]
    missing: list[Missing] = field(default_factory=list)
    declared: bool | None = None  # for declarative indicators: the current answer
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group,
            "label": self.label,
            "met": self.met,
            "points": _num(self.points),
            "max_points": _num(self.max_points),
            "pooled": self.gate,
            "declarative": self.declared is not None,
            "missing": [m.as_json() for m in self.missing],
        }


@dataclass
class PractitionerScore:
    rpps: str
    gate_met: bool
    points: float
    max_points: float
    euros: float
    metrics: dict[str, MetricValue]
    indicators: list[IndicatorResult]

    def as_json(self) -> dict[str, Any]:
        return {
            "rpps": self.rpps,
            "gate_met": self.gate_met,
            "points": _num(self.points),
            "max_points": _num(self.max_points),
            "euros": _num(self.euros),
            "metrics": {k: v.as_json() for k, v in self.metrics.items()},
            "indicators": [i.as_json() for i in self.indicators],
        }


@dataclass
class Score:
    year: int
    as_of: date
    scheme: str
    title: str
    point_value_eur: float
    gate_group: str
    gate_points: float
    practitioners: list[PractitionerScore]

    def as_json(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "as_of": self.as_of.isoformat(),
            "scheme": self.scheme,
            "point_value_eur": _num(self.point_value_eur),
            "gate_group": self.gate_group,
            "gate_points": _num(self.gate_points),
            "practitioners": [p.as_json() for p in self.practitioners],
        }


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


def compute_metrics(window: Window, ytd: Counts) -> dict[str, MetricValue]:
    """Every metric, with a projection to 31 December at the year-to-date pace (numerator and
    denominator both grow in proportion to the days left, so a rate projects onto itself)."""
    result = {}
    scale = window.pace or Fraction(0)
    for metric in METRICS:
        num, den = metric_fraction(metric, ytd)
        p_num, p_den = num * scale, den * scale
        result[metric] = MetricValue(
            numerator=num,
            denominator=den,
            rate=_rate(metric, num, den),
            projected_numerator=p_num,
            projected_denominator=p_den,
            projected_rate=_rate(metric, p_num, p_den) if window.pace else None,
        )
    return result


def _needed_for_rate(value: MetricValue, threshold: Fraction) -> int:
    """Extra numerator events by 31 Dec so the projected rate reaches the threshold."""
    if value.projected_denominator == 0:
        return 1
    return max(0, math.ceil(threshold * value.projected_denominator - value.projected_numerator))


def _evaluate(condition: Condition, metrics: Mapping[str, MetricValue], declared: bool) -> tuple[bool, list[Missing]]:
    if isinstance(condition, RateCondition):
        value, threshold = metrics[condition.metric], _threshold(condition.min_rate)
        met = value.rate is not None and value.rate >= threshold
        missing = (
            [] if met else [Missing(condition.metric, _needed_for_rate(value, threshold), min_rate=condition.min_rate)]
        )
        return met, missing
    if isinstance(condition, CountCondition):
        value = metrics[condition.metric]
        met = value.numerator >= condition.min_count
        needed = max(0, math.ceil(condition.min_count - value.projected_numerator))
        return met, [] if met else [Missing(condition.metric, needed, min_count=condition.min_count)]
    if isinstance(condition, MeanCondition):
        threshold = _threshold(condition.min_rate)
        rates = [metrics[m].rate for m in condition.mean_of]
        defined = [r for r in rates if r is not None]
        met = bool(defined) and sum(defined, Fraction(0)) / len(defined) >= threshold
        if met:
            return True, []
        missing = [
            Missing(m, _needed_for_rate(metrics[m], threshold), min_rate=condition.min_rate)
            for m in condition.metrics()
            if metrics[m].rate is None or metrics[m].rate < threshold
        ]
        return False, missing
    if isinstance(condition, AllCondition):
        results = [_evaluate(c, metrics, declared) for c in condition.all]
        return all(ok for ok, _ in results), [m for _, ms in results for m in ms]
    if isinstance(condition, DeclaredCondition):
        return declared, []
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover - rules are validated


def is_declarative(condition: Condition) -> bool:
    if isinstance(condition, DeclaredCondition):
        return True
    return isinstance(condition, AllCondition) and any(is_declarative(c) for c in condition.all)


def score_practitioner(
    rpps: str,
    rules: Rules,
    window: Window,
    ytd: Counts,
    declarations: Mapping[str, float],
) -> PractitionerScore:
    metrics = compute_metrics(window, ytd)
    gate_id = rules.gate.id
    results = []
    for ind in rules.indicators:
        declared_value = declarations.get(ind.id)
        declared = bool(declared_value)
        met, missing = _evaluate(ind.condition, metrics, declared)
        results.append(
            IndicatorResult(
                id=ind.id,
                group=ind.group,
                label=ind.label,
                gate=ind.group == gate_id,
                met=met,
                points=0.0,
                max_points=float(ind.points or 0),
                metrics=ind.condition.metrics(),
                missing=missing,
                declared=declared if is_declarative(ind.condition) else None,
                note=ind.note,
            )
        )
    gate_met = all(r.met for r in results if r.gate)
    points = 0.0
    if gate_met:
        points = float(rules.gate.points or 0)
        for r in results:
            if not r.gate and r.met:
                r.points = r.max_points
                points += r.points
    return PractitionerScore(
        rpps=rpps,
        gate_met=gate_met,
        points=points,
        max_points=float(rules.max_points),
        euros=points * rules.point_value_eur,
        metrics=metrics,
        indicators=results,
    )


def _practitioner_order(rpps: str) -> tuple[bool, str]:
    return rpps == UNKNOWN_PRACTITIONER, rpps


def compute_score(
    rules: Rules,
    as_of: date,
    ytd: Mapping[str, Counts],
    declarations: Mapping[str, Mapping[str, float]],
    practitioners: Iterable[str] = (),
) -> Score:
    """The whole score for a year: one entry per practitioner seen in counts, declarations or
    `practitioners` (those asked for explicitly appear even with no event)."""
    window = Window(rules.year, as_of)
    wanted = set(practitioners) or (set(ytd) | set(declarations))
    scores = [
        score_practitioner(rpps, rules, window, ytd.get(rpps, {}), declarations.get(rpps, {}))
        for rpps in sorted(wanted, key=_practitioner_order)
    ]
    return Score(
        year=rules.year,
        as_of=as_of,
        scheme=rules.scheme,
        title=rules.title,
        point_value_eur=rules.point_value_eur,
        gate_group=rules.gate.id,
        gate_points=float(rules.gate.points or 0),
        practitioners=scores,
    )


def counts_from_events(
    events: Iterable[Event], start: date, end: date
) -> tuple[dict[str, dict[CountKey, int]], dict[str, dict[str, float]]]:
    """Per-practitioner counts and latest declarations, straight from events (no store).

    Events are deduplicated by (kind, id), first seen wins, as the store does.
    """
    seen: set[tuple[str, str]] = set()
    counts: dict[str, dict[CountKey, int]] = {}
    latest: dict[tuple[str, str], tuple[Any, float]] = {}
    for event in events:
        if (event.kind, event.id) in seen:
            continue
        seen.add((event.kind, event.id))
        if isinstance(event, Declaration):
            if event.year == start.year:
                key = (event.practitioner, event.indicator)
                order = (event.at, event.id)
                if key not in latest or order >= latest[key][0]:
                    latest[key] = (order, float(event.value))
            continue
        if start <= event.day <= end:
            bucket = counts.setdefault(event.practitioner, {})
            key3 = count_key(event)
            bucket[key3] = bucket.get(key3, 0) + 1
    declarations: dict[str, dict[str, float]] = {}
    for (rpps, indicator), (_, value) in latest.items():
        declarations.setdefault(rpps, {})[indicator] = value
    return counts, declarations
