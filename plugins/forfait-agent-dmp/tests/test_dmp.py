"""DMP documents: header facts of CDA N1/N3 and XDM zips; hostile XML and zips rejected fast."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from cda_builders import BILLION_LAUGHS, EXTERNAL_ENTITY, RPPS, TEST_INS, cda, xdm
from forfait_agent_dmp import CdaAdapter, XdmAdapter, parse_cda
from forfait_agent_dmp.cda import parse_ts

from forfait_agent import Record, RecordError, SourceContext
from forfait_agent.testing import AdapterContract, agent_json, assert_events, feed


def parse(adapter, data: bytes, context: SourceContext | None = None):
    return adapter.parse(Record(path=Path("doc.xml"), offset=0, data=data, context=context or SourceContext()))


@pytest.mark.parametrize("n3", [False, True], ids=["N1-pdf", "N3-structured"])
def test_cda_header_facts(tmp_path: Path, n3: bool):
    path = tmp_path / "doc.xml"
    path.write_bytes(cda(n3=n3))
    fed = feed(CdaAdapter(), path)
    assert not fed.errors
    assert_events(
        fed.events,
        [
            {
                "kind": "dmp_document",
                "id": "1.2.250.1.213.4.1.2.9^DOC-0001",
                "at": "2026-03-02T10:15",
                "practitioner": RPPS,
                "doc_type": "11488-4",
                "patient": TEST_INS,
            }
        ],
    )


def test_effective_time_forms():
    assert parse_ts("20260302").isoformat() == "2026-03-02T00:00:00"
    assert parse_ts("202603021015").isoformat() == "2026-03-02T10:15:00"
    assert parse_ts("20260302101500.123-0500").isoformat() == "2026-03-02T10:15:00-05:00"
    with pytest.raises(RecordError):
        parse_ts("2026-03-02")


def test_document_without_rpps_author_uses_the_configured_practitioner():
    data = cda().replace(b'root="1.2.250.1.71.4.2.1"', b'root="1.2.250.1.71.4.2.2"')
    (event,) = parse(CdaAdapter(), data, SourceContext(default_practitioner="10303030303"))
    assert event["practitioner"] == "10303030303"


def test_xdm_archive_yields_every_document(tmp_path: Path):
    path = tmp_path / "envoi.zip"
    path.write_bytes(xdm({"DOC0001.XML": cda("A"), "DOC0002.XML": cda("B", loinc="60591-5", n3=True)}))
    fed = feed(XdmAdapter(), path)
    assert [e.id for e in fed.events] == ["1.2.250.1.213.4.1.2.9^A", "1.2.250.1.213.4.1.2.9^B"]
    assert [e.doc_type for e in fed.events] == ["11488-4", "60591-5"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BILLION_LAUGHS, "DTD"),
        (EXTERNAL_ENTITY, "DTD"),
        (b"<ClinicalDocument xmlns='urn:hl7-org:v3'><id root='x'/>", "XML invalide"),
        (b"<html><body/></html>", "pas un document CDA"),
        (cda().replace(b'<effectiveTime value="20260302101500+0100"/>', b""), "effectiveTime"),
    ],
    ids=["billion-laughs", "external-entity", "truncated", "not-cda", "no-date"],
)
def test_hostile_or_broken_xml_is_rejected_quickly(data: bytes, reason: str):
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(RecordError, match=reason):
        parse(CdaAdapter(), data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - started < 2 and peak < 5_000_000


def test_zip_bomb_is_rejected_without_inflating_it():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", "<x/>")
        with archive.open("IHE_XDM/SUBSET01/DOC0001.XML", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(200):  # 200 MB of zeros, about 200 KB compressed
                member.write(block)
    bomb = buffer.getvalue()
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    with pytest.raises(RecordError, match="bombe zip"):
        parse(XdmAdapter(), bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000_000


def test_zip_without_xdm_structure_is_rejected():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photos/vacances.jpg", b"jpeg")
    with pytest.raises(RecordError, match="IHE XDM"):
        parse(XdmAdapter(), buffer.getvalue())
    with pytest.raises(RecordError, match="zip illisible"):
        parse(XdmAdapter(), b"PK\x03\x04 truncated")


def test_agent_scan_counts_documents_and_keeps_no_ins(tmp_path: Path):
    folder = tmp_path / "dmp"
    folder.mkdir()
    (folder / "a.xml").write_bytes(cda("A"))
    (folder / "b.zip").write_bytes(xdm({"DOC0001.XML": cda("B"), "DOC0002.XML": cda("C", n3=True)}))
    (folder / "bomb.xml").write_bytes(BILLION_LAUGHS)
    home = tmp_path / "home"
    report = agent_json(home, "scan", str(folder))
    assert (report["new"], report["quarantined"]) == (3, 1)
    score = agent_json(home, "score", "--as-of", "2026-12-31")
    assert score["practitioners"][0]["metrics"]["dmp"]["numerator"] == 3
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert TEST_INS.encode() not in stored and b"Jeanne" not in stored


def test_parse_cda_reads_only_the_header():
    facts = parse_cda(cda(n3=True))
    assert facts.author_id == "8" + RPPS and facts.patient == TEST_INS


class TestCdaContract(AdapterContract):
    adapter = CdaAdapter()
    sample = Path(__file__).parent / "samples" / "compte-rendu-n3.xml"
    expected_count = 1


class TestXdmContract(AdapterContract):
    adapter = XdmAdapter()
    sample = Path(__file__).parent / "samples" / "envoi-xdm.zip"
    expected_count = 2
