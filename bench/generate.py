"""Realistic data at scale: N practitioners × Y years of canonical JSONL (and the FSE journal as
vendor CSV), deterministic by seed, streamed to disk in constant memory.

    python bench/generate.py OUT_DIR [--practitioners 30] [--years 3] [--seed 1] [--csv]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

from forfait_agent.demo import PROFILES, Profile, generate_events

CSV_HEADER = "Date;Heure;N° FSE;N° lot;RPPS;Mode de lecture;Statut;Montant;NIR"
CSV_MODES = {"carte": "Carte Vitale", "apcv": "Appli CV", "sans_vitale": "Dégradé"}


def practitioners(count: int) -> list[Profile]:
    """`count` GPs with the demo's three habits in turn, each with its own RPPS."""
    return [replace(PROFILES[i % len(PROFILES)], rpps=f"{20000000000 + i * 7919:011d}") for i in range(count)]


def events(count: int, years: int, seed: int, last_year: int = 2025) -> Iterator[dict]:
    for profile in practitioners(count):
        for year in range(last_year - years + 1, last_year + 1):
            yield from generate_events(profile, date(year, 1, 1), date(year, 12, 31), seed)


def write_jsonl(out: Path, count: int, years: int, seed: int) -> tuple[Path, int]:
    path = out / "events.jsonl"
    n = 0
    with path.open("w", encoding="utf-8") as handle:
        for event in events(count, years, seed):
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
            n += 1
    return path, n


def write_csv(out: Path, count: int, years: int, seed: int) -> tuple[Path, int]:
    """The FSE/FSP part as the `journal-fse` profile of forfait-agent-csv reads it (cp1252, `;`)."""
    path = out / "journal_fse_bench.csv"
    n = 0
    with path.open("w", encoding="cp1252", newline="") as handle:
        handle.write(CSV_HEADER + "\r\n")
        for event in events(count, years, seed):
            if event["kind"] not in ("fse", "fsp"):
                continue
            day, time = event["at"][:10], event["at"][11:16]
            d = f"{day[8:10]}/{day[5:7]}/{day[0:4]}"
            mode = "Papier" if event["kind"] == "fsp" else CSV_MODES[event["vitale"]]
            status = "Télétransmise" if event.get("transmitted", True) else "Non transmise"
            handle.write(
                f"{d};{time};{event['id']};0042;{event['practitioner']};{mode};{status};26,50;{event['patient']}\r\n"
            )
            n += 1
    return path, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--practitioners", type=int, default=30)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", action="store_true", help="also write the FSE journal as vendor CSV")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path, n = write_jsonl(args.out, args.practitioners, args.years, args.seed)
    print(f"{path}: {n} events")
    if args.csv:
        path, n = write_csv(args.out, args.practitioners, args.years, args.seed)
        print(f"{path}: {n} lines")


if __name__ == "__main__":
    main()
