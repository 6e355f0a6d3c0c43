"""`forfait-agent-mssante inspect FILE…`: what the adapter sees in sent messages, without
showing any address (only domains), subject or text."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from forfait_agent import RecordError
from forfait_agent.events import PATIENT_MSS_DOMAIN
from forfait_agent.sources import iter_messages

from .messages import parse_message


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="forfait-agent-mssante", description="Messages MSSanté envoyés.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="résumer des fichiers .eml ou mbox (sans adresses ni contenu)")
    inspect.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        try:
            for raw, complete in _messages(path):
                m = parse_message(raw, complete=complete)
                domains = sorted({r.rsplit("@", 1)[1] for r in m.recipients})
                patients = sum(r.endswith("@" + PATIENT_MSS_DOMAIN) for r in m.recipients)
                print(
                    f"{path.name} : {m.at:%d/%m/%Y %H:%M} — {len(m.recipients)} destinataire(s) dont "
                    f"{patients} patient(s) — domaines {', '.join(domains)} — archives IHE XDM : {m.xdm_attachments}"
                )
        except (OSError, RecordError) as exc:
            failed = True
            print(f"{path.name} : ERREUR {exc}", file=sys.stderr)
    return 2 if failed else 0


def _messages(path: Path) -> Iterator[tuple[bytes, bool]]:
    """(message, complete) of an mbox (framed as the agent frames it) or of one .eml file."""
    with path.open("rb") as handle:
        if handle.read(5) != b"From ":
            handle.seek(0)
            yield handle.read(), True
            return
        for message in iter_messages(handle, 0, 0, final=True):
            yield message.data, not message.truncated
