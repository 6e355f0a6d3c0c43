"""The `score --json` contract as pydantic models.

`Score.as_json()` passes its data through `ScoreJson`, so what the CLI prints (and the agent
writes to score.json) is exactly what these models — and the JSON Schema generated from them,
docs/schema/score.schema.json — describe: an unknown or missing key fails there, not in a
reader's program. A key added to the output is added here too, with its description; then
`python -m forfait_agent.schema` rewrites docs/schema/ and docs/contract.md gets its line.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# Points and euros: integral values are printed as integers, others rounded to two decimals.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class _Contract(BaseModel):
    # Built on first use: only `score --json`, score.json and the hook need it.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class MetricJson(_Contract):
    """One metric of one practitioner over the counting window."""

    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator / denominator; null when the denominator is 0")
    projected_rate: float | None = Field(description="the rate expected on 31 December at the year-to-date pace")
    link_days: int | None = Field(None, description="linked metrics only: days after a consultation that still link")
    unlinked: int | None = Field(None, description="linked metrics only: numerator-kind events not linked")
    without_patient: int | None = Field(None, description="linked metrics only: consultations without a patient")


class MissingJson(_Contract):
    """What an unmet indicator lacks, for one metric it depends on."""

    metric: str
    count: int = Field(description="more numerator events needed by 31 December beyond the current pace")
    min_rate: float | None = Field(None, description="present when the condition is a rate")
    min_count: int | None = Field(None, description="present when the condition is a count")


class VariantJson(_Contract):
    label: str = Field(description="the variant's French label, from the rules file")
    met: bool


class IndicatorJson(_Contract):
    """One indicator of the rules file, in file order."""

    id: str
    group: str
    label: str = Field(description="French, from the rules file")
    met: bool = Field(description="met under the default condition")
    points: Number
    max_points: Number
    pooled: bool = Field(description="gate indicator: its points are the group's gate_points")
    declarative: bool = Field(description="answered by a declaration rather than computed")
    missing: list[MissingJson]
    met_variants: list[bool] = Field(description="one boolean per variant, in file order")
    variants: list[VariantJson]


class PractitionerJson(_Contract):
    rpps: str = Field(pattern=r"^(\d{11}|inconnu)$")
    gate_met: bool
    points: Number
    max_points: Number
    euros: Number
    points_min: Number
    points_max: Number
    euros_min: Number
    euros_max: Number
    metrics: dict[str, MetricJson] = Field(description="every metric id, even with a zero denominator")
    indicators: list[IndicatorJson]


class ScoreJson(_Contract):
    """What `forfait-agent score --json` prints."""

    model_config = ConfigDict(title="forfait-agent score --json")

    year: int
    as_of: date
    scheme: Literal["forfait_structure", "donum"]
    point_value_eur: Number
    gate_group: str
    gate_points: Number
    practitioners: list[PractitionerJson] = Field(description="inconnu last")
    computed_at: str | None = Field(
        None, description="score.json and the score_changed hook only: when the agent computed it (UTC, ISO 8601)"
    )
