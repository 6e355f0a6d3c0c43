"""The canonical event models: strict, Paris-local, naming the faulty field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from forfait_agent.events import PARIS, parse_event_json
from forfait_agent.ingest import explain

from .conftest import RPPS_A, TEST_INS, ev


def parse(**overrides):
    return parse_event_json(json.dumps(ev(**overrides)))


def test_naive_datetime_is_paris_local_time():
    event = parse(kind="consultation", id="c1", at="2026-07-01T23:30:00")
    assert event.at.tzinfo is not None
    assert event.at.utcoffset().total_seconds() == 2 * 3600  # summer time
    assert event.day.isoformat() == "2026-07-01"


def test_aware_datetime_is_converted_to_paris_day():
    # 23:30 UTC on 31 December is already 1 January in Paris: it belongs to the next year.
    event = parse(kind="consultation", id="c1", at="2025-12-31T23:30:00Z")
    assert event.day.isoformat() == "2026-01-01"
    assert event.at == datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert event.at.tzinfo == PARIS


def test_cps_national_id_becomes_rpps():
    assert parse(kind="consultation", id="c1", practitioner="8" + RPPS_A).practitioner == RPPS_A


@pytest.mark.parametrize(
    ("fields", "code", "word"),
    [
        ({"kind": "fse", "id": "f1"}, "missing_field", "vitale"),
        ({"kind": "fse", "id": "f1", "vitale": "carte", "transmitted": "yes"}, "invalid_field", "transmitted"),
        ({"kind": "teleservice", "id": "t1", "service": "xyz", "online": True}, "invalid_field", "service"),
        ({"kind": "teleconsultation", "id": "x"}, "unknown_kind", "teleconsultation"),
        ({"kind": "consultation", "id": "c", "at": "31/02/2026"}, "invalid_date", "at"),
        ({"kind": "consultation", "id": "c", "practitioner": "123"}, "invalid_field", "practitioner"),
        ({"kind": "prescription", "id": "p"}, "missing_field", "electronic"),
    ],
)
def test_invalid_events_name_the_field(fields, code, word):
    data = ev(**{"kind": "consultation", "id": "x", **fields})
    with pytest.raises(ValidationError) as info:
        parse_event_json(json.dumps(data))
    reason, message = explain(info.value)
    assert reason == code
    assert word in message


def test_missing_kind_and_not_an_object():
    with pytest.raises(ValidationError) as info:
        parse_event_json(json.dumps({"id": "x", "at": "2026-01-01T00:00", "practitioner": RPPS_A}))
    assert explain(info.value)[0] == "missing_kind"
    with pytest.raises(ValidationError) as info:
        parse_event_json("[1, 2]")
    assert explain(info.value)[0] == "invalid_json"


def test_mss_to_patient_follows_recipient_domain_unless_explicit():
    to_patient = parse(kind="mss_message", id="m1", recipient=f"{TEST_INS}@patient.mssante.fr")
    colleague = parse(kind="mss_message", id="m2", recipient="dr.x@hopital.mssante.fr")
    forced = parse(kind="mss_message", id="m3", recipient="dr.x@hopital.mssante.fr", to_patient=True)
    assert (to_patient.is_to_patient, colleague.is_to_patient, forced.is_to_patient) == (True, False, True)
    assert to_patient.patient == TEST_INS and colleague.patient is None  # the address gives the patient


def test_unknown_extra_fields_are_ignored_and_transmitted_defaults_true():
    event = parse(kind="fse", id="f1", vitale="apcv", lot="42", montant="25,00")
    assert event.transmitted is True
    assert event.vitale == "apcv"
