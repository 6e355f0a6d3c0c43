"""HL7v2 transmissions of CDA documents: DMP and MSSanté events, framing, flags, hostile input."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from forfait_agent_hl7 import Hl7Adapter, parse_transmission, split_messages
from hl7_builders import CONFRERE, PATIENT_ADDRESS, RPPS, TEST_INS, cda, message, mllp
from hypothesis import given
from hypothesis import strategies as st

from forfait_agent import Record, RecordError, SourceContext
from forfait_agent.events import parse_event
from forfait_agent.testing import AdapterContract, agent_json, assert_events, feed

SAMPLE = Path(__file__).parent / "samples" / "envoi-compte-rendu.hl7"
DOC_ID = "1.2.250.1.213.4.1.2.9^DOC-0001"


def events_of(data: bytes | str, context: SourceContext | None = None):
    raw = data.encode("utf-8") if isinstance(data, str) else data
    record = Record(path=Path("m.hl7"), offset=0, data=raw, context=context or SourceContext())
    return [parse_event(e) for e in Hl7Adapter().parse(record)]


def test_mdm_message_gives_the_document_and_one_message_per_recipient():
    fed = feed(Hl7Adapter(), SAMPLE)
    assert not fed.errors
    assert_events(
        fed.events,
        [
            {"kind": "dmp_document", "id": DOC_ID, "at": "2026-03-02T10:15", "practitioner": RPPS},
            {"kind": "mss_message", "id": DOC_ID + "#1", "at": "2026-03-02T10:30", "to_patient": False},
            {"kind": "mss_message", "id": DOC_ID + "#2", "practitioner": RPPS, "to_patient": True},
        ],
    )
    assert [e.patient for e in fed.events] == [TEST_INS] * 3  # the core hashes it
    assert fed.events[0].doc_type == "11488-4"


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_segment_separators_written_by_hand_or_by_windows_read_the_same(sep: str):
    assert [e.id for e in events_of(message(sep=sep))] == [DOC_ID, DOC_ID + "#1", DOC_ID + "#2"]


def test_mllp_frames_with_an_oru_and_an_acknowledgement():
    oru = message(kind="ORU^R01^ORU_R01", document=cda("BIO-7"), recipients=(CONFRERE,), patient="N", control="M2")
    ack = "MSH|^~\\&|PFI|CABINET|LGC|CABINET|20260302103100||ACK^T02^ACK|A1|P|2.6\rMSA|AA|MSG0001\r"
    ids = [e.id for e in events_of(mllp(message(), ack, oru))]
    assert ids == [DOC_ID, DOC_ID + "#1", DOC_ID + "#2", "1.2.250.1.213.4.1.2.9^BIO-7", "1.2.250.1.213.4.1.2.9^BIO-7#1"]


def test_several_messages_one_after_the_other_without_mllp():
    both = message() + message(document=cda("DOC-0002"), recipients=(), patient="N", control="M2")
    assert [e.id for e in events_of(both)] == [DOC_ID, DOC_ID + "#1", DOC_ID + "#2", "1.2.250.1.213.4.1.2.9^DOC-0002"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"dmp": "N"}, ["mss:" + CONFRERE, "mss:" + PATIENT_ADDRESS]),
        ({"patient": "N"}, ["dmp", "mss:" + CONFRERE]),
        ({"ps": "N", "patient": "N"}, ["dmp"]),
        ({"patient": "Y", "recipients": (CONFRERE,)}, ["dmp", "mss:" + CONFRERE, "mss:" + PATIENT_ADDRESS]),
        ({"dmp": None, "ps": None, "patient": None, "recipients": ()}, ["dmp"]),  # guide v1: DMP only
    ],
    ids=["not-to-dmp", "not-to-patient", "dmp-only", "patient-by-ins", "no-flags"],
)
def test_destination_flags_decide_which_events(flags: dict, expected: list[str]):
    got = events_of(message(**flags))
    assert [("dmp" if e.kind == "dmp_document" else "mss:" + e.recipient) for e in got] == expected


def test_patient_recipient_is_recognised_by_its_address_only():
    disguised = f"{TEST_INS}.patient.mssante.fr@chu-exemple.mssante.fr"
    got = events_of(message(recipients=(disguised,), patient="N"))
    assert [(e.kind, getattr(e, "is_to_patient", None)) for e in got] == [
        ("dmp_document", None),
        ("mss_message", False),
    ]


def test_cancellation_sends_nothing_new_and_replacement_counts_the_new_version():
    assert events_of(message(kind="MDM^T04^MDM_T02", order="CA")) == []  # guide v2.1
    assert events_of(message(kind="ORU^R01^ORU_R01", order="CA")) == []
    assert events_of(message(kind="MDM^T04^MDM_T02").replace("ORC|NW|\r", "")) == []  # guide v2.0: no ORC
    replaced = events_of(message(kind="MDM^T10^MDM_T02", order="RO", document=cda("DOC-0001-v2")))
    assert replaced[0].id == "1.2.250.1.213.4.1.2.9^DOC-0001-v2"


def test_author_without_rpps_falls_back_to_the_sender_then_the_configuration():
    got = events_of(message(document=cda(author="3750000001")))
    assert {e.practitioner for e in got} == {RPPS}  # PRT role SB
    no_sender = message(document=cda(author="3750000001")).replace("PRT||UC||SB^", "PRT||UC||XX^")
    got = events_of(no_sender, SourceContext(default_practitioner="10303030303"))
    assert {e.practitioner for e in got} == {"10303030303"}


def test_unreadable_cda_falls_back_to_the_txa_description():
    """The guide's own examples carry a placeholder instead of a CDA: TXA-12 (document number),
    TXA-4 (date) and TXA-22 (authenticator) still say which document was sent, by whom, when."""
    got = events_of(message(document="Document médical au format CDA".encode()))
    assert_events(
        got,
        [
            {"kind": "dmp_document", "id": "1.2.250.1.213.4.1.2.9.DOC-0001", "at": "2026-03-02T10:30"},
            {"kind": "mss_message", "id": "1.2.250.1.213.4.1.2.9.DOC-0001#1"},
            {"kind": "mss_message", "practitioner": RPPS, "patient": TEST_INS},
        ],
    )
    assert got[0].practitioner == RPPS and got[0].doc_type == "11488-4" and got[0].patient == TEST_INS


@pytest.mark.parametrize(
    ("txa2", "doc_type"),
    [
        ("11488-4^CR de consultation^LN", "11488-4"),
        ("SYNTH^Synthèse^1.2.250.1.213.1.1.4.12", "1.2.250.1.213.1.1.4.12|SYNTH"),
    ],
)
def test_txa_document_type_keeps_its_coding_system(txa2: str, doc_type: str):
    unreadable = message(document=b"Document CDA").replace("TXA|1|11488-4|", f"TXA|1|{txa2}|")
    assert events_of(unreadable)[0].doc_type == doc_type


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            message().replace("^Base64^", "^Base64^!!").replace("TXA|", "NTE|"),
            "message 1 : document CDA illisible dans l.OBX : base64 invalide",
        ),
        (message(document=b"<html/>").replace("TXA|", "NTE|"), "pas un document CDA"),  # and no TXA
        (b"PID|||x\rOBX|1|ED\r", "pas un message HL7v2"),
        (b"", "pas un message HL7v2"),
        (message().replace("MSH|^~\\&|", "MSH|]]>^~\\&|"), "caractères d'encodage"),  # python-hl7 asserted
    ],
    ids=["bad-base64", "not-cda", "no-msh", "empty", "odd-encoding-characters"],
)
def test_unreadable_messages_are_explained_in_french(data, reason: str):
    with pytest.raises(RecordError, match=reason):
        events_of(data)


@pytest.mark.parametrize(
    ("head", "claimed"),
    [
        (message().encode(), True),
        (mllp(message()), True),
        (b"\xef\xbb\xbf" + message(kind="ORU^R01^ORU_R01").encode(), True),
        (mllp("MSH|^~\\&|PFI|C|LGC|C|20260302||ACK^T02^ACK|A1|P|2.6\rMSA|AA|1\r", message()), True),
        (b"MSH|^~\\&|PFI|C|LGC|C|20260302||ACK^T02^ACK|A1|P|2.6\rMSA|AA|1\r", False),
        (b"MSH|^~\\&|LGC|C|X|C|20260302||ADT^A04^ADT_A01|A1|P|2.5\rPID|||1\r", False),
        (b"<?xml version='1.0'?><x/>", False),
    ],
    ids=["mdm", "mllp", "bom-oru", "ack-then-mdm", "ack", "adt", "xml"],
)
def test_only_mdm_and_oru_files_are_claimed(head: bytes, claimed: bool):
    assert Hl7Adapter().claims(head) is claimed


@given(st.binary(max_size=400), st.binary(max_size=6))
def test_any_bytes_give_events_or_a_record_error(data: bytes, encoding_characters: bytes):
    with contextlib.suppress(RecordError):
        events_of(b"MSH|^~\\&|" + data)
    with contextlib.suppress(RecordError):
        events_of(b"MSH|" + encoding_characters + b"|" + data)


@given(st.sampled_from(["\r", "\n", "\r\n"]), st.integers(min_value=1, max_value=4), st.booleans())
def test_any_framing_of_n_messages_gives_n_documents(sep: str, count: int, framed: bool):
    messages = [
        message(document=cda(f"D{i}"), recipients=(), patient="N", control=f"M{i}", sep=sep) for i in range(count)
    ]
    data = mllp(*messages) if framed else "".join(messages).encode()
    assert len(split_messages(data)) == count
    assert [e.id for e in events_of(data)] == [f"1.2.250.1.213.4.1.2.9^D{i}" for i in range(count)]


def test_agent_counts_a_document_once_whatever_the_channel_and_keeps_no_ins(tmp_path: Path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "envoi.hl7").write_text(message(), encoding="utf-8", newline="")
    (folder / "DOC-0001.xml").write_bytes(cda())  # the same CDA, also written as a file
    (folder / "ack.hl7").write_text("MSH|^~\\&|PFI|C|L|C|20260302||ACK^T02^ACK|1|P|2.6\rMSA|AA|1\r", encoding="utf-8")
    (folder / "MSG00042").write_bytes(mllp(message(document=cda("DOC-0042"), recipients=(), patient="N")))
    consultation = {"kind": "consultation", "id": "C1", "at": "2026-03-02T09:45", "practitioner": RPPS}
    (folder / "journal.jsonl").write_text(json.dumps({**consultation, "patient": TEST_INS}) + "\n", encoding="utf-8")
    home = tmp_path / "home"
    report = agent_json(home, "scan", str(folder))
    assert (report["new"], report["known"], report["quarantined"], report["ignored"]) == (5, 1, 0, 1)
    metrics = agent_json(home, "score", "--as-of", "2026-12-31")["practitioners"][0]["metrics"]
    assert metrics["dmp"]["numerator"] == 1 and metrics["mss_patient"]["numerator"] == 1
    assert metrics["dmp_documents"]["numerator"] == 2  # DOC-0001 once (HL7 + file), DOC-0042 (no extension)
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert TEST_INS.encode() not in stored and b"Jeanne" not in stored and b"JEANNE" not in stored


def test_odd_escapes_never_print_patient_data(caplog, capfd):
    """python-hl7 logs the whole field when an escape sequence is odd: silenced."""
    odd = message().replace(f"^X.400^{PATIENT_ADDRESS}", f"^X.400^\\Z{TEST_INS}\\@patient.mssante.fr")
    odd = odd.replace("|20260302103000|", "|2026\\H\\0302103000|", 1)
    with contextlib.suppress(RecordError):
        events_of(odd)
    out, err = capfd.readouterr()
    assert TEST_INS not in out + err + caplog.text and "Error" not in err + caplog.text


def test_parse_transmission_reads_sender_and_patient():
    sent = parse_transmission(split_messages(message().encode())[0])
    assert (sent.sender_rpps, sent.sender_address, sent.patient) == (
        "8" + RPPS,
        "dr.martin@cabinet-martin.mssante.fr",
        TEST_INS,
    )


class TestContract(AdapterContract):
    adapter = Hl7Adapter()
    sample = SAMPLE
    expected_count = 3
