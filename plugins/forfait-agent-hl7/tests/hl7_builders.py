"""Synthetic messages in the shape of the ANS CI-SIS « Transmission de documents CDA en HL7v2 »
examples (v2.1): test INS, invented RPPS and addresses. Written for these tests."""

from __future__ import annotations

import base64

TEST_INS = "279035121518989"
RPPS = "10101010101"
PATIENT_ADDRESS = f"{TEST_INS}@patient.mssante.fr"
CONFRERE = "cardio@chu-exemple.mssante.fr"

CDA = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="1.2.250.1.213.4.1.2.9" extension="{doc}"/>
  <code code="11488-4" codeSystem="2.16.840.1.113883.6.1" displayName="Compte rendu de consultation"/>
  <effectiveTime value="20260302101500+0100"/>
  <recordTarget><patientRole>
    <id root="1.2.250.1.213.1.4.10" extension="{ins}"/>
    <patient><name><given>Jeanne</given><family>TEST</family></name><birthTime value="19790301"/></patient>
  </patientRole></recordTarget>
  <author><time value="20260302101500+0100"/><assignedAuthor>
    <id root="1.2.250.1.71.4.2.1" extension="{author}"/>
    <assignedPerson><name><family>MARTIN</family></name></assignedPerson>
  </assignedAuthor></author>
  <component><nonXMLBody><text mediaType="text/plain" representation="B64">Q1I=</text></nonXMLBody></component>
</ClinicalDocument>
"""


def cda(doc: str = "DOC-0001", ins: str = TEST_INS, author: str = "8" + RPPS) -> bytes:
    return CDA.format(doc=doc, ins=ins, author=author).encode("utf-8")


def flag(rank: int, code: str, value: str) -> str:
    return f"OBX|{rank}|CWE|{code}^{code}^MetaDMPMSS||{value}^^expandedYes-NoIndicator||||||F|"


def message(
    kind: str = "MDM^T02^MDM_T02",
    order: str = "NW",
    document: bytes | None = None,
    recipients: tuple[str, ...] = (CONFRERE, PATIENT_ADDRESS),
    dmp: str | None = "Y",
    ps: str | None = "Y",
    patient: str | None = "Y",
    sent: str = "20260302103000",
    control: str = "MSG0001",
    sep: str = "\r",
) -> str:
    """One message, segments joined by `sep` (CR by the standard)."""
    payload = base64.b64encode(document if document is not None else cda()).decode("ascii")
    segments = [
        f"MSH|^~\\&|LGC-EXEMPLE|CABINET|PFI|CABINET|{sent}||{kind}|{control}|P|2.6|||||FRA|UNICODE UTF-8|||"
        "2.1^CISIS_CDA_HL7_V2",
        f"EVN||{sent}",
        f"PID|||{TEST_INS}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||TEST^JEANNE^^^^^L||19790301|F",
        "PV1|1|O",
        f"ORC|{order}|",
        "OBR|1|||11488-4^Compte rendu de consultation^LN|",
        f"TXA|1|11488-4|TEXT|{sent}||||||||1.2.250.1.213.4.1.2.9.DOC-0001|||||AU|||||8{RPPS}",
        f"OBX|1|ED|11488-4^Compte rendu de consultation^LN||^text^XML^Base64^{payload}||||||F|",
        f"PRT||UC||SB^^participation|8{RPPS}^MARTIN^Paul^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"
        "||||||||||^NET^X.400^dr.martin@cabinet-martin.mssante.fr",
    ]
    for address in recipients:
        segments.append(f"PRT||UC||RCT^^participation|||||||||||^NET^X.400^{address}")
    for rank, (code, value) in enumerate(
        (("DESTDMP", dmp), ("DESTMSSANTEPS", ps), ("DESTMSSANTEPAT", patient)), start=2
    ):
        if value is not None:
            segments.append(flag(rank, code, value))
    return sep.join(segments) + sep


def mllp(*messages: str) -> bytes:
    """Messages as an interface engine logs them: VT message FS CR."""
    return b"".join(b"\x0b" + m.encode("utf-8") + b"\x1c\r" for m in messages)
