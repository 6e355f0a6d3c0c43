"""A profile says how one vendor's CSV journal maps onto canonical event fields."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Value = str | bool

EVENT_FIELDS = frozenset(
    {
        "kind",
        "id",
        "at",
        "practitioner",
        "patient",
        "vitale",
        "transmitted",
        "electronic",
        "recipient",
        "to_patient",
        "doc_type",
        "service",
        "online",
        "regime_general",
    }
)


class ProfileError(Exception):
    """A profile file is unreadable or invalid; the message names the file and the key."""


class FieldSpec(BaseModel):
    """Where an event field comes from: a constant, one column, or several joined by a space
    (date and time columns); `values` maps what the column holds (case-insensitive) to what the
    event needs, and `default` applies to values not listed (or an empty cell)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: Value | None = None
    column: str | None = None
    columns: list[str] | None = None
    values: dict[str, Value] | None = None
    default: Value | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        sources = [self.value is not None, self.column is not None, bool(self.columns)]
        if sum(sources) != 1:
            raise ValueError("give exactly one of value, column, columns")
        return self

    def source_columns(self) -> list[str]:
        return self.columns or ([self.column] if self.column else [])

    def lookup(self) -> dict[str, Value]:
        return {k.strip().casefold(): v for k, v in (self.values or {}).items()}


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    patterns: list[str] = Field(min_length=1)
    encoding: str = "cp1252"
    separator: str = Field(default=";", min_length=1, max_length=1)
    quote: str = Field(default='"', min_length=1, max_length=1)
    header_line: int = Field(default=1, ge=1)
    date_formats: list[str] = Field(default_factory=lambda: ["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"])
    identity: str | None = None  # column mapped to an RPPS by the agent's [practitioners] table
    fields: dict[str, FieldSpec]

    @model_validator(mode="after")
    def _fields(self) -> Profile:
        unknown = set(self.fields) - EVENT_FIELDS
        if unknown:
            raise ValueError(f"unknown event field(s): {', '.join(sorted(unknown))}")
        for required in ("kind", "at"):
            if required not in self.fields:
                raise ValueError(f"fields.{required} is required")
        import codecs

        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {self.encoding!r}") from None
        return self

    def columns(self) -> set[str]:
        needed = {c for spec in self.fields.values() for c in spec.source_columns()}
        return needed | ({self.identity} if self.identity else set())


def parse_profile(text: str, origin: str) -> Profile:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{origin}: TOML invalide : {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{origin}: profil invalide"]
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(racine)"
            lines.append(f"  - {key}: {err['msg']}")
        raise ProfileError("\n".join(lines)) from exc


def load_profile(path: Path) -> Profile:
    try:
        return parse_profile(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ProfileError(f"{path}: lecture impossible : {exc.strerror or exc}") from exc


def builtin_profiles_dir() -> Path:
    return Path(__file__).parent / "profiles"
