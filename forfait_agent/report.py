"""What a doctor reads: French wording, French numbers, the gate first, the best actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .declaration import DeclarationSheet
from .events import UNKNOWN_PRACTITIONER
from .rules import METRICS, AllCondition, Condition, CountCondition, MeanCondition, RateCondition, Rules
from .scoring import IndicatorResult, MetricValue, Missing, PractitionerScore, Score

NBSP = "\u00a0"  # encodable in cp1252, unlike the narrow no-break space

METRIC_LABELS = {
    "teletransmission": "Télétransmission des feuilles de soins",
    "apcv": "FSE avec l'appli carte Vitale",
    "eprescription": "Ordonnance numérique",
    "mss_patient": "Messages MSSanté aux patients",
    "dmp": "Documents versés au DMP",
    "teleservice:aat": "Arrêts de travail en ligne (AAT)",
    "teleservice:dmt": "Déclarations de médecin traitant (DMT)",
    "teleservice:pse": "Protocoles de soins électroniques (PSE)",
    "teleservice:atmp": "Certificats AT-MP en ligne",
    "teleservice:spe": "Prescriptions de transport en ligne (SPE)",
    "teleservice:dsg": "Déclarations de grossesse en ligne (DSG)",
}
# What one numerator event is (singular, plural), for "Encore 12 …".
METRIC_UNITS = {
    "teletransmission": ("FSE télétransmise", "FSE télétransmises"),
    "apcv": ("FSE avec l'appli carte Vitale", "FSE avec l'appli carte Vitale"),
    "eprescription": ("ordonnance numérique", "ordonnances numériques"),
    "mss_patient": ("message MSSanté à un patient", "messages MSSanté à des patients"),
    "dmp": ("document versé au DMP", "documents versés au DMP"),
    "teleservice:aat": ("arrêt de travail en ligne", "arrêts de travail en ligne"),
    "teleservice:dmt": ("déclaration de médecin traitant en ligne", "déclarations de médecin traitant en ligne"),
    "teleservice:pse": ("protocole de soins électronique", "protocoles de soins électroniques"),
    "teleservice:atmp": ("certificat AT-MP en ligne", "certificats AT-MP en ligne"),
    "teleservice:spe": ("prescription de transport en ligne", "prescriptions de transport en ligne"),
    "teleservice:dsg": ("déclaration de grossesse en ligne", "déclarations de grossesse en ligne"),
}
assert set(METRIC_LABELS) == set(METRICS) == set(METRIC_UNITS)


def fmt_int(value: float) -> str:
    return f"{round(value):,}".replace(",", NBSP)


def fmt_points(value: float) -> str:
    if float(value).is_integer():
        return fmt_int(value)
    return f"{value:,.1f}".replace(",", NBSP).replace(".", ",")


def fmt_eur(value: float) -> str:
    """2940 → '2 940 €'; cents only when there are some."""
    if float(value).is_integer():
        return f"{fmt_int(value)}{NBSP}€"
    whole = f"{value:,.2f}".replace(",", NBSP).replace(".", ",")
    return f"{whole}{NBSP}€"


def fmt_pct(rate: float | None) -> str:
    if rate is None:
        return "—"
    text = f"{rate * 100:.1f}".replace(".", ",")
    return f"{text.removesuffix(',0')}{NBSP}%"


def fmt_projection(value: MetricValue) -> str:
    """Where the counts end the year at the year-to-date pace: '≈ 2 600 / 4 200'."""
    if value.projected_rate is None and value.projected_denominator == 0:
        return "—"
    num, den = fmt_int(float(value.projected_numerator)), fmt_int(float(value.projected_denominator))
    return f"≈{NBSP}{num} / {den}"


def fmt_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def practitioner_title(rpps: str) -> str:
    if rpps == UNKNOWN_PRACTITIONER:
        return "Praticien non identifié (configurez la correspondance vers un RPPS)"
    return f"Praticien RPPS {rpps}"


@dataclass(frozen=True)
class Action:
    text: str
    points: float
    count: int

    @property
    def value(self) -> float:
        """Points gained per missing event: the order the doctor should act in."""
        return self.points / max(self.count, 1)


def _gain(ps: PractitionerScore, ind: IndicatorResult, gate_points: float) -> float:
    """Points paid more if this indicator alone became met."""
    if not ind.gate:
        return ind.max_points if ps.gate_met else 0.0
    others_met = all(i.met for i in ps.indicators if i.gate and i is not ind)
    if not others_met:
        return 0.0
    return gate_points + sum(i.max_points for i in ps.indicators if not i.gate and i.met)


def _missing_text(miss: Missing) -> str:
    singular, plural = METRIC_UNITS[miss.metric]
    unit = singular if miss.count == 1 else plural
    target = f"{fmt_pct(miss.min_rate)}" if miss.min_rate is not None else f"{miss.min_count} dans l'année"
    return f"{fmt_int(miss.count)} {unit} (objectif {target})"


def actions(ps: PractitionerScore, score: Score) -> list[Action]:
    """One action per unmet indicator that more usage would meet, best points per event first."""
    found = []
    for ind in ps.indicators:
        needed = [m for m in ind.missing if m.count > 0]
        if ind.met or not needed:
            continue
        parts = [_missing_text(m) for m in needed]
        listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]
        text = f"Encore {listing} d'ici le 31/12 — {ind.label}"
        found.append(Action(text, _gain(ps, ind, score.gate_points), sum(m.count for m in needed)))
    found.sort(key=lambda a: (-a.value, a.count))
    return found


def _bar(rate: float | None, threshold: float | None, ok: bool, width: int = 20) -> Text:
    """A text bar (█ filled, ░ empty) with '│' at the threshold and ✔/✘: readable without colour."""
    filled = 0 if rate is None else min(width, round(rate * width))
    mark = None if threshold is None else min(width - 1, round(threshold * width))
    text = Text()
    for i in range(width):
        char = "█" if i < filled else "░"
        if mark is not None and i == mark:
            char = "│" if i >= filled else "┃"
        text.append(char, style="green" if ok else "yellow")
    text.append(" ✔" if ok else " ✘", style="green" if ok else "red")
    return text


def render(score: Score, rules: Rules, console: Console) -> None:
    scheme = "Dotation numérique" if score.scheme == "donum" else "Forfait structure"
    console.print(
        Text(f"{score.title} — situation au {fmt_date(score.as_of)}", style="bold"),
        Text(f"({scheme}, 1 point = {fmt_eur(score.point_value_eur)})"),
    )
    if not score.practitioners:
        console.print(
            "Aucune donnée pour cette année. Lancez « forfait-agent scan DOSSIER » ou « forfait-agent demo »."
        )
        return
    goals = targets(rules)
    for ps in score.practitioners:
        render_practitioner(score, ps, console, goals)


def render_practitioner(score: Score, ps: PractitionerScore, console: Console, goals: dict[str, Target]) -> None:
    gate_label = "Socle" if score.scheme == "donum" else "Volet 1"
    status = "ATTEINT ✔" if ps.gate_met else "NON ATTEINT ✘"
    header = Text()
    header.append(f"{gate_label} (prérequis) : {status}", style="bold green" if ps.gate_met else "bold red")
    header.append(f" — {fmt_points(score.gate_points)} points mis en commun")
    if not ps.gate_met:
        header.append("\nSans le prérequis, aucun point n'est versé.", style="red")

    table = Table(show_header=True, header_style="bold", expand=True)
    table.add_column("Indicateur", ratio=5)
    table.add_column("Groupe", ratio=1)
    table.add_column("État", ratio=2)
    table.add_column("Points", justify="right", ratio=1)
    ordered = [i for i in ps.indicators if i.gate] + [i for i in ps.indicators if not i.gate]
    for ind in ordered:
        if ind.met:
            state = Text("✔ atteint", style="green")
        elif ind.declared is not None and not ind.missing:
            state = Text("? à déclarer", style="yellow")
        else:
            state = Text("✘ non atteint", style="red")
        pts = "commun" if ind.gate else f"{fmt_points(ind.points)} / {fmt_points(ind.max_points)}"
        table.add_row(ind.label, ind.group, state, pts)

    metrics = Table(show_header=True, header_style="bold", expand=True, title="Usages mesurés")
    metrics.add_column("Usage", ratio=4)
    metrics.add_column("Nombre", justify="right", no_wrap=True)
    metrics.add_column("Taux", justify="right", no_wrap=True)
    metrics.add_column("Seuil", justify="right", no_wrap=True)
    metrics.add_column("Progression (│ = seuil)", no_wrap=True)
    metrics.add_column("Au 31/12 à ce rythme", justify="right", no_wrap=True)
    used = {m for i in ps.indicators for m in i.metrics}
    for metric_id in METRICS:
        if metric_id not in used:
            continue
        value = ps.metrics[metric_id]
        rate = None if value.rate is None else float(value.rate)
        goal = goals.get(metric_id, Target())
        metrics.add_row(
            METRIC_LABELS[metric_id],
            f"{fmt_int(value.numerator)} / {fmt_int(value.denominator)}",
            fmt_pct(rate),
            goal.text,
            _bar(rate, goal.min_rate, goal.reached(value)),
            fmt_projection(value),
        )

    total = Text()
    total.append(f"Total : {fmt_points(ps.points)} points = {fmt_eur(ps.euros)}", style="bold")
    total.append(f"  (maximum {fmt_points(ps.max_points)} points = {fmt_eur(ps.max_points * score.point_value_eur)})")

    todo = Text()
    best = actions(ps, score)[:3]
    if best:
        todo.append("Actions les plus rentables :\n", style="bold")
        for action in best:
            gain = f" → +{fmt_points(action.points)} points" if action.points else ""
            todo.append(f"  • {action.text}{gain}\n")
    undeclared = [i for i in ps.indicators if i.declared is False]
    if undeclared:
        todo.append("À déclarer si vous le remplissez (forfait-agent declare ID oui) :\n", style="bold")
        for ind in undeclared:
            gain = "prérequis" if ind.gate else f"+{fmt_points(ind.max_points)} points"
            todo.append(f"  • {ind.id} — {ind.label} ({gain})\n")

    console.print(Panel.fit(header, title=practitioner_title(ps.rpps), title_align="left"))
    console.print(table)
    console.print(metrics)
    console.print(total)
    if todo:
        console.print(todo)


@dataclass(frozen=True)
class Target:
    """What a metric must reach somewhere in the year's rules (the lowest bar if several)."""

    min_rate: float | None = None
    min_count: int | None = None

    @property
    def text(self) -> str:
        return fmt_pct(self.min_rate) if self.min_rate is not None else f"≥{NBSP}{self.min_count}"

    def reached(self, value: MetricValue) -> bool:
        if self.min_rate is not None:
            return value.rate is not None and float(value.rate) >= self.min_rate
        return value.numerator >= (self.min_count or 0)


def targets(rules: Rules) -> dict[str, Target]:
    rates: dict[str, float] = {}
    counts: dict[str, int] = {}

    def visit(cond: Condition) -> None:
        if isinstance(cond, RateCondition):
            rates[cond.metric] = min(rates.get(cond.metric, 1.0), cond.min_rate)
        elif isinstance(cond, MeanCondition):
            for m in cond.mean_of:
                rates[m] = min(rates.get(m, 1.0), cond.min_rate)
        elif isinstance(cond, CountCondition):
            counts[cond.metric] = min(counts.get(cond.metric, cond.min_count), cond.min_count)
        elif isinstance(cond, AllCondition):
            for sub in cond.all:
                visit(sub)

    for ind in rules.indicators:
        visit(ind.condition)
    found = {m: Target(min_count=c) for m, c in counts.items()}
    found.update({m: Target(min_rate=r) for m, r in rates.items()})
    return found


def render_history(scores: list[Score], console: Console) -> None:
    """Past years side by side: what each year paid (or would pay), per practitioner."""
    if len(scores) < 2:
        return
    table = Table("Praticien", *[str(s.year) for s in scores], title="Historique (points et montant par année)")
    rpps_all = sorted({p.rpps for s in scores for p in s.practitioners})
    for rpps in rpps_all:
        cells = []
        for s in scores:
            ps = next((p for p in s.practitioners if p.rpps == rpps), None)
            if ps is None:
                cells.append("—")
                continue
            scheme = "DONUM" if s.scheme == "donum" else "FS"
            partial = " (en cours)" if s.as_of < date(s.year, 12, 31) else ""
            cells.append(f"{fmt_points(ps.points)} pts = {fmt_eur(ps.euros)} ({scheme}){partial}")
        table.add_row(rpps, *cells)
    console.print(table)


def render_declaration(rules: Rules, sheets: list[DeclarationSheet], console: Console) -> None:
    console.print(Text(f"Déclaration sur amelipro — {rules.title}", style="bold"))
    if rules.campaign:
        console.print(f"Campagne : {rules.campaign}.")
    for sheet in sheets:
        table = Table("À déclarer", "Réponse actuelle", "Justificatif", title=practitioner_title(sheet.rpps))
        for item in sheet.declarative:
            style = {"oui": "green", "non": "red"}.get(item.answer, "yellow")
            label = item.label + (" (prérequis)" if item.gate else f" (+{fmt_points(item.points)} pts)")
            table.add_row(label, Text(item.answer, style=style), item.proof or "")
        console.print(table)
        auto = "; ".join(f"{i.label} : {i.answer}" for i in sheet.automatic)
        console.print(f"Calculés par l'Assurance Maladie (rien à déclarer) — notre estimation : {auto}.")
        console.print("Pour enregistrer une réponse : forfait-agent declare ID oui|non\n")
