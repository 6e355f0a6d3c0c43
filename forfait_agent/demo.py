"""A realistic cabinet of 1–3 GPs, generated deterministically, run through the whole path.

Volumes follow a real practice: ~5 000 consultations per GP-year on working days, one FSE per
consultation (a few paper forms), prescriptions for ~3 visits in 4, and each GP's own habits for
the digital usages. The demo writes into `<data-dir>/demo`, never into the real store.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .events import PARIS
from .rules import Rules
from .scoring import is_declarative


@dataclass(frozen=True)
class Profile:
    """One GP's habits: daily volume and the share of each digital usage."""

    rpps: str
    name: str
    consultations_per_day: float
    paper_share: float  # FSP among feuilles de soins
    not_transmitted: float  # FSE made but never teletransmitted
    apcv_share: float
    sans_vitale_share: float
    eprescription: float
    mss_patient: float
    dmp: float
    teleservices: dict[str, float]  # online share by service
    declares_equipment: bool


PROFILES = (
    Profile(
        "10101010101",
        "Dr A. Martin",
        23,
        0.01,
        0.005,
        0.02,
        0.04,
        0.62,
        0.12,
        0.38,
        {"aat": 0.95, "dmt": 0.97, "pse": 0.92, "atmp": 0.70, "spe": 0.45, "dsg": 0.60},
        True,
    ),
    Profile(
        "10202020202",
        "Dr B. Bernard",
        21,
        0.03,
        0.01,
        0.004,
        0.06,
        0.34,
        0.03,
        0.33,
        {"aat": 0.88, "dmt": 0.93, "pse": 0.70, "atmp": 0.40, "spe": 0.18, "dsg": 0.35},
        True,
    ),
    Profile(
        "10303030303",
        "Dr C. Petit",
        12,
        0.08,
        0.02,
        0.0,
        0.09,
        0.18,
        0.0,
        0.08,
        {"aat": 0.60, "dmt": 0.75, "pse": 0.40, "atmp": 0.20, "spe": 0.05, "dsg": 0.10},
        False,
    ),
)
# Export gaps every LGC has: consultations exported without the patient's INS (they cannot be
# linked to a DMP document or an MSS message), and reports sent to the DMP a few days after the
# visit (once the results are in), which only a wider link window counts.
NO_PATIENT_SHARE = 0.03
LATE_DMP_SHARE = 0.15
LATE_DMP_DAYS = 3
# Forms per 100 consultations, by service.
TELESERVICE_RATES = {"aat": 12.0, "dmt": 3.0, "pse": 1.2, "atmp": 0.6, "spe": 1.6, "dsg": 0.2}
HOLIDAYS = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}


def _nir(rng: random.Random) -> str:
    """A synthetic NIR with a valid key (never a real person: random digits, test use only)."""
    body = (
        f"{rng.choice('12')}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}"
        f"{rng.randint(1, 95):02d}{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    )
    return body + f"{97 - int(body) % 97:02d}"


def _working_days(start: date, end: date, rng: random.Random) -> Iterator[date]:
    vacation_start = date(start.year, 8, 3) + timedelta(days=rng.randint(0, 7))
    day = start
    while day <= end:
        on_vacation = vacation_start <= day < vacation_start + timedelta(days=21)
        weekday = day.weekday() < 5 and (day.month, day.day) not in HOLIDAYS and not on_vacation
        saturday_morning = day.weekday() == 5 and rng.random() < 0.4
        if weekday or saturday_morning:
            yield day
        day += timedelta(days=1)


def generate_events(profile: Profile, start: date, end: date, seed: int) -> Iterator[dict[str, Any]]:
    """Canonical events for one GP between two days, in time order."""
    rng = random.Random(f"{seed}:{profile.rpps}:{start.year}")
    patients = [_nir(rng) for _ in range(1800)]
    for day in _working_days(start, end, rng):
        n = max(0, round(rng.gauss(profile.consultations_per_day, 3)))
        if day.weekday() == 5:
            n //= 2
        # The DMP habit grows during the year (the Ségur wave): 70 % of the share in January.
        dmp_share = profile.dmp * (0.7 + 0.6 * (day.timetuple().tm_yday / 366))
        for i in range(n):
            at = datetime(day.year, day.month, day.day, 8, 30, tzinfo=PARIS) + timedelta(minutes=17 * i)
            base = {
                "at": at.isoformat(timespec="seconds"),
                "practitioner": profile.rpps,
                "patient": rng.choice(patients),
            }
            ref = f"{profile.rpps[-4:]}-{day:%y%m%d}-{i:03d}"
            consultation = {"kind": "consultation", "id": f"C{ref}", **base}
            if rng.random() < NO_PATIENT_SHARE:
                del consultation["patient"]
            yield consultation
            if rng.random() < profile.paper_share:
                yield {"kind": "fsp", "id": f"P{ref}", **base}
            else:
                roll = rng.random()
                vitale = (
                    "apcv"
                    if roll < profile.apcv_share
                    else ("sans_vitale" if roll < profile.apcv_share + profile.sans_vitale_share else "carte")
                )
                yield {
                    "kind": "fse",
                    "id": f"F{ref}",
                    "vitale": vitale,
                    "transmitted": rng.random() >= profile.not_transmitted,
                    **base,
                }
            if rng.random() < 0.75:
                yield {
                    "kind": "prescription",
                    "id": f"O{ref}",
                    "electronic": rng.random() < profile.eprescription,
                    **base,
                }
            if rng.random() < profile.mss_patient:
                yield {
                    "kind": "mss_message",
                    "id": f"<{ref}.p@mss.demo>",
                    "recipient": f"{base['patient']}@patient.mssante.fr",
                    **base,
                }
            if rng.random() < 0.08:
                yield {
                    "kind": "mss_message",
                    "id": f"<{ref}.c@mss.demo>",
                    "recipient": "cardiologie.hopital@ch-demo.mssante.fr",
                    **base,
                }
            if rng.random() < dmp_share:
                sent = at + timedelta(days=LATE_DMP_DAYS if rng.random() < LATE_DMP_SHARE else 0)
                yield {
                    "kind": "dmp_document",
                    "id": f"D{ref}",
                    "doc_type": "11488-4",
                    **base,
                    "at": sent.isoformat(timespec="seconds"),
                }
            for service, per100 in TELESERVICE_RATES.items():
                if rng.random() < per100 / 100:
                    yield {
                        "kind": "teleservice",
                        "id": f"T{service}{ref}",
                        "service": service,
                        "online": rng.random() < profile.teleservices[service],
                        **base,
                    }


def write_exports(folder: Path, rules: Rules, as_of: date, seed: int, count: int) -> list[Path]:
    """One JSONL journal per GP and month, as an LGC export folder would hold, with a few
    damaged lines (a crash mid-write, an unknown record type) that the agent must quarantine."""
    folder.mkdir(parents=True, exist_ok=True)
    year = rules.year
    prerequisites = [i.id for i in rules.indicators if i.group == rules.gate.id and is_declarative(i.condition)]
    written = []
    for profile in PROFILES[:count]:
        by_month: dict[int, list[str]] = {}
        end = min(as_of, date(year, 12, 31))
        for event in generate_events(profile, date(year, 1, 1), end, seed):
            by_month.setdefault(int(event["at"][5:7]), []).append(json.dumps(event, ensure_ascii=False))
        if profile.declares_equipment:
            at = datetime.combine(end, datetime.min.time(), PARIS).isoformat()
            for indicator in prerequisites:
                decl = {
                    "kind": "declaration",
                    "id": f"demo-{indicator}-{profile.rpps}-{year}",
                    "at": at,
                    "practitioner": profile.rpps,
                    "indicator": indicator,
                    "year": year,
                    "value": True,
                }
                by_month.setdefault(end.month, []).append(json.dumps(decl))
        for month, lines in sorted(by_month.items()):
            if month == 3:
                lines.insert(40, '{"kind": "consultation", "id": "C-tronq')  # write cut short
                lines.insert(90, json.dumps({"kind": "teleconsultation", "id": "X1", "at": f"{year}-03-02T10:00"}))
            path = folder / f"journal-{profile.rpps}-{year}-{month:02d}.jsonl"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            written.append(path)
    return written


def demo_config(count: int) -> str:
    """The demo cabinet's configuration: its doctors' display names."""
    lines = ["# Configuration de la démonstration : noms affichés des médecins (RPPS → nom).", "[names]"]
    lines += [f'"{p.rpps}" = "{p.name}"' for p in PROFILES[:count]]
    return "\n".join(lines) + "\n"


def run_demo(app: Any, *, seed: int, practitioners: int, console: Any, command: str = "forfait-agent") -> int:
    """Backfill last year, follow this year up to today, print the score, write the report."""
    from .app import App, today
    from .cli import _quote, print_scan_report
    from .htmlreport import REPORT_FILE, write_report
    from .report import View, print_command, render, render_history

    config = app.config_path if app.config_path.exists() else None
    if config is None:
        (app.home / "demo").mkdir(parents=True, exist_ok=True)
        (app.home / "demo" / "config.toml").write_text(demo_config(practitioners), encoding="utf-8")
    demo = App(app.home / "demo", config)
    again = f"{command} --data-dir {_quote(str(demo.home))}"
    try:
        as_of = today()
        year = demo.default_year()
        exports = demo.home / "exports"
        console.print(
            f"Démonstration : cabinet de {practitioners} médecin(s), années {year - 1} et {year} "
            f"(jusqu'au {as_of:%d/%m/%Y})."
        )
        files = []
        for y in (year - 1, year):
            if y in demo.rulebook.years():
                files += write_exports(exports, demo.rulebook.get(y), as_of, seed, practitioners)
        console.print(f"{len(files)} journaux d'export écrits dans {exports}")
        report = demo.ingestor.scan([exports], context=demo.settings.context())
        print_scan_report(report, console, again)
        if report.as_json()["quarantined"]:
            console.print(
                "(Ces lignes sont abîmées exprès par la démonstration — une écriture coupée net et un type "
                "d'enregistrement inconnu dans chaque journal de mars — pour montrer qu'elles sont mises à part "
                "sans rien perdre du reste.)"
            )
        view = View(today(), demo.names, again, demo.settings.default_practitioner)
        render(demo.score(year, as_of), demo.rulebook.get(year), console, view)
        render_history(demo.history(), console, view)
        html = write_report(demo, demo.home / REPORT_FILE, year, as_of)
        console.print(f"\nRapport HTML : {html}")
        console.print("Pour revoir ce score (ou report, open, declaration à la place de score) :")
        print_command(console, f"{again} score")
    finally:
        demo.close()
    return 0
