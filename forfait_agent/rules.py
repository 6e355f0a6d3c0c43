"""Rules files: one TOML file per year, validated by pydantic, shipped in the wheel.

A new year is a new data file, never new code: files in the user's rules folder override or add
to the built-in ones.
"""

from __future__ import annotations

import sys
import tomllib
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from .tally import LINK_HORIZON_DAYS
from .vocab import SERVICES, french_message

if TYPE_CHECKING:
    from .cache import Cache

BASE_METRICS = (
    "teletransmission",
    "apcv",
    "eprescription",
    "mss_patient",
    "dmp",
    "mss_patient_messages",
    "dmp_documents",
)
METRICS: tuple[str, ...] = BASE_METRICS + tuple(f"teleservice:{s}" for s in SERVICES)
# Rates of consultations linked to a document or message of the same patient (contract v2).
LINKED_METRICS = ("dmp", "mss_patient")
MAX_LINK_DAYS = LINK_HORIZON_DAYS  # the store keeps links that far apart, no further


class RulesError(Exception):
    """A rules file is missing, unreadable or invalid; the message names the file and the key."""


def _check_metric(value: str) -> str:
    if value not in METRICS:
        raise ValueError(f"métrique inconnue « {value} » (connues : {', '.join(METRICS)})")
    return value


MetricId = Annotated[str, AfterValidator(_check_metric)]


class _Cond(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    def metrics(self) -> tuple[str, ...]:
        """Metrics this condition depends on, in order, without duplicates."""
        return ()

    def link_windows(self) -> set[tuple[str, int]]:
        """(linked metric, link_days) pairs this condition needs counted."""
        return set()


class _Linkable(_Cond):
    """A condition on metrics that may be linked ones: `link_days` sets their window."""

    link_days: int | None = Field(default=None, ge=0, le=MAX_LINK_DAYS)

    @model_validator(mode="after")
    def _link_days_needs_a_linked_metric(self) -> _Linkable:
        if self.link_days is not None and not any(m in LINKED_METRICS for m in self.metrics()):
            raise ValueError(f"link_days ne s'applique qu'aux métriques reliées ({', '.join(LINKED_METRICS)})")
        return self

    def link_windows(self) -> set[tuple[str, int]]:
        return {(m, self.link_days or 0) for m in self.metrics() if m in LINKED_METRICS}


class RateCondition(_Linkable):
    metric: MetricId
    min_rate: float = Field(ge=0, le=1)
    strict: bool = False
    if_no_activity: Literal["not_met", "met"] = "not_met"

    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)


class CountCondition(_Linkable):
    metric: MetricId
    min_count: int = Field(ge=1)

    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)


class MeanCondition(_Linkable):
    mean_of: list[MetricId] = Field(min_length=1)
    min_rate: float = Field(ge=0, le=1)
    strict: bool = False
    how: Literal["simple", "pooled"] = "simple"
    if_no_activity: Literal["excluded", "zero"] = "excluded"

    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.mean_of))


class DeclaredCondition(_Cond):
    declared: Literal[True]


class AllCondition(_Cond):
    all: list[Condition] = Field(min_length=1)

    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m for c in self.all for m in c.metrics()))

    def link_windows(self) -> set[tuple[str, int]]:
        return {w for c in self.all for w in c.link_windows()}


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if not isinstance(value, dict):
        return None
    for key, tag in (
        ("all", "AllCondition"),
        ("declared", "DeclaredCondition"),
        ("mean_of", "MeanCondition"),
        ("min_count", "CountCondition"),
        ("min_rate", "RateCondition"),
    ):
        if key in value:
            return tag
    return None


Condition = Annotated[
    Annotated[RateCondition, Tag("RateCondition")]
    | Annotated[CountCondition, Tag("CountCondition")]
    | Annotated[MeanCondition, Tag("MeanCondition")]
    | Annotated[AllCondition, Tag("AllCondition")]
    | Annotated[DeclaredCondition, Tag("DeclaredCondition")],
    Discriminator(
        _condition_tag,
        custom_error_type="invalid_condition",
        custom_error_message="une condition contient l'une de ces clés : min_rate, min_count, mean_of, all, declared",
    ),
]


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str
    label: str
    gate: bool = False
    points: int | None = Field(default=None, ge=0)
    source: str | None = None
    note: str | None = None


class Variant(BaseModel):
    """Another reading of an indicator where the official texts are silent or ambiguous."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    label: str = Field(min_length=3)  # French: which reading this encodes
    condition: Condition
    source: str | None = None
    note: str | None = None


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str = Field(pattern=r"^[a-z0-9_:\-]+$")
    group: str
    label: str
    points: float | None = Field(default=None, ge=0)
    condition: Condition
    variants: list[Variant] = Field(default_factory=list)
    source: str = Field(min_length=3)
    note: str | None = None

    @property
    def readings(self) -> list[Condition]:
        """The default condition, then every variant's."""
        return [self.condition, *(v.condition for v in self.variants)]


class Rules(BaseModel):
    """One year's rules. Points are floats because 2023–2025 téléservices are worth 22.5."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    year: int = Field(ge=2017, le=2100)
    scheme: Literal["forfait_structure", "donum"]
    title: str
    point_value_eur: float = Field(gt=0)
    source: str
    note: str | None = None
    campaign: str | None = None
    # Declaration campaign on amelipro for this year, when a source dates it (else None).
    campaign_opens: date | None = None
    campaign_closes: date | None = None
    groups: list[Group] = Field(min_length=1)
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Rules:
        groups = {g.id: g for g in self.groups}
        if len(groups) != len(self.groups):
            raise ValueError("deux groupes ont le même id")
        gates = [g for g in self.groups if g.gate]
        if len(gates) != 1:
            raise ValueError("il faut exactement un groupe avec gate = true (le prérequis)")
        if gates[0].points is None:
            raise ValueError(f"le groupe prérequis « {gates[0].id} » doit avoir des points (mis en commun)")
        seen: set[str] = set()
        for ind in self.indicators:
            if ind.id in seen:
                raise ValueError(f"l'indicateur « {ind.id} » apparaît deux fois")
            seen.add(ind.id)
            group = groups.get(ind.group)
            if group is None:
                raise ValueError(f"indicateur « {ind.id} » : groupe inconnu « {ind.group} »")
            if group.gate and ind.points is not None:
                raise ValueError(f"indicateur « {ind.id} » : pas de points dans le prérequis (ils sont mis en commun)")
            if not group.gate and ind.points is None:
                raise ValueError(f"indicateur « {ind.id} » : points obligatoires hors du prérequis")
        return self

    @cached_property
    def gate(self) -> Group:
        return next(g for g in self.groups if g.gate)

    @property
    def max_points(self) -> float:
        return (self.gate.points or 0) + sum(i.points or 0 for i in self.indicators)

    @cached_property
    def default_link_days(self) -> dict[str, int]:
        """Per linked metric, the `link_days` of the first default condition using it (0 if none):
        the window `score --json` shows that metric with."""
        found: dict[str, int] = {}
        for ind in self.indicators:
            for metric, days in sorted(ind.condition.link_windows()):
                found.setdefault(metric, days)
        return {m: found.get(m, 0) for m in LINKED_METRICS}

    @cached_property
    def link_windows(self) -> frozenset[tuple[str, int]]:
        """Every (linked metric, link_days) a reading or the metrics table needs counted."""
        needed = set(self.default_link_days.items())
        for ind in self.indicators:
            for condition in ind.readings:
                needed |= condition.link_windows()
        return frozenset(needed)


def _format_loc(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """Turn ('indicators', 3, 'condition', 'min_rate') into 'indicators[3] (id = dmp).condition.min_rate'."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                ident = node[item].get("id")
                if ident:
                    label += f" (id = {ident})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            if isinstance(node, dict) and item not in node and item[:1].isupper():
                continue  # a tagged-union name (RateCondition…), not a key of the file
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(racine)"


def parse_rules(text: str, origin: str) -> Rules:
    """Parse and validate a rules file's text; RulesError names `origin` and the offending key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{origin} : TOML invalide : {exc}") from exc
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        lines = [f"{origin} : {exc.error_count()} erreur(s)"]
        for err in exc.errors():
            lines.append(f"  - {_format_loc(data, err['loc'])} : {french_message(err)}")
        raise RulesError("\n".join(lines)) from exc


def load_rules_file(path: Path, cache: Cache | None = None) -> Rules:
    """Read and validate a rules file; with a `cache`, a file validated before is not validated again."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        from .french import os_error

        raise RulesError(f"{path} : lecture impossible : {os_error(exc)}") from exc
    entry, key = f"rules-{path.stem}.pickle", None if cache is None else _cache_key(path, data)
    if cache is not None and key is not None:
        cached = cache.get(entry, key, RULES_MODELS)
        if isinstance(cached, Rules):
            return cached
    from .cache import read_text

    rules = parse_rules(read_text(data), str(path))
    if path.stem.isdigit() and int(path.stem) != rules.year:
        raise RulesError(f"{path} : year = {rules.year} ne correspond pas au nom du fichier")
    if cache is not None and key is not None:
        cache.put(entry, key, rules)
    return rules


# The classes a validated Rules is made of: all its cache entry may hold.
RULES_MODELS = (
    Rules,
    Group,
    Indicator,
    Variant,
    RateCondition,
    CountCondition,
    MeanCondition,
    AllCondition,
    DeclaredCondition,
)


def _cache_key(path: Path, data: bytes) -> tuple[object, ...] | None:
    """What a rules file's validation depends on: its bytes, this module, the metric names
    (vocab) and the link horizon (tally); None when that cannot be known (no caching)."""
    from . import tally, vocab
    from .cache import code_key, file_key

    code = code_key([sys.modules[__name__], vocab, tally])
    try:
        return None if code is None else (code, file_key(path, data))
    except OSError:
        return None


def builtin_rules_dir() -> Path:
    """Rules shipped in the wheel (`forfait_agent/_rules`), or the source tree's `rules/`. The
    package is a folder on disk (importlib.resources would say the same, for 4 ms of imports)."""
    package = Path(__file__).parent
    packaged = package / "_rules"
    if packaged.is_dir():
        return packaged
    return package.resolve().parent / "rules"


class RuleBook:
    """Every known year: built-in files, overridden or extended by the user's rules folder.
    With a `cache`, each file is validated once, not at every command (see cache.py)."""

    def __init__(self, user_dir: Path | None = None, cache: Cache | None = None) -> None:
        self.user_dir = user_dir
        self.cache = cache
        self._paths: dict[int, Path] = {}
        for directory in (builtin_rules_dir(), user_dir):
            if directory is None or not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.toml")):
                if path.stem.isdigit():
                    self._paths[int(path.stem)] = path
        self._cache: dict[int, Rules] = {}

    def years(self) -> list[int]:
        return sorted(self._paths)

    def path(self, year: int) -> Path:
        return self._paths[year]

    def get(self, year: int) -> Rules:
        if year not in self._paths:
            known = ", ".join(str(y) for y in self.years())
            raise RulesError(f"aucune règle pour l'année {year} (années connues : {known})")
        if year not in self._cache:
            self._cache[year] = load_rules_file(self._paths[year], self.cache)
        return self._cache[year]
