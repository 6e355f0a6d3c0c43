"""CDA documents inside an IHE XDM zip, read within hard limits (zip bombs come by mail too)."""

from __future__ import annotations

import io
import re
import zipfile

from forfait_agent import RecordError

MAX_MEMBER_BYTES = 20 << 20  # one CDA document
MAX_TOTAL_BYTES = 100 << 20  # all documents of one archive
MAX_RATIO = 100  # uncompressed ÷ compressed beyond this is a bomb, not a document
MAX_MEMBERS = 1000
_METADATA = re.compile(r"^IHE_XDM/([^/]+)/METADATA\.XML$", re.IGNORECASE)


def xdm_documents(data: bytes) -> list[tuple[str, bytes]]:
    """(member name, bytes) of each document of each XDM submission set in the archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise RecordError(f"archive zip illisible : {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise RecordError(f"archive suspecte : {len(infos)} fichiers")
        subsets = {m.group(1) for m in (_METADATA.match(i.filename) for i in infos) if m}
        if not subsets:
            raise RecordError("pas une archive IHE XDM (IHE_XDM/…/METADATA.XML absent)")
        members = [
            i
            for i in infos
            if not i.is_dir()
            and i.filename.upper().endswith(".XML")
            and not _METADATA.match(i.filename)
            and i.filename.split("/")[1:2]
            and i.filename.split("/")[1] in subsets
        ]
        total = 0
        documents = []
        for info in members:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MAX_MEMBER_BYTES or ratio > MAX_RATIO:
                raise RecordError(f"archive suspecte (bombe zip ?) : {info.filename} ({info.file_size} octets)")
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise RecordError("archive suspecte : contenu total trop volumineux")
            with archive.open(info) as member:
                content = member.read(MAX_MEMBER_BYTES + 1)  # the header's size may lie
            if len(content) > MAX_MEMBER_BYTES:
                raise RecordError(f"archive suspecte : {info.filename} plus grand qu'annoncé")
            documents.append((info.filename, content))
        return documents
