"""CDA documents inside an IHE XDM zip, read within hard limits (zip bombs come by mail too).

Each submission set `IHE_XDM/<subset>/` has a `METADATA.XML` (ebRIM) whose `ExtrinsicObject`s
name their document with a `URI` slot: those are the documents read. A subset may also hold
files that are not CDA (a PDF, a stylesheet, another XML): they are skipped, never a reason to
reject the valid documents beside them.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from forfait_agent import RecordError

from .cda import is_cda

MAX_MEMBER_BYTES = 20 << 20  # one CDA document
MAX_TOTAL_BYTES = 100 << 20  # all documents of one archive
MAX_RATIO = 100  # uncompressed ÷ compressed beyond this is a bomb, not a document
MAX_MEMBERS = 1000
_SEGMENT = re.compile(r"^(\d+)\|")  # long URI slot values are split as "1|…", "2|…" (ITI TF-3 4.2.3.1.7)


def listed_uris(metadata: bytes) -> list[str]:
    """Document file names a METADATA.XML lists (URI slots of its ExtrinsicObjects); [] when it
    lists none or cannot be read — the caller then looks at every file of the subset."""
    try:
        root = fromstring(metadata, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError):
        return []
    uris = []
    for element in root.iter():
        if not element.tag.endswith("ExtrinsicObject"):
            continue
        for slot in element:
            if slot.tag.endswith("Slot") and slot.get("name") == "URI":
                values = [(v.text or "").strip() for v in slot.iter() if v.tag.endswith("Value")]
                if values and all(_SEGMENT.match(v) for v in values):
                    values = ["".join(v.split("|", 1)[1] for v in sorted(values, key=lambda v: int(v.split("|")[0])))]
                uris.extend(v for v in values[:1] if v)
    return uris


def _name(info: zipfile.ZipInfo) -> str:
    """Member name, upper-cased, with "/" even when a Windows tool wrote "\\"."""
    return info.filename.replace("\\", "/").upper()


def _subset(name: str) -> str | None:
    """ "…/IHE_XDM/<subset>/" when `name` is that subset's METADATA.XML (the archive may hold
    the XDM tree inside a top folder), else None."""
    parts = name.split("/")
    if len(parts) >= 3 and parts[-1] == "METADATA.XML" and parts[-3] == "IHE_XDM":
        return "/".join(parts[:-1]) + "/"
    return None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int) -> bytes:
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > MAX_MEMBER_BYTES or ratio > MAX_RATIO:
        raise RecordError(f"archive suspecte (bombe zip ?) : {info.filename} ({info.file_size} octets)")
    if total + info.file_size > MAX_TOTAL_BYTES:
        raise RecordError("archive suspecte : contenu total trop volumineux")
    with archive.open(info) as member:
        content = member.read(MAX_MEMBER_BYTES + 1)  # the header's size may lie
    if len(content) > MAX_MEMBER_BYTES:
        raise RecordError(f"archive suspecte : {info.filename} plus grand qu'annoncé")
    return content


def xdm_documents(data: bytes) -> list[tuple[str, bytes]]:
    """(member name, bytes) of each CDA document of each XDM submission set in the archive;
    RecordError, in French, when the archive holds none."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise RecordError(f"archive zip illisible : {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise RecordError(f"archive suspecte : {len(infos)} fichiers")
        by_name = {_name(i): i for i in infos if not i.is_dir()}
        subsets = {prefix: by_name[name] for name in by_name if (prefix := _subset(name))}
        if not subsets:
            raise RecordError("pas une archive IHE XDM (IHE_XDM/…/METADATA.XML absent)")
        total, documents, skipped = 0, [], 0
        for prefix, metadata_info in sorted(subsets.items()):
            metadata = _read(archive, metadata_info, total)
            total += len(metadata)
            listed = [
                by_name.get((prefix + uri.replace("\\", "/").lstrip("./")).upper()) for uri in listed_uris(metadata)
            ]
            members = [i for i in listed if i is not None] or [
                i for name, i in by_name.items() if name.startswith(prefix) and i is not metadata_info
            ]
            for info in members:
                content = _read(archive, info, total)
                total += len(content)
                # All of it: a stylesheet may hold its document after its templates.
                if is_cda(content, complete=True):
                    documents.append((info.filename, content))
                else:
                    skipped += 1
        if not documents:
            raise RecordError(
                f"archive IHE XDM sans document CDA ({skipped} autre(s) fichier(s)) : rien à compter pour le DMP"
            )
        return documents
