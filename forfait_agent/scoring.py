"""Scoring: a pure function of (per-day event counts, declarations, rules, as-of date).

No I/O here. Thresholds are compared with exact fractions so that 3 of 10 meets 30 % whatever
binary floating point thinks of 0.3.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .rules import (
    LINKED_METRICS,
    METRICS,
    AllCondition,
    Condition,
    CountCondition,
    DeclaredCondition,
    MeanCondition,
    RateCondition,
    Rules,
)
from .tally import CountKey, Counts, Link, Tally
from .vocab import UNKNOWN_PRACTITIONER

if TYPE_CHECKING:
    from .events import Event


def count_key(event: Event) -> CountKey:
    """The dimensions an event is counted by: its kind, a detail and a flag.

    Flags: fse transmitted; prescription electronic; mss_message to a patient; consultation and
    dmp_document carry a patient; teleservice online (+2 outside the régime général, which
    counts in neither numerator nor denominator).
    """
    kind = event.kind
    if kind == "fse":
        return kind, event.vitale, int(event.transmitted)
    if kind == "prescription":
        return kind, "", int(event.electronic)
    if kind == "mss_message":
        return kind, "", int(event.is_to_patient)
    if kind == "teleservice":
        return kind, event.service, int(event.online) + (0 if event.regime_general else 2)
    if kind in ("consultation", "dmp_document"):
        return kind, "", int(event.patient is not None)
    return kind, "", 0


def _sum(counts: Counts, kind: str, detail: str | None = None, flags: tuple[int, ...] | None = None) -> int:
    total = 0
    for (k, d, f), n in counts.items():
        if k == kind and (detail is None or d == detail) and (flags is None or f in flags):
            total += n
    return total


def metric_fraction(metric: str, tally: Tally, link_days: int = 0) -> tuple[int, int]:
    """(numerator, denominator) of a metric, as defined in the contract (v2)."""
    counts = tally.counts
    if metric == "teletransmission":
        return _sum(counts, "fse", flags=(1,)), _sum(counts, "fse") + _sum(counts, "fsp")
    if metric == "apcv":
        return _sum(counts, "fse", detail="apcv"), _sum(counts, "fse")
    if metric == "eprescription":
        return _sum(counts, "prescription", flags=(1,)), _sum(counts, "prescription")
    if metric in LINKED_METRICS:
        return tally.links.get((metric, link_days), Link()).linked, _sum(counts, "consultation")
    if metric == "dmp_documents":
        return _sum(counts, "dmp_document"), _sum(counts, "consultation")
    if metric == "mss_patient_messages":
        return _sum(counts, "mss_message", flags=(1,)), _sum(counts, "consultation")
    if metric.startswith("teleservice:"):
        service = metric.split(":", 1)[1]
        return (
            _sum(counts, "teleservice", detail=service, flags=(1,)),
            _sum(counts, "teleservice", detail=service, flags=(0, 1)),
        )
    raise KeyError(metric)


def _rate(num: Fraction | int, den: Fraction | int) -> Fraction | None:
    return None if den == 0 else Fraction(num) / Fraction(den)


def _threshold(value: float) -> Fraction:
    """The decimal the rules file wrote (0.3 → 3/10), not its binary approximation."""
    return Fraction(repr(value))


def _passes(rate: Fraction, threshold: Fraction, strict: bool) -> bool:
    return rate > threshold if strict else rate >= threshold


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
    link_days: int | None = None  # linked metrics only, with the two counts below
    unlinked: int | None = None  # numerator-kind events not linked to any consultation
    without_patient: int | None = None  # consultations without a patient id: they cannot link

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": _float(self.rate),
            "projected_rate": _float(self.projected_rate),
        }
        if self.link_days is not None:
            data.update(link_days=self.link_days, unlinked=self.unlinked, without_patient=self.without_patient)
        return data


@dataclass
class Missing:
    """`count` more numerator events of `metric` by 31 December, beyond the current pace."""

    metric: str
    count: int
    min_rate: float | None = None
    min_count: int | None = None
    strict: bool = False  # the rate must pass min_rate, not just reach it

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
    met_variants: list[bool] = field(default_factory=list)
    variant_labels: list[str] = field(default_factory=list)

    @property
    def met_worst(self) -> bool:
        """Met whatever reading of the texts holds."""
        return self.met and all(self.met_variants)

    @property
    def met_best(self) -> bool:
        """Met under at least one reading."""
        return self.met or any(self.met_variants)

    @property
    def uncertain(self) -> bool:
        """Its outcome depends on how the texts are read."""
        return self.met_worst != self.met_best

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
            "met_variants": list(self.met_variants),
            "variants": [
                {"label": lb, "met": ok} for lb, ok in zip(self.variant_labels, self.met_variants, strict=True)
            ],
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
    points_min: float = 0.0
    points_max: float = 0.0
    euros_min: float = 0.0
    euros_max: float = 0.0

    @property
    def single_valued(self) -> bool:
        return self.points_min == self.points_max

    @property
    def deciding(self) -> list[IndicatorResult]:
        """Indicators whose reading of the texts moves the amount."""
        return [i for i in self.indicators if i.uncertain]

    def as_json(self) -> dict[str, Any]:
        return {
            "rpps": self.rpps,
            "gate_met": self.gate_met,
            "points": _num(self.points),
            "max_points": _num(self.max_points),
            "euros": _num(self.euros),
            "points_min": _num(self.points_min),
            "points_max": _num(self.points_max),
            "euros_min": _num(self.euros_min),
            "euros_max": _num(self.euros_max),
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
        """The `score --json` object, passed through its contract model (docs/contract.md)."""
        data = {
            "year": self.year,
            "as_of": self.as_of,
            "scheme": self.scheme,
            "point_value_eur": _num(self.point_value_eur),
            "gate_group": self.gate_group,
            "gate_points": _num(self.gate_points),
            "practitioners": [p.as_json() for p in self.practitioners],
        }
        from .scorejson import ScoreJson  # only `score --json`, score.json and the hook need it

        return ScoreJson.model_validate(data).model_dump(mode="json", exclude_unset=True)


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


class Metrics:
    """A practitioner's metric values, each computed once per (metric, link_days) on demand."""

    def __init__(self, window: Window, tally: Tally) -> None:
        self.window = window
        self.tally = tally
        self._cache: dict[tuple[str, int], MetricValue] = {}

    def get(self, metric: str, link_days: int | None = None) -> MetricValue:
        """Numerator and denominator now, and projected to 31 December at the year-to-date pace
        (both grow in proportion to the days left, so a rate projects onto itself)."""
        days = (link_days or 0) if metric in LINKED_METRICS else 0
        found = self._cache.get((metric, days))
        if found is None:
            num, den = metric_fraction(metric, self.tally, days)
            scale = self.window.pace or Fraction(0)
            p_num, p_den = num * scale, den * scale
            found = MetricValue(
                numerator=num,
                denominator=den,
                rate=_rate(num, den),
                projected_numerator=p_num,
                projected_denominator=p_den,
                projected_rate=_rate(p_num, p_den) if self.window.pace else None,
            )
            if metric in LINKED_METRICS:
                found.link_days = days
                found.unlinked = self.tally.links.get((metric, days), Link()).unlinked
                found.without_patient = _sum(self.tally.counts, "consultation", flags=(0,))
            self._cache[(metric, days)] = found
        return found


def compute_metrics(window: Window, tally: Tally, link_days: Mapping[str, int]) -> dict[str, MetricValue]:
    """Every metric; linked ones with the window of the year's default condition using them."""
    metrics = Metrics(window, tally)
    return {m: metrics.get(m, link_days.get(m)) for m in METRICS}


def _needed_for_rate(value: MetricValue, threshold: Fraction, strict: bool = False) -> int:
    """Extra numerator events by 31 Dec so the projected rate reaches (or passes) the threshold."""
    if value.projected_denominator == 0:
        return 1
    gap = threshold * value.projected_denominator - value.projected_numerator
    if strict:
        return max(0, math.floor(gap) + 1)
    return max(0, math.ceil(gap))


def _mean(condition: MeanCondition, values: list[MetricValue]) -> Fraction | None:
    """The members' mean rate (simple) or one rate of summed counts (pooled); None when undefined."""
    if condition.how == "pooled":
        return _rate(sum(v.numerator for v in values), sum(v.denominator for v in values))
    rates = [v.rate if v.rate is not None else Fraction(0) for v in values]
    if condition.if_no_activity == "excluded":
        rates = [v.rate for v in values if v.rate is not None]
    return sum(rates, Fraction(0)) / len(rates) if rates else None


def _evaluate(condition: Condition, metrics: Metrics, declared: bool) -> tuple[bool, list[Missing]]:
    if isinstance(condition, RateCondition):
        value, threshold = metrics.get(condition.metric, condition.link_days), _threshold(condition.min_rate)
        if value.rate is None:
            met = condition.if_no_activity == "met"
        else:
            met = _passes(value.rate, threshold, condition.strict)
        if met:
            return True, []
        needed = _needed_for_rate(value, threshold, condition.strict)
        return False, [Missing(condition.metric, needed, min_rate=condition.min_rate, strict=condition.strict)]
    if isinstance(condition, CountCondition):
        value = metrics.get(condition.metric, condition.link_days)
        met = value.numerator >= condition.min_count
        needed = max(0, math.ceil(condition.min_count - value.projected_numerator))
        return met, [] if met else [Missing(condition.metric, needed, min_count=condition.min_count)]
    if isinstance(condition, MeanCondition):
        threshold = _threshold(condition.min_rate)
        values = [metrics.get(m, condition.link_days) for m in condition.metrics()]
        mean = _mean(condition, values)
        if mean is not None and _passes(mean, threshold, condition.strict):
            return True, []
        missing = [
            Missing(m, _needed_for_rate(v, threshold, condition.strict), condition.min_rate, strict=condition.strict)
            for m, v in zip(condition.metrics(), values, strict=True)
            if v.rate is None or not _passes(v.rate, threshold, condition.strict)
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


def _points(rules: Rules, results: list[IndicatorResult], met: Callable[[IndicatorResult], bool]) -> float:
    """Points paid when each indicator's outcome is `met(indicator)`: the gate pays all or nothing
    and the other groups count only when it is met."""
    if not all(met(r) for r in results if r.gate):
        return 0.0
    return float(rules.gate.points or 0) + sum(r.max_points for r in results if not r.gate and met(r))


def score_practitioner(
    rpps: str,
    rules: Rules,
    window: Window,
    tally: Tally,
    declarations: Mapping[str, float],
) -> PractitionerScore:
    metrics = Metrics(window, tally)
    gate_id = rules.gate.id
    results = []
    for ind in rules.indicators:
        declared = bool(declarations.get(ind.id))
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
                met_variants=[_evaluate(v.condition, metrics, declared)[0] for v in ind.variants],
                variant_labels=[v.label for v in ind.variants],
            )
        )
    gate_met = all(r.met for r in results if r.gate)
    if gate_met:
        for r in results:
            if not r.gate and r.met:
                r.points = r.max_points
    points = _points(rules, results, lambda r: r.met)
    points_min = _points(rules, results, lambda r: r.met_worst)
    points_max = _points(rules, results, lambda r: r.met_best)
    value = rules.point_value_eur
    return PractitionerScore(
        rpps=rpps,
        gate_met=gate_met,
        points=points,
        max_points=float(rules.max_points),
        euros=points * value,
        metrics=compute_metrics(window, tally, rules.default_link_days),
        indicators=results,
        points_min=points_min,
        points_max=points_max,
        euros_min=points_min * value,
        euros_max=points_max * value,
    )


def _practitioner_order(rpps: str) -> tuple[bool, str]:
    return rpps == UNKNOWN_PRACTITIONER, rpps


def compute_score(
    rules: Rules,
    as_of: date,
    tallies: Mapping[str, Tally],
    declarations: Mapping[str, Mapping[str, float]],
    practitioners: Iterable[str] = (),
) -> Score:
    """The whole score for a year: one entry per practitioner seen in tallies, declarations or
    `practitioners` (those asked for explicitly appear even with no event)."""
    window = Window(rules.year, as_of)
    wanted = set(practitioners) or (set(tallies) | set(declarations))
    scores = [
        score_practitioner(rpps, rules, window, tallies.get(rpps, Tally()), declarations.get(rpps, {}))
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
