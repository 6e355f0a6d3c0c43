"""The adapter kit: feed a sample file through an adapter exactly as the agent would, and a
conformance suite every adapter must pass. Also a pytest plugin (entry point `pytest11`).

    from forfait_agent.testing import AdapterContract

    class TestMyAdapter(AdapterContract):
        adapter = MyAdapter()
        sample = Path(__file__).parent / "sample.csv"
        expected_count = 12
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .adapter import Adapter, Record, SourceContext
from .events import Event, EventBase, parse_event
from .privacy import contains_patient_data
from .sources import records

# Fields that legitimately carry a patient identifier: the core hashes or reduces them.
PATIENT_FIELDS = frozenset({"patient", "recipient"})


@dataclass
class Fed:
    """What the agent would have stored (events) and quarantined (errors) from one file."""

    events: list[Event] = field(default_factory=list)
    errors: list[tuple[Record, Exception]] = field(default_factory=list)


def feed(adapter: Adapter, path: Path, context: SourceContext | None = None) -> Fed:
    """Parse every record of `path`; events are validated like the core validates them."""
    fed = Fed()
    for record in records(adapter, path, context):
        try:
            for item in adapter.parse(record):
                fed.events.append(item if isinstance(item, EventBase) else parse_event(dict(item)))
        except Exception as exc:  # noqa: BLE001 - the agent quarantines any exception too
            fed.errors.append((record, exc))
    return fed


def assert_events(events: Sequence[Event], expected: Sequence[Mapping[str, Any]]) -> None:
    """Each event matches the expected mapping on the keys it gives (`at` as ISO text)."""
    assert len(events) == len(expected), f"{len(events)} events, expected {len(expected)}"
    for index, (event, want) in enumerate(zip(events, expected, strict=True)):
        got = event.model_dump(mode="json")
        for key, value in want.items():
            if key == "at":
                assert event.at.isoformat().startswith(str(value)), f"event {index}: at {event.at} != {value}"
            else:
                assert got.get(key) == value, f"event {index}: {key} = {got.get(key)!r}, expected {value!r}"


def _texts(event: Event) -> Iterator[tuple[str, str]]:
    for key, value in event.model_dump(mode="json").items():
        if isinstance(value, str) and key not in PATIENT_FIELDS:
            yield key, value


def conformance_problems(adapter: Adapter, sample: Path, context: SourceContext | None = None) -> list[str]:
    """Everything the contract requires of an adapter, checked on one sample; [] when fine."""
    problems = []
    for attr in ("name", "patterns", "framing", "encoding"):
        if not getattr(adapter, attr, None):
            problems.append(f"adapter has no {attr}")
    first, second = feed(adapter, sample, context), feed(adapter, sample, context)
    if not first.events:
        problems.append("the sample yields no event")
    if [e.model_dump() for e in first.events] != [e.model_dump() for e in second.events]:
        problems.append("two reads of the same file give different events (ids must be stable)")
    keys = [(e.kind, e.id) for e in first.events]
    if len(set(keys)) != len(keys):
        problems.append("two events of one sample share (kind, id): one would be dropped as a duplicate")
    for event in first.events:
        for key, value in _texts(event):
            if contains_patient_data(value):
                problems.append(f"{event.kind} {event.id!r}: {key} holds a patient identifier in clear")
    for garbage in (b"\x00\xff garbage \xfe", b"{<<not a record>>}", b""):
        record = Record(
            path=sample,
            offset=0,
            line_no=1_000_000,
            text=garbage.decode("latin-1"),
            data=garbage,
            context=context or SourceContext(),
        )
        try:
            produced = list(adapter.parse(record))
        except Exception:  # noqa: BLE001 - raising is the right answer to garbage
            continue
        if produced:
            problems.append(f"garbage {garbage!r} produced {len(produced)} event(s) instead of raising")
    if adapter.framing == "line" and adapter.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raw = sample.read_bytes()
        try:
            raw.decode(adapter.encoding)
        except UnicodeDecodeError:
            problems.append(f"the sample is not valid {adapter.encoding}, the declared encoding")
    return problems


class AdapterContract:
    """Subclass in a test module, set `adapter` and `sample` (and optionally `context`,
    `expected_count`): pytest then runs the contract's tests against your adapter."""

    adapter: ClassVar[Adapter]
    sample: ClassVar[Path]
    context: ClassVar[SourceContext | None] = None
    expected_count: ClassVar[int | None] = None

    def test_conformance(self) -> None:
        problems = conformance_problems(self.adapter, self.sample, self.context)
        assert not problems, "\n".join(problems)

    def test_sample_is_fully_readable(self) -> None:
        fed = feed(self.adapter, self.sample, self.context)
        assert not fed.errors, [f"offset {r.offset}: {e}" for r, e in fed.errors]
        if self.expected_count is not None:
            assert len(fed.events) == self.expected_count

    def test_events_are_json_serialisable(self) -> None:
        for event in feed(self.adapter, self.sample, self.context).events:
            json.dumps(event.model_dump(mode="json"))


def run_agent(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real `forfait-agent --data-dir HOME ARGS…` in a subprocess, as a user runs it."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("FORFAIT_AGENT_HOME", None)
    command = [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), *args]
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=env, check=check, timeout=300)


def agent_json(home: Path, *args: str) -> Any:
    """`run_agent` with `--json` appended, parsed (e.g. `agent_json(home, "scan", folder)`)."""
    return json.loads(run_agent(home, *args, "--json").stdout)


@pytest.fixture
def feed_file():
    """`feed_file(adapter, path, context=None)` → Fed(events, errors), as the agent reads it."""
    return feed
