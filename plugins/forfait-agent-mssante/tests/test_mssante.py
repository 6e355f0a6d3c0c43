"""MSSanté sent messages: one event per recipient, patient addresses never kept, bad files explained."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from forfait_agent_mssante import EmlAdapter, MaildirAdapter, MboxAdapter, parse_message
from mss_builders import SENDER, TEST_INS, message

from forfait_agent import Record, RecordError, SourceContext
from forfait_agent.testing import AdapterContract, agent_json, assert_events, feed

CONTEXT = SourceContext(identities={SENDER: "10101010101"})


def test_multi_recipient_message_gives_one_event_each(tmp_path: Path):
    raw = message(
        to=[f"{TEST_INS}@patient.mssante.fr", "Dr Cardio <cardio@chu-exemple.mssante.fr>"],
        cc=["secretariat@cabinet-martin.mssante.fr"],
    )
    path = tmp_path / "envoi.eml"
    path.write_bytes(raw)
    fed = feed(EmlAdapter(), path, CONTEXT)
    assert not fed.errors
    assert_events(
        fed.events,
        [
            {
                "kind": "mss_message",
                "id": "msg-1@cabinet-martin.mssante.fr#1",
                "at": "2026-03-02T10:15",
                "practitioner": "10101010101",
            },
            {"id": "msg-1@cabinet-martin.mssante.fr#2"},
            {"id": "msg-1@cabinet-martin.mssante.fr#3"},
        ],
    )
    assert [e.is_to_patient for e in fed.events] == [True, False, False]
    assert all(TEST_INS not in e.id for e in fed.events)


def test_xdm_attachment_is_recognised_without_extraction():
    assert parse_message(message(xdm=True)).xdm_attachments == 1
    assert parse_message(message(xdm=False)).xdm_attachments == 0


def test_unknown_sender_falls_back_to_default_then_inconnu():
    record = Record(path=Path("x.eml"), offset=0, data=message())
    default = EmlAdapter().parse(
        Record(path=Path("x.eml"), offset=0, data=message(), context=SourceContext(default_practitioner="10303030303"))
    )
    assert default[0]["practitioner"] == "10303030303"
    assert EmlAdapter().parse(record)[0]["practitioner"] == "inconnu"


def test_message_without_id_gets_a_stable_derived_one():
    raw = message(message_id=None)
    first = parse_message(raw).message_id
    assert first == parse_message(raw).message_id and first.startswith("sha256:")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (message()[: len(message()) // 2], "tronqué"),
        (b"From: a@b.mssante.fr\r\nSubject: x\r\n", "Date"),
        (message(to=[]), "destinataire"),
        (b"", "vide"),
    ],
    ids=["truncated-mime", "headers-only", "no-recipient", "empty"],
)
def test_incomplete_messages_are_rejected_with_a_reason(raw: bytes, reason: str):
    with pytest.raises(RecordError, match=reason):
        EmlAdapter().parse(Record(path=Path("x.eml"), offset=0, data=raw))


def test_mbox_sent_folder(tmp_path: Path):
    mbox = b"".join(
        b"From MAILER-DAEMON Mon Mar  2 10:15:00 2026\n" + message(message_id=f"<m{i}@x.mssante.fr>") + b"\n"
        for i in range(3)
    )
    path = tmp_path / "Envoyes.mbox"
    path.write_bytes(mbox)
    fed = feed(MboxAdapter(), path, CONTEXT)
    assert [e.id for e in fed.events] == ["m0@x.mssante.fr#1", "m1@x.mssante.fr#1", "m2@x.mssante.fr#1"]
    with pytest.raises(RecordError, match="mbox"):
        MboxAdapter().parse(Record(path=path, offset=0, data=b"not an mbox"))


def test_maildir_file_names_are_claimed(tmp_path: Path):
    import fnmatch

    name = "1772442900.M1P2.poste-cabinet:2,S"
    assert any(fnmatch.fnmatch(name, p) for p in MaildirAdapter.patterns)


def test_agent_keeps_no_address_subject_or_text(tmp_path: Path):
    folder = tmp_path / "Envoyes"
    folder.mkdir()
    # Outboxes often name a message after its patient: the name must not be stored either.
    (folder / "CR_DUPONT_Jeanne.eml").write_bytes(message(to=[f"{TEST_INS}@patient.mssante.fr", "x@chu.mssante.fr"]))
    (folder / "b.eml").write_bytes(message()[:300])  # truncated mid-headers
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[practitioners]\n"{SENDER}" = "10101010101"\n', encoding="utf-8")
    report = agent_json(home, "scan", str(folder))
    assert (report["new"], report["quarantined"]) == (2, 1)
    score = agent_json(home, "score", "--as-of", "2026-12-31")
    assert score["practitioners"][0]["rpps"] == "10101010101"
    assert score["practitioners"][0]["metrics"]["mss_patient"]["numerator"] == 1
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and p.name != "config.toml")
    for secret in (TEST_INS.encode(), b"Compte rendu", b"Bonjour", SENDER.encode(), b"x@chu", b"DUPONT"):
        assert secret not in stored


def test_inspect_shows_domains_only(tmp_path: Path):
    path = tmp_path / "m.eml"
    path.write_bytes(message())
    proc = subprocess.run(
        [sys.executable, "-m", "forfait_agent_mssante", "inspect", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.returncode == 0
    assert "1 patient(s)" in proc.stdout and "archives IHE XDM : 1" in proc.stdout
    assert TEST_INS not in proc.stdout


class TestEmlContract(AdapterContract):
    adapter = EmlAdapter()
    sample = Path(__file__).parent / "samples" / "envoi-compte-rendu.eml"
    context = CONTEXT
    expected_count = 2


class TestMboxContract(AdapterContract):
    adapter = MboxAdapter()
    sample = Path(__file__).parent / "samples" / "Envoyes.mbox"
    context = CONTEXT
    expected_count = 2


class TestMaildirContract(AdapterContract):
    adapter = MaildirAdapter()
    sample = Path(__file__).parent / "samples" / "1772442900.M1P2.poste-cabinet!2,S"
    context = CONTEXT
    expected_count = 1
