"""Builders for realistic sent messages: MIME, several recipients, an IHE XDM attachment."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

TEST_INS = "279035121518989"
SENDER = "dr.martin@cabinet-martin.mssante.fr"


def xdm_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("INDEX.HTM", "<html>index</html>")
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", "<SubmitObjectsRequest/>")
        archive.writestr("IHE_XDM/SUBSET01/DOC0001.XML", "<ClinicalDocument/>")
    return buffer.getvalue()


def message(
    message_id: str | None = "<msg-1@cabinet-martin.mssante.fr>",
    to=None,
    cc=None,
    date: str = "Mon, 02 Mar 2026 10:15:00 +0100",
    xdm: bool = True,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Dr Martin <{SENDER}>"
    msg["To"] = ", ".join(to if to is not None else [f"{TEST_INS}@patient.mssante.fr"])
    if cc:
        msg["Cc"] = ", ".join(cc)
    if message_id:
        msg["Message-ID"] = message_id
    msg["Subject"] = "Compte rendu de consultation"
    msg["X-MSS-MES"] = "FIN"
    msg.set_content("Bonjour, veuillez trouver votre compte rendu. Confrères.")
    if xdm:
        msg.add_attachment(xdm_zip(), maintype="application", subtype="zip", filename="IHE_XDM.ZIP")
    # Date is written verbatim: EmailMessage would rewrite a zone after a comment as -0000.
    return (f"Date: {date}\n".encode() if date else b"") + msg.as_bytes()
