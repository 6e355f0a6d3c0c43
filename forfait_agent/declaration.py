"""What the doctor will see and must declare on amelipro for a year, per practitioner."""

from __future__ import annotations

from dataclasses import dataclass, field

from .rules import Rules
from .scoring import PractitionerScore, Score, is_declarative

# Proofs named by DOMAIN.md: the Ségur / equipment items rest on the vendor's attestation; every
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


def _proof(indicator_id: str) -> str:
    if any(word in indicator_id for word in VENDOR_ATTESTATION):
        return "attestation de l'éditeur du logiciel (à demander à votre éditeur), puis déclaration sur amelipro"
    return "déclaration sur l'honneur sur amelipro ; gardez le justificatif (convention, attestation de la structure…)"


def sheet(rules: Rules, ps: PractitionerScore, declared: dict[str, float]) -> DeclarationSheet:
    result = DeclarationSheet(ps.rpps)
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
