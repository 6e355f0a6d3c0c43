"""What a doctor reads: French wording, French numbers, the gate first, the best actions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .console import print_command
from .declaration import DeclarationSheet, campaign, declare_command
from .french import NNBSP, fmt_date, fmt_eur, fmt_int, fmt_pct, fmt_points, points_word
from .rules import METRICS, AllCondition, Condition, CountCondition, MeanCondition, RateCondition, Rules
from .scoring import IndicatorResult, MetricValue, Missing, PractitionerScore, Score
from .vocab import UNKNOWN_PRACTITIONER

METRIC_LABELS = {
    "teletransmission": "Télétransmission des feuilles de soins",
    "apcv": "FSE avec l'appli carte Vitale",
    "eprescription": "Ordonnance numérique",
    "mss_patient": "Consultations suivies d'un message MSSanté au patient",
    "dmp": "Consultations suivies d'un document versé au DMP",
    "mss_patient_messages": "Messages MSSanté aux patients",
    "dmp_documents": "Documents versés au DMP",
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
    "mss_patient": (
        "consultation suivie d'un message MSSanté au patient",
        "consultations suivies d'un message MSSanté au patient",
    ),
    "dmp": ("consultation suivie d'un document au DMP", "consultations suivies d'un document au DMP"),
    "mss_patient_messages": ("message MSSanté à un patient", "messages MSSanté à des patients"),
    "dmp_documents": ("document versé au DMP", "documents versés au DMP"),
    "teleservice:aat": ("arrêt de travail en ligne", "arrêts de travail en ligne"),
    "teleservice:dmt": ("déclaration de médecin traitant en ligne", "déclarations de médecin traitant en ligne"),
    "teleservice:pse": ("protocole de soins électronique", "protocoles de soins électroniques"),
    "teleservice:atmp": ("certificat AT-MP en ligne", "certificats AT-MP en ligne"),
    "teleservice:spe": ("prescription de transport en ligne", "prescriptions de transport en ligne"),
    "teleservice:dsg": ("déclaration de grossesse en ligne", "déclarations de grossesse en ligne"),
}
assert set(METRIC_LABELS) == set(METRICS) == set(METRIC_UNITS)


def fmt_projection(value: MetricValue) -> str:
    """Where the counts end the year at the year-to-date pace: '≈ 2 600 / 4 200'."""
    if value.projected_rate is None and value.projected_denominator == 0:
        return "—"
    num, den = fmt_int(float(value.projected_numerator)), fmt_int(float(value.projected_denominator))
    return f"≈ {num} / {den}"


# Confidence tags of the rules files ([OFF], [SEC Orisha]…), in plain words for the doctor.
TAG_WORDS = {"OFF": "texte officiel", "SEC": "source secondaire", "INF": "déduction non confirmée"}
_TAG = re.compile(r"\[((?:OFF|SEC|INF)\b[^\]]*)\]")
_TAG_WORD = re.compile(r"\b(OFF|SEC|INF)\b")


def plain_tags(text: str) -> str:
    """'… [INF]' → '… (déduction non confirmée)'; '[SEC Orisha]' → '(source secondaire Orisha)'."""
    return _TAG.sub(lambda m: "(" + _TAG_WORD.sub(lambda w: TAG_WORDS[w.group(1)], m.group(1)) + ")", text)


@dataclass(frozen=True)
class View:
    """What a screen needs besides the score: who is who, what day it is, how to call us."""

    today: date
    names: Mapping[str, str] = field(default_factory=dict)
    command: str = "forfait-agent"  # the command to copy, as the user launched it
    implicit_rpps: str | None = None  # whom `declare` picks without --practitioner (the default one)

    def title(self, rpps: str) -> str:
        if rpps == UNKNOWN_PRACTITIONER:
            return "Praticien non identifié (configurez la correspondance vers un RPPS)"
        name = self.names.get(rpps)
        return f"{name} — RPPS {rpps}" if name else f"Praticien RPPS {rpps}"

    def short(self, rpps: str) -> str:
        """A name for tight places (tables): the display name, else the RPPS."""
        return self.names.get(rpps) or rpps

    def declare(self, indicator: str, rpps: str, year: int) -> str:
        """The `declare` command that records « oui » for this doctor and year."""
        return declare_command(self.command, indicator, rpps, year=year, today=self.today, implicit=self.implicit_rpps)

    def finished(self, year: int) -> bool:
        """The year is over: results, not deadlines."""
        return self.today > date(year, 12, 31)


def practitioner_title(rpps: str, names: Mapping[str, str] | None = None) -> str:
    return View(date.min, names or {}).title(rpps)


@dataclass(frozen=True)
class Action:
    """One thing the doctor can do, with the euros it would add this year."""

    text: str
    euros: float
    count: int  # events needed; 0 for a declaration
    command: str | None = None  # a command to copy
    condition: str = ""  # what else must hold for the euros to come


def _gain(ps: PractitionerScore, ind: IndicatorResult, gate_points: float) -> float:
    """Points paid more if this indicator became met (for a gate indicator: with the other
    unmet gate indicators, since the gate pays all or nothing)."""
    if not ind.gate:
        return ind.max_points
    return gate_points + sum(i.max_points for i in ps.indicators if not i.gate and i.met)


def _missing_text(miss: Missing) -> str:
    singular, plural = METRIC_UNITS[miss.metric]
    unit = singular if miss.count == 1 else plural
    if miss.min_rate is not None:
        target = f"{'plus de ' if miss.strict else ''}{fmt_pct(miss.min_rate)}"
    else:
        target = f"{miss.min_count} dans l'année"
    return f"{fmt_int(miss.count)} {unit} (objectif {target})"


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]


# Linked metrics: the rate's name, and one / several of its numerator events.
LINKED_WORDS = {
    "dmp": ("DMP", "document versé au DMP", "documents versés au DMP"),
    "mss_patient": ("MSSanté", "message MSSanté à un patient", "messages MSSanté à des patients"),
}


def doubts(ps: PractitionerScore, point_value_eur: float) -> list[str]:
    """What the doctor should know before trusting one amount: the range over every reading of
    the texts, the indicators whose reading decides it, and why a DMP or MSSanté rate looks low."""
    lines = []
    if not ps.single_valued:
        lines.append(
            f"{fmt_eur(ps.euros)} — entre {fmt_eur(ps.euros_min)} et {fmt_eur(ps.euros_max)}"
            " selon l'interprétation des textes"
        )
        for ind in ps.deciding:
            others = [f"« {lb} »" for lb, ok in zip(ind.variant_labels, ind.met_variants, strict=True) if ok != ind.met]
            now, then = ("atteint", "non atteint") if ind.met else ("non atteint", "atteint")
            lines.append(
                f"Décidé par « {ind.label} » : {now} selon notre lecture, {then} selon la lecture {' ou '.join(others)}"
            )
    used = [m for m in LINKED_WORDS if any(m in i.metrics for i in ps.indicators)]
    without = ps.metrics[used[0]].without_patient or 0 if used else 0
    if without:
        rates = " et ".join(LINKED_WORDS[m][0] for m in used)
        one = without == 1
        lines.append(
            f"{fmt_int(without)} consultation{'' if one else 's'} sans identifiant patient : "
            + (f"le taux {rates} ne peut" if len(used) == 1 else f"les taux {rates} ne peuvent")
            + f" pas être calculé{'' if len(used) == 1 else 's'} pour {'elle' if one else 'elles'}"
        )
    for metric in used:
        value = ps.metrics[metric]
        if value.unlinked:
            _, singular, plural = LINKED_WORDS[metric]
            one = value.unlinked == 1
            when = "le même jour" if not value.link_days else f"dans les {value.link_days} jours"
            lines.append(
                f"{fmt_int(value.unlinked)} {singular if one else plural} sans consultation du même patient"
                f" {when} (ou sans identifiant patient) : non compté{'' if one else 's'} dans le taux"
            )
    return lines


def actions(ps: PractitionerScore, score: Score, view: View, *, can_declare: bool = True) -> list[Action]:
    """Every unmet indicator that more usage or a declaration would meet, most euros first, then
    the least effort (a declaration before a hundred documents). `can_declare`: the year's
    campaign is not closed."""
    rules_year, finished = score.year, view.finished(score.year)
    unmet_gate = [i for i in ps.indicators if i.gate and not i.met]
    found = []
    for ind in ps.indicators:
        if ind.met:
            continue
        needed = [m for m in ind.missing if m.count > 0]
        declare = ind.declared is False and can_declare
        if not needed and not declare:
            continue
        steps = []
        command = None
        if declare:
            command = view.declare(ind.id, ps.rpps, rules_year)
            steps.append("déclarer sur amelipro si c'est le cas")
        if needed:
            listing = _listing([_missing_text(m) for m in needed])
            steps.append(f"il manquait {listing}" if finished else f"encore {listing} d'ici le 31/12")
        text = f"{ind.label} : {' ; '.join(steps)}"
        condition = ""
        if ind.gate:
            others = [i.label for i in unmet_gate if i is not ind]
            if others:
                condition = "avec les autres prérequis manquants : " + " ; ".join(others)
        elif not ps.gate_met:
            condition = "versés seulement une fois le prérequis atteint"
        euros = _gain(ps, ind, score.gate_points) * score.point_value_eur
        found.append(Action(text, euros, sum(m.count for m in needed), command, condition))
    found.sort(key=lambda a: (-a.euros, a.count))
    return found


def _bar(rate: float | None, threshold: float | None, ok: bool, width: int = 20) -> Text:
    """A text bar (█ filled, ░ empty) with '│' at the threshold and ✔/✘: readable without colour."""
    filled = 0 if rate is None else min(width, round(rate * width))
    chars = ["█" if i < filled else "░" for i in range(width)]
    if threshold is not None:
        mark = min(width - 1, round(threshold * width))
        chars[mark] = "│" if mark >= filled else "┃"
    # One span for the whole bar, not one per character: the same text and colours, a third
    # less work for rich (and one colour sequence instead of twenty in a terminal).
    text = Text()
    text.append("".join(chars), style="green" if ok else "yellow")
    text.append(" ✔" if ok else " ✘", style="green" if ok else "red")
    return text


def render(score: Score, rules: Rules, console: Console, view: View | None = None) -> None:
    view = view or View(date.today())
    scheme = "Dotation numérique" if score.scheme == "donum" else "Forfait structure"
    if view.finished(score.year) and score.as_of >= date(score.year, 12, 31):
        when = f"résultat de l'année (arrêté au {fmt_date(score.as_of)})"
    elif view.finished(score.year):
        when = f"situation au {fmt_date(score.as_of)} (année terminée)"
    else:
        when = f"situation au {fmt_date(score.as_of)}"
    console.print(Text(f"{score.title} — {when}", style="bold"))
    console.print(Text(f"{scheme}, 1 point = {fmt_eur(score.point_value_eur)}"))
    if not score.practitioners:
        console.print(
            Text(f"Aucune donnée pour cette année. Lancez « {view.command} scan DOSSIER » ou « {view.command} demo ».")
        )
        return
    goals = targets(rules)
    season = campaign(rules, view.today)
    console.print(Text(f"Déclarations : {season.text}."))
    for ps in score.practitioners:
        render_practitioner(score, ps, console, goals, view, can_declare=season.can_declare, groups=group_names(rules))


def _indicator_state(ind: IndicatorResult) -> Text:
    if ind.met:
        return Text("✔", style="green")
    if ind.declared is not None and not ind.missing:
        return Text("?", style="yellow")
    return Text("✘", style="red")


def group_names(rules: Rules) -> dict[str, str]:
    """Group id → the short name a doctor reads (« Volet 1 », « Socle »): its label up to « — » or « ( »."""
    return {g.id: re.split(r" — | \(", g.label)[0] for g in rules.groups}


def _indicators(score: Score, ps: PractitionerScore, view: View, groups: Mapping[str, str]) -> Table:
    """One stacked row per indicator: state, label, then group and points on a second line."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=1)
    grid.add_column()
    finished = view.finished(score.year)
    for ind in [i for i in ps.indicators if i.gate] + [i for i in ps.indicators if not i.gate]:
        if ind.met:
            word = "atteint"
        elif ind.declared is not None and not ind.missing:
            word = "non déclaré" if finished else "à déclarer"
        else:
            word = "non atteint"
        pts = f"{fmt_points(ind.points)} / {fmt_points(ind.max_points)} points"
        if ind.gate:
            pts = "prérequis, points mis en commun"
        body = Text(ind.label)
        body.append(f"\n{word} · {groups.get(ind.group, ind.group)} · {pts}", style="dim")
        grid.add_row(_indicator_state(ind), body)
    return grid


METRICS_HEADERS = ("Usage", "Nombre", "Taux", "Seuil", "Progression", "Au 31/12")


def _metrics_rows(
    ps: PractitionerScore, goals: dict[str, Target], used: list[str], finished: bool
) -> list[list[str | Text]]:
    """The cells of the metrics table, one row per metric (no « Au 31/12 » once the year is over)."""
    rows: list[list[str | Text]] = []
    for metric_id in used:
        value = ps.metrics[metric_id]
        rate = None if value.rate is None else float(value.rate)
        goal = goals.get(metric_id, Target())
        row: list[str | Text] = [
            METRIC_LABELS[metric_id],
            f"{fmt_int(value.numerator)} / {fmt_int(value.denominator)}",
            fmt_pct(rate),
            goal.text,
            _bar(rate, goal.min_rate, goal.reached(value)),
        ]
        rows.append(row if finished else [*row, fmt_projection(value)])
    return rows


def _metrics_table(rows: list[list[str | Text]], finished: bool) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 1))
    table.add_column("Usage", no_wrap=True)
    table.add_column("Nombre", justify="right", no_wrap=True)
    table.add_column("Taux", justify="right", no_wrap=True)
    table.add_column("Seuil", justify="right", no_wrap=True)
    table.add_column("Progression", no_wrap=True)
    if not finished:
        table.add_column("Au 31/12", justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _metrics_table_width(rows: list[list[str | Text]], finished: bool) -> int:
    """The width the metrics table needs, as rich measures it (the maximum of its Measurement),
    without building and measuring it (a tenth of a `score`): each of its columns is one line
    per cell and never wraps, so it is its widest cell, plus one space of padding on each side
    of the rule between two columns."""
    headers = METRICS_HEADERS[: 5 if finished else 6]
    columns = zip(headers, *rows, strict=True)
    widths = [max(cell_len(cell.plain if isinstance(cell, Text) else cell) for cell in column) for column in columns]
    return sum(widths) + 3 * (len(widths) - 1)


def _metrics_stacked(ps: PractitionerScore, goals: dict[str, Target], used: list[str], finished: bool) -> Table:
    """Narrow screens: the label on its own line, the numbers under it, then the bar."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=1)
    grid.add_column()
    for metric_id in used:
        value = ps.metrics[metric_id]
        rate = None if value.rate is None else float(value.rate)
        goal = goals.get(metric_id, Target())
        ok = goal.reached(value)
        body = Text(METRIC_LABELS[metric_id], style="bold")
        body.append(f"\n{fmt_int(value.numerator)} / {fmt_int(value.denominator)} = {fmt_pct(rate)}")
        body.append(f" · seuil {goal.text}")
        if not finished:
            body.append(f"\nau 31/12 à ce rythme : {fmt_projection(value)}", style="dim")
        body.append("\n")
        body.append_text(_bar(rate, goal.min_rate, ok, width=16))
        grid.add_row(Text("✔", style="green") if ok else Text("✘", style="red"), body)
    return grid


def _bullet(console: Console, body: Text) -> None:
    """« • » then `body` wrapped with a hanging indent."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=1)
    grid.add_column()
    grid.add_row("•", body)
    console.print(grid)


def _print_actions(console: Console, actions_: list[Action], finished: bool) -> None:
    for action in actions_:
        body = Text()
        if action.euros:
            verb = "aurait rapporté" if finished else "rapporte"
            body.append(f"{verb} +{fmt_eur(action.euros)}", style="bold")
            if action.condition:
                body.append(f" ({action.condition})")
            body.append(" — ")
        body.append(action.text)
        if action.command:
            body.append(" — à copier :")
        _bullet(console, body)
        if action.command:
            print_command(console, action.command)


def render_practitioner(
    score: Score,
    ps: PractitionerScore,
    console: Console,
    goals: dict[str, Target],
    view: View | None = None,
    *,
    can_declare: bool = True,
    groups: Mapping[str, str] | None = None,
) -> None:
    view = view or View(date.today())
    finished = view.finished(score.year)
    gate_label = "Socle" if score.scheme == "donum" else "Volet 1"
    console.print()
    console.print(Text(view.title(ps.rpps), style="bold reverse"))
    header = Text()
    if ps.gate_met:
        header.append(f"{gate_label} (prérequis) : ATTEINT ✔", style="bold green")
    else:
        header.append(f"{gate_label} (prérequis) : NON ATTEINT ✘", style="bold red")
    header.append(f" — {fmt_points(score.gate_points)} points mis en commun")
    if not ps.gate_met:
        header.append("\nSans le prérequis, aucun point n'est versé.", style="red")
    console.print(header)
    total = Text()
    earned = "Résultat" if finished and score.as_of >= date(score.year, 12, 31) else "Total"
    total.append(f"{earned} : {fmt_points(ps.points)} {points_word(ps.points)} = {fmt_eur(ps.euros)}", style="bold")
    total.append(f" (maximum {fmt_points(ps.max_points)} points = {fmt_eur(ps.max_points * score.point_value_eur)})")
    console.print(total)
    for line in doubts(ps, score.point_value_eur):
        _bullet(console, Text(line, style="yellow"))

    todo = actions(ps, score, view, can_declare=can_declare)
    if todo:
        title = "Ce qui a manqué (par montant)" if finished else "À faire en priorité (par montant débloqué)"
        console.print(Text(title, style="bold"))
        _print_actions(console, todo, finished)

    console.print(Text("Indicateurs", style="bold"))
    console.print(_indicators(score, ps, view, groups or {}))

    used = [m for m in METRICS if any(m in i.metrics for i in ps.indicators)]
    if used:
        console.print(Text("Usages mesurés", style="bold"))
        rows = _metrics_rows(ps, goals, used, finished)
        if _metrics_table_width(rows, finished) <= console.width:
            console.print(_metrics_table(rows, finished))
            legend = "│ = seuil" + ("" if finished else " ; au 31/12 : volumes attendus au rythme actuel")
            console.print(Text(legend, style="dim"))
        else:
            console.print(_metrics_stacked(ps, goals, used, finished))


@dataclass(frozen=True)
class Target:
    """What a metric must reach somewhere in the year's rules (the lowest bar if several)."""

    min_rate: float | None = None
    min_count: int | None = None

    @property
    def text(self) -> str:
        return fmt_pct(self.min_rate) if self.min_rate is not None else f"≥{NNBSP}{self.min_count}"

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


def render_history(scores: list[Score], console: Console, view: View | None = None) -> None:
    """Past years one under the other, per practitioner: what each year paid (or would pay)."""
    if len(scores) < 2:
        return
    view = view or View(date.today())
    console.print()
    console.print(Text("Historique (points et montant par année)", style="bold"))
    for rpps in sorted({p.rpps for s in scores for p in s.practitioners}):
        console.print(Text(view.title(rpps)))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for s in scores:
            ps = next((p for p in s.practitioners if p.rpps == rpps), None)
            if ps is None:
                continue
            scheme = "dotation numérique" if s.scheme == "donum" else "forfait structure"
            partial = ", en cours" if s.as_of < date(s.year, 12, 31) else ""
            grid.add_row(f"  {s.year}", f"{fmt_points(ps.points)} pts = {fmt_eur(ps.euros)} ({scheme}{partial})")
        console.print(grid)


def render_declaration(
    rules: Rules, sheets: list[DeclarationSheet], console: Console, view: View | None = None
) -> None:
    """Per practitioner, each item to declare with its current answer, its proof and the exact
    command that records it here."""
    view = view or View(date.today())
    season = campaign(rules, view.today)
    console.print(Text(f"Déclaration sur amelipro — {rules.title}", style="bold"))
    console.print(Text(f"État : {season.text}."))
    if rules.campaign:
        console.print(Text(f"Calendrier : {plain_tags(rules.campaign)}."))
    for sheet in sheets:
        console.print()
        console.print(Text(view.title(sheet.rpps), style="bold reverse"))
        for item in sheet.declarative:
            style = {"oui": "green", "non": "red"}.get(item.answer, "yellow")
            body = Text(item.label, style="bold")
            body.append(" (prérequis)" if item.gate else f" (+{fmt_points(item.points)} points)")
            body.append("\nréponse actuelle : ")
            body.append(item.answer, style=style)
            body.append(f" · indicateur « {item.id} »")
            if item.proof:
                body.append(f"\njustificatif : {item.proof}", style="dim")
            if season.can_declare:
                body.append("\nà copier (ou « non » au lieu de « oui ») :")
            _bullet(console, body)
            if season.can_declare:
                print_command(console, view.declare(item.id, sheet.rpps, rules.year))
        auto = " ; ".join(f"{i.label} : {i.answer}" for i in sheet.automatic)
        console.print(Text(f"Calculés par l'Assurance Maladie (rien à déclarer) — notre estimation : {auto}."))
        if sheet.score is not None:
            ps = sheet.score
            console.print(Text(f"Montant estimé avec ces réponses : {fmt_eur(ps.euros)}.", style="bold"))
            for line in doubts(ps, rules.point_value_eur):
                _bullet(console, Text(line, style="yellow"))
