"""`forfait-agent-mssante inspect FILE…`: what the adapter sees in sent messages, without
showing any address (only domains), subject or text."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from forfait_agent import RecordError
from forfait_agent.events import PATIENT_MSS_DOMAIN

from .messages import parse_message, split_mbox


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="forfait-agent-mssante", description="Messages MSSanté envoyés.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="résumer des fichiers .eml ou mbox (sans adresses ni contenu)")
    inspect.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        try:
            data = path.read_bytes()
            raws = split_mbox(data) if data.startswith(b"From ") else [data]
            for raw in raws:
                m = parse_message(raw)
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
