"""MSSanté sent messages: one event per recipient, patient addresses never kept, bad files explained."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from forfait_agent_mssante import EmlAdapter, MaildirAdapter, MboxAdapter, parse_message
from forfait_agent_mssante.messages import parse_mail_date
from hypothesis import given
from hypothesis import strategies as st
from mss_builders import SENDER, TEST_INS, message

from forfait_agent import Record, RecordError, SourceContext
from forfait_agent.events import parse_event
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


@pytest.mark.parametrize(
    ("header", "utc"),
    [
        ("Mon, 02 Mar 2026 00:19:00 (EDT) -0400", "2026-03-02T04:19:00+00:00"),  # comment before the zone
        ("Mon, 02 Mar 2026 00:19:00 -0400 (EDT)", "2026-03-02T04:19:00+00:00"),
        ("Mon, 02 Mar 2026 00:19:00 -0000", "2026-03-02T00:19:00+00:00"),  # RFC 5322: UTC, zone unknown
        ("Mon, 02 Mar 2026 23:30:00 -0000", "2026-03-02T23:30:00+00:00"),  # 00:30 the next day in Paris
        ("Mon, 02 Mar 2026 00:19:00 GMT", "2026-03-02T00:19:00+00:00"),
        ("Mon, 02 Mar 2026 00:19:00 XYZ", "2026-03-02T00:19:00+00:00"),  # unknown name: as -0000
        ("Tue, 30 Jun 2026 09:00:00 CEST", "2026-06-30T07:00:00+00:00"),
        ("(lundi) Mon, 2 (mars) Mar 2026 00:19 ((nested) comment) +0100", "2026-03-01T23:19:00+00:00"),
        ("  Mon,   02 Mar 2026\r\n 10:15:00   +0100 ", "2026-03-02T09:15:00+00:00"),  # folded header
    ],
)
def test_date_header_zones_are_read_like_rfc_5322(header: str, utc: str):
    assert parse_mail_date(header).astimezone(UTC).isoformat() == utc


def test_date_header_without_zone_is_local_time():
    assert parse_mail_date("Mon, 02 Mar 2026 00:19:00").tzinfo is None  # the core reads it as Paris time


@pytest.mark.parametrize("header", ["demain", "Mon, 31 Feb 2026 10:00:00 +0100", "(EDT)", "x" * 10_000])
def test_unreadable_date_header_is_a_record_error(header: str):
    with pytest.raises(RecordError, match="Date illisible"):
        parse_mail_date(header)


@given(
    at=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
    minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
    comment=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ ", max_size=8),
    where=st.sampled_from(["before-zone", "after-zone", "none"]),
)
def test_any_written_date_reads_back_at_the_same_instant(at: datetime, minutes: int, comment: str, where: str):
    at = at.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=minutes)))
    text = format_datetime(at)
    head, zone = text.rsplit(" ", 1)
    text = {"before-zone": f"{head} ({comment}) {zone}", "after-zone": f"{text} ({comment})", "none": text}[where]
    assert parse_mail_date(text) == at


def test_message_date_with_comment_before_zone_is_not_paris_time(tmp_path: Path):
    path = tmp_path / "m.eml"
    path.write_bytes(message(date="Mon, 02 Mar 2026 20:19:00 (EDT) -0400"))
    (event,) = feed(EmlAdapter(), path, CONTEXT).events
    assert event.at.isoformat() == "2026-03-03T01:19:00+01:00"  # the next day in Paris


def test_patient_is_the_local_part_of_a_patient_address_only():
    raw = message(
        to=[
            f"{TEST_INS}@patient.mssante.fr (INS NIR)",
            f'"{TEST_INS}@patient.mssante.fr" <cardio@chu-exemple.mssante.fr>',
            "Secrétariat (patient.mssante.fr) <secretariat@cabinet-martin.mssante.fr>",
        ]
    )
    path = Path("m.eml")
    events = [parse_event(e) for e in EmlAdapter().parse(Record(path=path, offset=0, data=raw, context=CONTEXT))]
    assert [(e.to_patient, e.is_to_patient, e.patient) for e in events] == [
        (True, True, TEST_INS),
        (False, False, None),
        (False, False, None),
    ]


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


def test_practitioner_is_the_author_from_not_the_secretary_who_sent():
    """RFC 5322: `From` is the author, `Sender` who transmitted (a secretary, a mailing tool).
    The doctor in `From` is credited; `Sender` only when there is no `From`."""
    secretary = "secretariat@cabinet-martin.mssante.fr"
    identities = SourceContext(identities={SENDER: "10101010101", secretary: "10303030303"})
    on_behalf = message().replace(b"From:", f"Sender: <{secretary}>\nFrom:".encode(), 1)
    (event,) = EmlAdapter().parse(Record(path=Path("x.eml"), offset=0, data=on_behalf, context=identities))
    assert event["practitioner"] == "10101010101"
    without_from = on_behalf.replace(f"From: Dr Martin <{SENDER}>\n".encode(), b"", 1)
    assert b"From:" not in without_from
    (event,) = EmlAdapter().parse(Record(path=Path("x.eml"), offset=0, data=without_from, context=identities))
    assert event["practitioner"] == "10303030303"


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
    with pytest.raises(RecordError):
        MboxAdapter().parse(Record(path=path, offset=0, data=b"not a message"))


def test_a_cut_or_very_large_message_is_read_from_its_headers(tmp_path: Path):
    raw = message(message_id="<big@x.mssante.fr>")
    cut = raw[: raw.index(b"\n\n") + 40]  # the core kept only the beginning
    (event,) = MboxAdapter().parse(Record(path=tmp_path / "Sent", offset=0, data=cut, truncated=True))
    assert event["id"] == "big@x.mssante.fr#1"
    with pytest.raises(RecordError, match="tronqué"):
        MboxAdapter().parse(Record(path=tmp_path / "Sent", offset=0, data=raw[:60], truncated=True))
    with pytest.raises(RecordError, match="tronqué"):  # whole and small: the MIME structure is checked
        parse_message(cut)


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
    assert score["practitioners"][0]["metrics"]["mss_patient_messages"]["numerator"] == 1
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
