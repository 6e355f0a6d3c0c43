"""`forfait-agent-csv check-profile PROFILE SAMPLE`: try a profile on a real export before use."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from forfait_agent import SourceContext
from forfait_agent.events import parse_event
from forfait_agent.privacy import redact
from forfait_agent.sources import records

from .adapter import CsvAdapter
from .profile import ProfileError, load_profile


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="forfait-agent-csv", description="Profils CSV de forfait-agent.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-profile", help="appliquer un profil à un échantillon et montrer le résultat")
    check.add_argument("profile", type=Path)
    check.add_argument("sample", type=Path)
    check.add_argument("--lines", type=int, default=10, help="nombre d'événements à montrer (défaut 10)")
    args = parser.parse_args(argv)
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    adapter = CsvAdapter(profile)
    shown = errors = total = 0
    context = SourceContext(default_practitioner=None)
    try:
        for record in records(adapter, args.sample, context):
            try:
                events = [parse_event(e) for e in adapter.parse(record)]
            except Exception as exc:  # noqa: BLE001 - show every kind of failure to the author
                errors += 1
                if errors <= args.lines:
                    print(f"ligne {record.line_no} : ERREUR {redact(str(exc))}")
                continue
            for event in events:
                total += 1
                if shown < args.lines:
                    shown += 1
                    shown_fields = event.model_dump(mode="json", exclude={"patient"}, exclude_none=True)
                    if event.patient:
                        shown_fields["patient"] = "[masqué]"
                    print(f"ligne {record.line_no} : {redact(json.dumps(shown_fields, ensure_ascii=False))}")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.sample} : {redact(str(exc))}", file=sys.stderr)
        return 2
    print(f"{total} événement(s), {errors} ligne(s) en erreur — profil « {profile.name} » ({adapter.name})")
    return 0 if errors == 0 else 2
