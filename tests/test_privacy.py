"""No NIR, INS or patient address in clear, anywhere the agent writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from forfait_agent.privacy import Hasher, contains_patient_data, load_or_create_salt, redact

from .conftest import RPPS_A, TEST_INS, cli, ev, write_jsonl

# Synthetic NIRs with valid keys, including the Corsican form; none belongs to a real person.
NIRS = [TEST_INS, "1850775123456", "2690299123456", "1840220012345"]


def _with_key(body: str) -> str:
    number = int(body.replace("2A", "19").replace("2B", "18"))
    return body + f"{97 - number % 97:02d}"


CORSICAN = _with_key("185022A123456")


def all_written_bytes(home: Path) -> bytes:
    data = b""
    for path in home.rglob("*"):
        if path.is_file():
            data += path.read_bytes()
    return data


def test_nothing_identifying_reaches_the_database_or_the_logs(home: Path, tmp_path: Path):
    events = []
    for i, nir in enumerate([*NIRS, CORSICAN]):
        events += [
            ev("consultation", f"c{i}", patient=nir),
            ev("mss_message", f"m{i}", patient=nir, recipient=f"{nir}@patient.mssante.fr"),
            ev("dmp_document", f"{nir}-doc", patient=f"{nir}^^^&1.2.250.1.213.1.4.8&ISO^NH"),
        ]
    bad = json.dumps(ev("teleconsultation", "x", patient=NIRS[1]))  # quarantined line holding a NIR
    path = write_jsonl(tmp_path / "e.jsonl", [*events, bad])
    report = json.loads(cli(home, "-v", "scan", "--json", str(path)).stdout)
    assert report["new"] == len(events) and report["quarantined"] == 1
    score = json.loads(cli(home, "score", "--json", "--as-of", "2026-12-31").stdout)
    written = all_written_bytes(home)
    assert (home / "logs" / "commandes.log").stat().st_size > 0
    for nir in [*NIRS, CORSICAN]:
        assert nir[:13].encode() not in written, nir
    # What is kept is "to a patient: yes" and the link to the consultation, by salted hash.
    metrics = score["practitioners"][0]["metrics"]
    assert metrics["mss_patient_messages"]["numerator"] == metrics["mss_patient"]["numerator"] == len(events) // 3
    assert b"@patient.mssante.fr" not in written


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_files_are_readable_by_the_user_only(home: Path, tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", [ev("consultation", "c1", patient=TEST_INS)])
    cli(home, "scan", str(path))
    for written in [p for p in home.rglob("*") if p.is_file()]:
        mode = stat.S_IMODE(written.stat().st_mode)
        assert mode & 0o077 == 0, f"{written} is {oct(mode)}"


def test_hash_is_stable_per_installation_and_differs_between_them(tmp_path: Path):
    a = Hasher(load_or_create_salt(tmp_path / "a"))
    a_again = Hasher(load_or_create_salt(tmp_path / "a"))
    b = Hasher(load_or_create_salt(tmp_path / "b"))
    assert a(TEST_INS) == a_again(TEST_INS)
    assert a(TEST_INS) != b(TEST_INS)
    assert TEST_INS not in a(TEST_INS)


@pytest.mark.parametrize(
    "text",
    [TEST_INS, "2 79 03 51 215 189 89", CORSICAN, f"to: <{TEST_INS}@patient.mssante.fr>", "nir=1850775123456;"],
)
def test_redaction_catches_every_written_form(text: str):
    assert contains_patient_data(text)
    assert "[masqué]" in redact(text)
    assert not contains_patient_data(redact(text))


def test_rpps_and_dates_are_not_mistaken_for_nir():
    assert not contains_patient_data(f"practitioner={RPPS_A} at=2026-03-02T10:00:00+01:00 id=F123456789")


def test_quarantine_messages_quoting_a_nir_are_redacted(home: Path, tmp_path: Path):
    from forfait_agent import Adapter, RecordError
    from forfait_agent.app import App

    class Quoting(Adapter):
        name = "quoting"
        patterns = ("*.q",)

        def parse(self, record):
            raise RecordError(f"colonne « Date » : valeur « {record.text} » inattendue")

    (tmp_path / "x.q").write_text(f"{NIRS[1]}\n", encoding="utf-8")
    app = App(home)
    app.ingestor.adapters["quoting"] = Quoting()
    report = app.ingestor.scan([tmp_path / "x.q"], context=app.settings.context())
    message = app.store.quarantine_items(1)[0][-1]
    app.close()
    assert report.total("quarantined") == 1 and "[masqué]" in message
    assert NIRS[1].encode() not in all_written_bytes(home)


def test_file_named_after_a_patient_is_stored_under_a_hashed_name(home: Path, tmp_path: Path):
    folder = tmp_path / "envois"
    folder.mkdir()
    named = folder / f"CR_{NIRS[2]}.jsonl"
    write_jsonl(named, [ev("consultation", "c1"), "not json"])
    first = json.loads(cli(home, "scan", "--json", str(folder)).stdout)
    again = json.loads(cli(home, "scan", "--json", str(folder)).stdout)
    assert (first["new"], first["quarantined"], again["records"]) == (1, 1, 0)  # positions still work
    assert NIRS[2].encode() not in all_written_bytes(home)


def test_quarantine_keeps_only_what_cannot_identify_a_patient():
    from forfait_agent.ingest import kept_raw

    line = json.dumps({"kind": "teleconsultation", "id": "x1", "patient": "Jeanne Test", "nom": "TEST"})
    assert kept_raw(line) == json.dumps({"kind": "teleconsultation", "id": "x1"})
    assert kept_raw('{"kind": "consultation", "id": "Dupont Jean, né le 01/03/1979"') is None  # not JSON
    assert kept_raw(json.dumps({"kind": "x", "id": NIRS[1]})) is None
