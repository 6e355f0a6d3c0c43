"""What the doctor will see and must declare on amelipro for a year, per practitioner."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .rules import Rules
from .scoring import PractitionerScore, Score, is_declarative

# Proofs named by the sources (docs/rules.md): the Ségur / equipment items rest on the vendor's attestation; every
# other declarative item is an attestation sur l'honneur on amelipro.
VENDOR_ATTESTATION = ("segur", "equipement", "sesam", "logiciel")


@dataclass
class DeclarationItem:
    id: str
    label: str
    gate: bool
    points: float
    answer: str  # "oui" | "non" | "non renseigné" for declarative; "atteint"/"non atteint" estimate
    proof: str | None = None


@dataclass
class DeclarationSheet:
    rpps: str
    automatic: list[DeclarationItem] = field(default_factory=list)
    declarative: list[DeclarationItem] = field(default_factory=list)
    score: PractitionerScore | None = None  # the estimate the answers lead to


def _proof(indicator_id: str) -> str:
    if any(word in indicator_id for word in VENDOR_ATTESTATION):
        return "attestation de l'éditeur du logiciel (à demander à votre éditeur), puis déclaration sur amelipro"
    return "déclaration sur l'honneur sur amelipro ; gardez le justificatif (convention, attestation de la structure…)"


def sheet(rules: Rules, ps: PractitionerScore, declared: dict[str, float]) -> DeclarationSheet:
    result = DeclarationSheet(ps.rpps, score=ps)
    indicators = {i.id: i for i in rules.indicators}
    for item in ps.indicators:
        ind = indicators[item.id]
        points = item.max_points
        if is_declarative(ind.condition):
            answer = "non renseigné" if item.id not in declared else ("oui" if declared[item.id] else "non")
            result.declarative.append(DeclarationItem(item.id, item.label, item.gate, points, answer, _proof(item.id)))
        else:
            estimate = "atteint" if item.met else "non atteint"
            result.automatic.append(DeclarationItem(item.id, item.label, item.gate, points, estimate))
    return result


def sheets(rules: Rules, score: Score, declarations: dict[str, dict[str, float]]) -> list[DeclarationSheet]:
    return [sheet(rules, ps, declarations.get(ps.rpps, {})) for ps in score.practitioners]


@dataclass(frozen=True)
class Campaign:
    """Where the year's declaration campaign on amelipro stands on a given day."""

    state: str  # "open" | "closed" | "upcoming"
    text: str  # French, for the doctor

    @property
    def can_declare(self) -> bool:
        return self.state != "closed"


def campaign(rules: Rules, today: date) -> Campaign:
    """Dated campaign when the rules file dates it; otherwise the usual December–February
    window, worded as approximate."""
    from .report import fmt_date

    opens, closes = rules.campaign_opens, rules.campaign_closes
    exact = opens is not None and closes is not None
    if not exact:
        opens, closes = date(rules.year, 12, 1), date(rules.year + 1, 2, 28)
    assert opens is not None and closes is not None
    span = (
        f"du {fmt_date(opens)} au {fmt_date(closes)}"
        if exact
        else f"vers décembre {rules.year} – février {rules.year + 1}"
    )
    dates = "" if exact else " (dates exactes non publiées)"
    if today > closes:
        return Campaign("closed", f"campagne de déclaration close ({span}{dates}) : les réponses ne se modifient plus")
    if today < opens:
        return Campaign("upcoming", f"campagne de déclaration à venir, {span}{dates}")
    return Campaign("open", f"campagne de déclaration ouverte, {span}{dates}")


def declare_command(command: str, indicator: str, rpps: str, *, year: int, today: date, implicit: str | None) -> str:
    """The exact `declare` command to copy: `--practitioner` unless `declare` alone would pick this
    doctor (`implicit`: the configured default practitioner), `--year` when the year is not the
    current one (declare defaults to it)."""
    parts = [command, "declare", indicator, "oui"]
    if year != today.year:
        parts += ["--year", str(year)]
    if rpps != implicit:
        parts += ["--practitioner", rpps]
    return " ".join(parts)
