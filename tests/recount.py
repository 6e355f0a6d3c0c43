"""An independent recount of contract v2's metrics, written from ARCHITECTURE.md's text alone
(no import from forfait_agent): the engine's `score --json` must agree with it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
SERVICES = ("aat", "dmt", "pse", "atmp", "spe", "dsg")


def paris_day(text: str) -> date:
    at = datetime.fromisoformat(text)
    return (at.replace(tzinfo=PARIS) if at.tzinfo is None else at.astimezone(PARIS)).date()


def patient_of(event: dict) -> str | None:
    """The patient key: an INS typed with spaces, dots or dashes, or a lower-case 2a/2b, is the
    same patient; a patient MSS address gives its local part."""
    value = event.get("patient")
    if value is None and event["kind"] == "mss_message" and to_patient(event):
        value = parseaddr(event["recipient"])[1].split("@")[0]
    if value is None:
        return None
    compact = re.sub(r"[\s.\-]", "", value).upper()
    if re.fullmatch(r"\d{5}(\d\d|2A|2B)\d{8}", compact):
        return compact
    return value.strip()


def to_patient(event: dict) -> bool:
    if event.get("to_patient") is not None:
        return bool(event["to_patient"])
    address = parseaddr(event["recipient"])[1]
    return address.lower().endswith("@patient.mssante.fr")


def recount(events: list[dict], rpps: str, year: int, as_of: date, link_days: dict[str, int]) -> dict:
    """{metric: (numerator, denominator)} plus, for linked metrics, (unlinked, without_patient)."""
    seen, kept = set(), []
    for e in events:
        if (e["kind"], e["id"]) in seen:
            continue
        seen.add((e["kind"], e["id"]))
        day = paris_day(e["at"])
        if e["practitioner"] == rpps and date(year, 1, 1) <= day <= min(as_of, date(year, 12, 31)):
            kept.append({**e, "_day": day, "_patient": patient_of(e)})

    def n(pred) -> int:
        return sum(1 for e in kept if pred(e))

    consultations = [e for e in kept if e["kind"] == "consultation"]
    fse = n(lambda e: e["kind"] == "fse")
    result: dict = {
        "teletransmission": (
            n(lambda e: e["kind"] == "fse" and e.get("transmitted", True)),
            fse + n(lambda e: e["kind"] == "fsp"),
        ),
        "apcv": (n(lambda e: e["kind"] == "fse" and e["vitale"] == "apcv"), fse),
        "eprescription": (
            n(lambda e: e["kind"] == "prescription" and e["electronic"]),
            n(lambda e: e["kind"] == "prescription"),
        ),
        "dmp_documents": (n(lambda e: e["kind"] == "dmp_document"), len(consultations)),
        "mss_patient_messages": (n(lambda e: e["kind"] == "mss_message" and to_patient(e)), len(consultations)),
    }
    partners = {
        "dmp": [e for e in kept if e["kind"] == "dmp_document"],
        "mss_patient": [e for e in kept if e["kind"] == "mss_message" and to_patient(e)],
    }
    for metric, docs in partners.items():
        window = timedelta(days=link_days.get(metric, 0))

        def links(c: dict, d: dict, window: timedelta = window) -> bool:
            return (
                c["_patient"] is not None
                and c["_patient"] == d["_patient"]
                and c["_day"] <= d["_day"] <= c["_day"] + window
            )

        linked = sum(1 for c in consultations if any(links(c, d) for d in docs))
        unlinked = sum(1 for d in docs if not any(links(c, d) for c in consultations))
        without = sum(1 for c in consultations if c["_patient"] is None)
        result[metric] = (linked, len(consultations), unlinked, without)
    for s in SERVICES:
        forms = [e for e in kept if e["kind"] == "teleservice" and e["service"] == s and e.get("regime_general", True)]
        result[f"teleservice:{s}"] = (sum(1 for e in forms if e["online"]), len(forms))
    return result


def engine_view(metrics: dict) -> dict:
    """`score --json`'s metrics in the recount's shape."""
    out = {}
    for metric, value in metrics.items():
        row = (value["numerator"], value["denominator"])
        if "unlinked" in value:
            row += (value["unlinked"], value["without_patient"])
        out[metric] = row
    return out
