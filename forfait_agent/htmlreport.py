"""The HTML report: one self-contained file (no script, no network), printable, in French."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .declaration import DeclarationSheet, campaign, sheets
from .events import PARIS, UNKNOWN_PRACTITIONER
from .report import (
    METRIC_LABELS,
    Target,
    View,
    actions,
    doubts,
    fmt_date,
    fmt_eur,
    fmt_pct,
    fmt_points,
    fmt_projection,
    group_names,
    plain_tags,
    points_word,
    targets,
)
from .rules import METRICS, Rules
from .scoring import PractitionerScore, Score, metric_fraction
from .tally import Tally

REPORT_FILE = "report.html"  # kept current by the live agent, opened by `forfait-agent open`
MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


@dataclass
class GroupLine:
    label: str
    won: float
    possible: float


def _group_lines(rules: Rules, ps: PractitionerScore) -> list[GroupLine]:
    lines = []
    for group in rules.groups:
        members = [i for i in ps.indicators if i.group == group.id]
        if group.gate:
            won = float(group.points or 0) if ps.gate_met else 0.0
            lines.append(GroupLine(group.label, won, float(group.points or 0)))
        else:
            lines.append(GroupLine(group.label, sum(i.points for i in members), sum(i.max_points for i in members)))
    return lines


def _cumulative(
    metric: str, monthly: dict[str, Tally], year: int, last_month: int, goal: Target, link_days: int = 0
) -> list[float | None]:
    """Month by month, the year-to-date rate (or count, for count targets) at each month's end."""
    running = Tally()
    points: list[float | None] = []
    for month in range(1, 13):
        if month > last_month:
            points.append(None)
            continue
        running = running + monthly.get(f"{year}-{month:02d}", Tally())
        num, den = metric_fraction(metric, running, link_days)
        if goal.min_rate is None:
            points.append(float(num))
        else:
            points.append(None if den == 0 else min(num / den, 1.0))
    return points


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)


def _svg(chart: Any) -> str:
    """pygal always embeds a tooltip-config script; the report runs no script at all (its CSP
    would refuse it), so it is removed: the charts are static SVG."""
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def _style() -> Any:
    from pygal.style import Style

    return Style(
        background="white",
        plot_background="white",
        foreground="#202124",
        foreground_strong="#202124",
        foreground_subtle="#9aa0a6",
        colors=("#1a73e8", "#3c4043"),
        font_family="system-ui, sans-serif",
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        title_font_size=13,
        guide_stroke_color="#e0e0e0",
        major_guide_stroke_color="#c0c0c0",
    )


def _chart_options() -> dict[str, Any]:
    """What every chart of the report shares: no script, inline SVG, one size, one style."""
    return {
        "js": [],
        "disable_xml_declaration": True,
        "style": _style(),
        "width": 560,
        "height": 260,
        "explicit_size": True,
        "legend_at_bottom": True,
    }


def metric_chart(metric: str, values: list[float | None], goal: Target) -> str:
    """Year-to-date value month by month against the target, as inline SVG."""
    import pygal

    is_rate = goal.min_rate is not None
    target = goal.min_rate if is_rate else goal.min_count
    chart = pygal.Line(
        **_chart_options(),
        dots_size=2,
        title=METRIC_LABELS[metric],
        allow_interruptions=True,
        value_formatter=(fmt_pct if is_rate else fmt_points),
        **({"range": (0, 1)} if is_rate else {"include_x_axis": True}),
    )
    chart.x_labels = MONTHS
    if is_rate:
        chart.y_labels = [i / 10 for i in range(0, 11, 2)]
    chart.add("Taux cumulé" if is_rate else "Nombre cumulé", values)
    if target is not None:
        chart.add(
            f"Seuil {goal.text}", [target] * 12, show_dots=False, stroke_style={"dasharray": "8, 5", "width": 2.5}
        )
    return _svg(chart)


def points_chart(lines: list[GroupLine]) -> str:
    import pygal

    top = max([line.possible for line in lines] + [1])
    step = 50 if top <= 400 else 100
    chart = pygal.HorizontalBar(
        **_chart_options(),
        title="Points gagnés / possibles par groupe",
        value_formatter=fmt_points,
    )
    chart.x_labels = [line.label for line in lines]
    chart.y_labels = list(range(0, int(top) + step, step))
    chart.add("Gagnés", [line.won for line in lines])
    chart.add("Possibles", [line.possible for line in lines])
    return _svg(chart)


def _practitioner_view(
    view: View,
    rules: Rules,
    score: Score,
    ps: PractitionerScore,
    monthly: dict[str, Tally],
    sheet: DeclarationSheet,
) -> dict[str, Any]:
    goals = targets(rules)
    can_declare = campaign(rules, view.today).can_declare
    used = [m for m in METRICS if any(m in i.metrics for i in ps.indicators)]
    last_month = score.as_of.month if score.as_of.year == score.year else 12
    metrics = []
    for metric in used:
        value = ps.metrics[metric]
        rate = None if value.rate is None else float(value.rate)
        goal = goals.get(metric, Target())
        metrics.append(
            {
                "label": METRIC_LABELS[metric],
                "numerator": value.numerator,
                "denominator": value.denominator,
                "rate": rate,
                "rate_text": fmt_pct(rate),
                "threshold": goal.min_rate,
                "threshold_text": goal.text,
                "projected_text": fmt_projection(value),
                "ok": goal.reached(value),
                "chart": metric_chart(
                    metric, _cumulative(metric, monthly, score.year, last_month, goal, value.link_days or 0), goal
                ),
            }
        )
    groups = _group_lines(rules, ps)
    todo = actions(ps, score, view, can_declare=can_declare)
    return {
        "rpps": ps.rpps,
        "title": "Praticien non identifié" if ps.rpps == UNKNOWN_PRACTITIONER else view.title(ps.rpps),
        "short": view.short(ps.rpps),
        "gate_met": ps.gate_met,
        "points": fmt_points(ps.points),
        "points_word": points_word(ps.points),
        "euros": fmt_eur(ps.euros),
        "max_points": fmt_points(ps.max_points),
        "max_euros": fmt_eur(ps.max_points * score.point_value_eur),
        "doubts": doubts(ps, score.point_value_eur),
        "range": None if ps.single_valued else f"entre {fmt_eur(ps.euros_min)} et {fmt_eur(ps.euros_max)}",
        "indicators": [i for i in ps.indicators if i.gate] + [i for i in ps.indicators if not i.gate],
        "metrics": metrics,
        "groups": groups,
        "points_chart": points_chart(groups),
        "actions": todo,
        "sheet": sheet,
        "commands": {d.id: view.declare(d.id, ps.rpps, rules.year) for d in sheet.declarative} if can_declare else {},
    }


def build_context(app: Any, year: int, as_of: date, practitioner: str | None = None) -> dict[str, Any]:
    from .app import today

    view = View(today(), app.names, implicit_rpps=app.settings.default_practitioner)
    rules = app.rulebook.get(year)
    score = app.score(year, as_of, practitioner)
    monthly = app.store.tallies(date(year, 1, 1), min(as_of, date(year, 12, 31)), rules.link_windows, by_month=True)
    declarations = app.store.declarations(year)
    views = [
        _practitioner_view(view, rules, score, ps, monthly.get(ps.rpps, {}), sheet)
        for ps, sheet in zip(score.practitioners, sheets(rules, score, declarations), strict=True)
    ]
    history = []
    for past in app.history(practitioner):
        for ps in past.practitioners:
            history.append(
                {
                    "year": past.year,
                    "scheme": "Dotation numérique" if past.scheme == "donum" else "Forfait structure",
                    "rpps": ps.rpps,
                    "gate": ps.gate_met,
                    "points": fmt_points(ps.points),
                    "max_points": fmt_points(ps.max_points),
                    "euros": fmt_eur(ps.euros),
                    "partial": past.as_of < date(past.year, 12, 31),
                }
            )
    history.sort(key=lambda h: (h["rpps"], h["year"]))
    last_ingest = app.store.meta("last_ingest")
    data_date = (
        datetime.fromisoformat(last_ingest).astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if last_ingest else "—"
    )
    finished = view.finished(year)
    return {
        "rules": rules,
        "score": score,
        "finished": finished,
        "result": finished and as_of >= date(year, 12, 31),
        "campaign": campaign(rules, view.today),
        "campaign_text": plain_tags(rules.campaign) if rules.campaign else "",
        "plain": plain_tags,
        "scheme": "dotation numérique" if rules.scheme == "donum" else "forfait structure",
        "gate_label": "Socle" if rules.scheme == "donum" else "Volet 1",
        "group_names": group_names(rules),
        "as_of": fmt_date(as_of),
        "data_date": data_date,
        "generated": datetime.now(PARIS).strftime("%d/%m/%Y à %H:%M"),
        "practitioners": views,
        "history": {rpps: list(rows) for rpps, rows in itertools.groupby(history, key=lambda h: h["rpps"])},
        "point_value": fmt_eur(rules.point_value_eur),
        "fmt_points": fmt_points,
        "fmt_eur": fmt_eur,
    }


def render_html(context: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("forfait_agent", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def write_report(app: Any, path: Path, year: int, as_of: date, practitioner: str | None = None) -> Path:
    from .app import write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, render_html(build_context(app, year, as_of, practitioner)))
    return path
