"""Synthetic CDA R2 documents (test INS, fake RPPS) and XDM archives."""

from __future__ import annotations

import base64
import io
import re
import zipfile

TEST_INS = "279035121518989"
RPPS = "10101010101"

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <id root="1.2.250.1.213.4.1.2.9" extension="{doc}"/>
  <code code="{loinc}" codeSystem="{code_system}" displayName="Document"/>
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
{authors}{legal}"""

PERSON_AUTHOR = """  <author>
    <time value="20260302101500+0100"/>
    <assignedAuthor>
      <id root="1.2.250.1.71.4.2.1" extension="8{rpps}"/>
      <assignedPerson><name><family>MARTIN</family></name></assignedPerson>
    </assignedAuthor>
  </author>
"""

# The LGC itself as first author: ANS's guides give it a structure/system id under the RPPS OID.
DEVICE_AUTHOR = """  <author>
    <time value="20260302101500+0100"/>
    <assignedAuthor>
      <id root="1.2.250.1.71.4.2.1" extension="{device_id}"/>
      <assignedAuthoringDevice>
        <manufacturerModelName>LGC Exemple</manufacturerModelName>
        <softwareName>LGC Exemple 12.3</softwareName>
      </assignedAuthoringDevice>
      <representedOrganization>
        <id root="1.2.250.1.71.4.2.2" extension="3750000001"/>
        <name>Cabinet Martin</name>
      </representedOrganization>
    </assignedAuthor>
  </author>
"""

# A structure as author: "3" + FINESS under the same OID, with no person.
STRUCTURE_AUTHOR = """  <author>
    <time value="20260302101500+0100"/>
    <assignedAuthor>
      <id root="1.2.250.1.71.4.2.1" extension="3750000001"/>
      <representedOrganization><name>Centre de santé</name></representedOrganization>
    </assignedAuthor>
  </author>
"""

LEGAL_AUTHENTICATOR = """  <legalAuthenticator>
    <time value="20260302101500+0100"/>
    <signatureCode code="S"/>
    <assignedEntity>
      <id root="1.2.250.1.71.4.2.1" extension="8{rpps}"/>
      <assignedPerson><name><family>MARTIN</family></name></assignedPerson>
    </assignedEntity>
  </legalAuthenticator>
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
    code_system: str = "2.16.840.1.113883.6.1",
    authors: tuple[str, ...] = ("person",),
    legal: bool = False,
    device_id: str = "3750000001/LGC",
) -> bytes:
    """A CDA R2 document; `authors` in order among "person", "device", "structure"."""
    blocks = {"person": PERSON_AUTHOR, "device": DEVICE_AUTHOR, "structure": STRUCTURE_AUTHOR}
    head = HEADER.format(
        doc=doc,
        ts=ts,
        loinc=loinc,
        ins=ins,
        code_system=code_system,
        authors="".join(blocks[a].format(rpps=rpps, device_id=device_id) for a in authors),
        legal=LEGAL_AUTHENTICATOR.format(rpps=rpps) if legal else "",
    )
    body = N3_BODY if n3 else N1_BODY.format(pdf=base64.b64encode(b"%PDF-1.4 fake").decode())
    return (head + body).encode("utf-8")


def auto_presentable(document: bytes) -> bytes:
    """The document wrapped as ANS publishes "auto-présentable" CDA: an XSL stylesheet that
    holds the ClinicalDocument (prefixed `c:`) under `data:Contenu`, then its templates."""
    inner = document.decode("utf-8").split("?>", 1)[1]
    inner = inner.replace(
        '<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">', ""
    )
    inner = inner.replace("</ClinicalDocument>", "")
    prefixed = re.sub(r"<(/?)([A-Za-z]+)", r"<\1c:\2", inner)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- Document autoprésentable : il porte sa propre feuille de style -->\n"
        '<?xml-stylesheet type="text/xsl" href="#"?>\n'
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"\n'
        '    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:data="urn:asip-sante:ci-sis"\n'
        '    xmlns:c="urn:hl7-org:v3">\n'
        f"  <data:Contenu>\n  <c:ClinicalDocument>{prefixed}</c:ClinicalDocument>\n  </data:Contenu>\n"
        '  <xsl:template match="/"><html><body><xsl:value-of select="//c:title"/></body></html></xsl:template>\n'
        "</xsl:stylesheet>\n"
    ).encode()


STABLE_DOCUMENT = "7edca82f-054d-47f2-a032-9b2a5b5186c1"  # XDS objectType of a stable document entry


def metadata(uris: list[str]) -> str:
    """An ebRIM METADATA.XML listing documents by their URI slot, as IHE XDM writes it."""
    objects = "".join(
        f'<rim:ExtrinsicObject id="Document{n:02d}" mimeType="text/xml" objectType="urn:uuid:{STABLE_DOCUMENT}">'
        f'<rim:Slot name="URI"><rim:ValueList><rim:Value>{uri}</rim:Value></rim:ValueList></rim:Slot>'
        "</rim:ExtrinsicObject>"
        for n, uri in enumerate(uris, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"'
        ' xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:RegistryObjectList>'
        f"{objects}</rim:RegistryObjectList></lcm:SubmitObjectsRequest>"
    )


def templates_first(document: bytes) -> bytes:
    """A stylesheet whose templates (beyond the first 64 KiB the agent sniffs) come before the
    ClinicalDocument it holds: another vendor's way of writing an auto-présentable document."""
    inner = document.decode("utf-8").split("?>", 1)[1]
    templates = "".join(f'<xsl:template name="rubrique-{i}"><p>Rubrique {i}</p></xsl:template>\n' for i in range(1500))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:lgc="urn:lgc:doc">\n'
        f"{templates}<lgc:document>{inner}</lgc:document>\n</xsl:stylesheet>\n"
    ).encode()


def xdm(documents: dict[str, bytes], subset: str = "SUBSET01", listed: list[str] | None = None) -> bytes:
    """An XDM zip; METADATA.XML lists `listed` (default: every document)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("INDEX.HTM", "<html/>")
        archive.writestr("README.TXT", "IHE XDM")
        archive.writestr(f"IHE_XDM/{subset}/METADATA.XML", metadata(list(documents) if listed is None else listed))
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
