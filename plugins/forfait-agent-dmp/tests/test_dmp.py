"""DMP documents: header facts of CDA N1/N3 and XDM zips; hostile XML and zips rejected fast."""

from __future__ import annotations

import contextlib
import io
import time
import tracemalloc
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cda_builders import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    RPPS,
    TEST_INS,
    auto_presentable,
    cda,
    metadata,
    templates_first,
    xdm,
)
from forfait_agent_dmp import CdaAdapter, XdmAdapter, parse_cda
from forfait_agent_dmp.cda import is_cda, parse_ts
from forfait_agent_dmp.xdm import listed_uris
from hypothesis import given
from hypothesis import strategies as st

from forfait_agent import Record, RecordError, SourceContext
from forfait_agent.adapter import SNIFF_BYTES
from forfait_agent.events import parse_event
from forfait_agent.testing import AdapterContract, agent_json, assert_events, feed, run_agent


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
    assert parse_ts("2026030210+0200").isoformat() == "2026-03-02T10:00:00+02:00"  # hour only
    assert parse_ts("20260302101500.123-0500").isoformat() == "2026-03-02T10:15:00-05:00"
    with pytest.raises(RecordError):
        parse_ts("2026-03-02")


@given(
    at=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31)),
    precision=st.sampled_from([8, 10, 12, 14]),
    minutes=st.one_of(st.none(), st.integers(min_value=-12 * 60, max_value=14 * 60)),
)
def test_any_hl7_timestamp_reads_back(at: datetime, precision: int, minutes: int | None):
    pattern = {8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}[precision]
    text = at.strftime(pattern)
    expected = datetime.strptime(text, pattern)
    if minutes is not None:
        sign = "+" if minutes >= 0 else "-"
        text += f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
        expected = expected.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    assert parse_ts(text) == expected


def test_document_without_rpps_author_uses_the_configured_practitioner():
    data = cda().replace(b'root="1.2.250.1.71.4.2.1"', b'root="1.2.250.1.71.4.2.2"')
    (event,) = parse(CdaAdapter(), data, SourceContext(default_practitioner="10303030303"))
    assert event["practitioner"] == "10303030303"


@pytest.mark.parametrize(
    ("authors", "legal", "device_id", "expected"),
    [
        (("device", "person"), False, "3750000001/LGC", RPPS),  # the LGC as first author
        (("structure", "person"), False, "", RPPS),  # "3" + FINESS under the RPPS OID
        (("device",), True, "3750000001/LGC", RPPS),  # no human author: the legal authenticator
        (("structure",), True, "", RPPS),
        (("device",), False, "810909090909", "10303030303"),  # a device is never the author
        (("structure",), False, "", "10303030303"),  # nothing: the configured practitioner
    ],
    ids=["device-then-person", "structure-then-person", "device-legal", "structure-legal", "device-rpps", "default"],
)
def test_author_is_the_first_person_with_an_rpps(authors, legal, device_id, expected):
    data = cda(authors=authors, legal=legal, device_id=device_id)
    (event,) = parse(CdaAdapter(), data, SourceContext(default_practitioner="10303030303"))
    assert parse_event(event).practitioner == expected


def test_device_first_author_is_not_quarantined_by_the_agent(tmp_path: Path):
    folder = tmp_path / "dmp"
    folder.mkdir()
    (folder / "a.xml").write_bytes(cda("A", authors=("device",)))
    (folder / "b.xml").write_bytes(cda("B", authors=("device", "person")))
    report = agent_json(tmp_path / "home", "scan", "--practitioner", "10303030303", str(folder))
    assert (report["new"], report["quarantined"]) == (2, 0)
    score = agent_json(tmp_path / "home", "score", "--as-of", "2026-12-31")
    assert sorted(p["rpps"] for p in score["practitioners"]) == sorted(["10303030303", RPPS])


def test_auto_presentable_document_reads_like_the_plain_one(tmp_path: Path):
    plain, wrapped = tmp_path / "plain.xml", tmp_path / "CR_autopresentable.xml"
    plain.write_bytes(cda(n3=True))
    wrapped.write_bytes(auto_presentable(cda(n3=True)))
    assert wrapped.read_bytes().startswith(b"<?xml") and b"<xsl:stylesheet" in wrapped.read_bytes()
    got = feed(CdaAdapter(), wrapped)
    assert not got.errors
    assert [e.model_dump() for e in got.events] == [e.model_dump() for e in feed(CdaAdapter(), plain).events]
    assert CdaAdapter().claims(wrapped.read_bytes())


def test_document_after_a_long_stylesheet_is_read_in_a_folder_and_in_an_xdm(tmp_path: Path):
    """The agent sniffs 64 KiB; a stylesheet still open there may hold its document further on."""
    wrapped = templates_first(cda("LATE", ts="20261130233000-0500"))
    assert wrapped.index(b"ClinicalDocument") > SNIFF_BYTES
    folder = tmp_path / "dmp"
    folder.mkdir()
    (folder / "CR_feuille_de_style.xml").write_bytes(wrapped)
    (folder / "envoi.zip").write_bytes(xdm({"DOC0001.XML": templates_first(cda("LATE-XDM"))}))
    (folder / "grande_feuille.xml").write_bytes(wrapped.replace(b"ClinicalDocument", b"Autre"))
    home = tmp_path / "home"
    report = agent_json(home, "scan", str(folder))
    assert (report["new"], report["quarantined"]) == (2, 1)  # the stylesheet holding no document: said
    score = agent_json(home, "score", "--year", "2026", "--as-of", "2026-12-31")
    assert [(p["rpps"], p["metrics"]["dmp_documents"]["numerator"]) for p in score["practitioners"]] == [(RPPS, 2)]
    (event,) = feed(CdaAdapter(), folder / "CR_feuille_de_style.xml").events
    assert (event.id, event.at.isoformat()) == ("1.2.250.1.213.4.1.2.9^LATE", "2026-12-01T05:30:00+01:00")


def test_stylesheet_without_clinical_document_is_rejected_in_french():
    sheet = b'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>'
    with pytest.raises(RecordError, match="ClinicalDocument absent"):
        parse(CdaAdapter(), sheet)


@pytest.mark.parametrize(
    ("code", "system", "doc_type"),
    [
        ("11488-4", "2.16.840.1.113883.6.1", "11488-4"),  # LOINC, the contract's default: bare
        ("SYNTH", "1.2.250.1.213.1.1.4.12", "1.2.250.1.213.1.1.4.12|SYNTH"),  # VSM's DMP type code
        ("REMB", "1.2.250.1.213.1.1.4.12", "1.2.250.1.213.1.1.4.12|REMB"),
    ],
)
def test_document_code_keeps_its_code_system(code: str, system: str, doc_type: str):
    (event,) = parse(CdaAdapter(), cda(loinc=code, code_system=system))
    assert event["doc_type"] == doc_type


@pytest.mark.parametrize(
    ("head", "claimed"),
    [
        (cda(), True),
        (auto_presentable(cda()), True),
        (b"<?xml version='1.0'?><ClinicalDocument><id/></ClinicalDocument>", True),  # no namespace: parse says why
        (BILLION_LAUGHS, True),  # hostile: claimed, so that it is quarantined with its reason
        (cda()[:300], True),  # truncated after the root: quarantined as invalid XML
        (metadata(["DOC0001.XML"]).encode(), False),
        (b"<?xml version='1.0'?><configuration><poste>1</poste></configuration>", False),
        (b'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>', False),
        (templates_first(cda())[:SNIFF_BYTES], True),  # still open: the document may come later
        (b"%PDF-1.4 not xml at all", False),
        (b"", False),
    ],
    ids=[
        "cda",
        "auto-presentable",
        "no-namespace",
        "dtd",
        "truncated",
        "metadata",
        "other-xml",
        "xsl",
        "xsl-cut-off",
        "pdf",
        "empty",
    ],
)
def test_only_cda_documents_are_claimed(head: bytes, claimed: bool):
    assert CdaAdapter().claims(head) is claimed


@given(st.binary(max_size=300))
def test_any_bytes_are_sniffed_or_rejected_without_crashing(data: bytes):
    assert is_cda(data) in (True, False)
    with contextlib.suppress(RecordError):
        parse_cda(data)


def test_unzipped_xdm_folder_is_read_as_one_submission(tmp_path: Path):
    """IHE_XDM/SUBSET01 unzipped in a watched folder: its documents are read once, its
    METADATA.XML and other XML are ignored (not quarantined), and the same submission zipped
    next to it adds nothing."""
    folder = tmp_path / "envoi"
    subset = folder / "IHE_XDM" / "SUBSET01"
    subset.mkdir(parents=True)
    documents = {"DOC0001.XML": cda("A"), "DOC0002.XML": cda("B", n3=True)}
    for name, content in documents.items():
        (subset / name).write_bytes(content)
    (subset / "METADATA.XML").write_text(metadata(list(documents)), encoding="utf-8")
    (folder / "INDEX.HTM").write_text("<html/>", encoding="utf-8")
    (folder / "parametres.xml").write_text("<?xml version='1.0'?><parametres/>", encoding="utf-8")
    home = tmp_path / "home"
    report = agent_json(home, "scan", str(folder))
    assert (report["new"], report["quarantined"], report["ignored"]) == (2, 0, 2)
    (tmp_path / "zip").mkdir()
    (tmp_path / "zip" / "envoi.zip").write_bytes(xdm(documents))
    again = agent_json(home, "scan", str(tmp_path / "zip"))
    assert (again["new"], again["known"], again["quarantined"]) == (0, 2, 0)


def test_xdm_reads_the_documents_metadata_lists_and_skips_other_xml():
    documents = {
        "DOC0001.XML": cda("A"),
        "DOC0002.XML": auto_presentable(cda("B")),
        "STYLE.XML": b"<?xml version='1.0'?><style/>",  # listed or not: not CDA, skipped
        "VUE.XML": b'<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><broken>',  # also skipped
        "DOC0003.XML": cda("C"),  # present but not listed: not part of the submission
    }
    listed = ["DOC0001.XML", "DOC0002.XML", "STYLE.XML", "VUE.XML"]
    ids = [e["id"] for e in parse(XdmAdapter(), xdm(documents, listed=listed))]
    assert ids == ["1.2.250.1.213.4.1.2.9^A", "1.2.250.1.213.4.1.2.9^B"]
    unlisted = [e["id"] for e in parse(XdmAdapter(), xdm(documents, listed=[]))]  # METADATA lists nothing
    assert sorted(unlisted) == ["1.2.250.1.213.4.1.2.9^A", "1.2.250.1.213.4.1.2.9^B", "1.2.250.1.213.4.1.2.9^C"]


@pytest.mark.parametrize("layout", ["envoi-42/IHE_XDM/SUBSET01/{}", "IHE_XDM\\SUBSET01\\{}", "ihe_xdm/subset01/{}"])
def test_xdm_tree_inside_a_folder_or_written_by_windows_tools(layout: str):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(layout.format("METADATA.XML"), metadata(["DOC0001.XML"]))
        archive.writestr(layout.format("DOC0001.XML"), cda("A"))
    assert [e["id"] for e in parse(XdmAdapter(), buffer.getvalue())] == ["1.2.250.1.213.4.1.2.9^A"]


def test_long_uri_split_in_numbered_values_is_joined():
    """ITI TF-3: a URI longer than a slot value is written as "1|first part", "2|second part"."""
    segmented = metadata(["2|0001.XML"]).replace(
        "<rim:Value>2|0001.XML</rim:Value>", "<rim:Value>2|0001.XML</rim:Value><rim:Value>1|DOC</rim:Value>"
    )
    assert listed_uris(segmented.encode()) == ["DOC0001.XML"]
    assert listed_uris(b"<not xml") == [] and listed_uris(BILLION_LAUGHS) == []


def test_xdm_without_cda_is_quarantined_with_a_french_reason(tmp_path: Path):
    folder = tmp_path / "mss"
    folder.mkdir()
    (folder / "envoi.zip").write_bytes(xdm({"DOC0001.PDF": b"%PDF-1.4", "STYLE.XML": b"<style/>"}))
    home = tmp_path / "home"
    report = agent_json(home, "scan", str(folder))
    assert (report["new"], report["quarantined"]) == (0, 1)
    status = run_agent(home, "status").stdout
    assert "sans document CDA" in status


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
    assert score["practitioners"][0]["metrics"]["dmp_documents"]["numerator"] == 3
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
