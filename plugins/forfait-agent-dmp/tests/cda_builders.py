"""Synthetic CDA R2 documents (test INS, fake RPPS) and XDM archives."""

from __future__ import annotations

import base64
import io
import zipfile

TEST_INS = "279035121518989"
RPPS = "10101010101"

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <id root="1.2.250.1.213.4.1.2.9" extension="{doc}"/>
  <code code="{loinc}" codeSystem="2.16.840.1.113883.6.1" displayName="Document"/>
  <title>Compte rendu</title>
  <effectiveTime value="{ts}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <setId root="1.2.250.1.213.4.1.2.9" extension="{doc}-set"/>
  <versionNumber value="1"/>
  <recordTarget>
    <patientRole>
      <id root="1.2.250.1.213.1.4.8" extension="{ins}"/>
      <patient>
        <name><given>Jeanne</given><family>TEST</family></name>
        <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="19790301"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="{ts}"/>
    <assignedAuthor>
      <id root="1.2.250.1.71.4.2.1" extension="8{rpps}"/>
      <assignedPerson><name><family>MARTIN</family></name></assignedPerson>
    </assignedAuthor>
  </author>
"""

N1_BODY = """  <component>
    <nonXMLBody>
      <text mediaType="application/pdf" representation="B64">{pdf}</text>
    </nonXMLBody>
  </component>
</ClinicalDocument>
"""

N3_BODY = """  <component>
    <structuredBody>
      <component>
        <section>
          <code code="29545-1" codeSystem="2.16.840.1.113883.6.1"/>
          <title>Examen physique</title>
          <text>Examen clinique sans particularité.</text>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
"""


def cda(
    doc: str = "DOC-0001",
    ts: str = "20260302101500+0100",
    loinc: str = "11488-4",
    n3: bool = False,
    rpps: str = RPPS,
    ins: str = TEST_INS,
) -> bytes:
    head = HEADER.format(doc=doc, ts=ts, loinc=loinc, rpps=rpps, ins=ins)
    body = N3_BODY if n3 else N1_BODY.format(pdf=base64.b64encode(b"%PDF-1.4 fake").decode())
    return (head + body).encode("utf-8")


def xdm(documents: dict[str, bytes], subset: str = "SUBSET01") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("INDEX.HTM", "<html/>")
        archive.writestr("README.TXT", "IHE XDM")
        archive.writestr(f"IHE_XDM/{subset}/METADATA.XML", "<SubmitObjectsRequest/>")
        for name, content in documents.items():
            archive.writestr(f"IHE_XDM/{subset}/{name}", content)
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE doc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>
"""
