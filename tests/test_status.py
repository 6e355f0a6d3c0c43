"""`status` as a doctor reads it: one line per folder and per kind of problem, detail on request,
never a patient's name (per-document files are stored hashed and shown as « nom masqué »)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from forfait_agent.privacy import Gate, Hasher
from forfait_agent.status import DocumentFinder

from .conftest import cli, ev, write_jsonl

NIR = "279035121518989"  # the ANS test INS


def test_status_summarises_per_folder_and_details_on_request(home: Path, tmp_path: Path):
    journals, sent = tmp_path / "journaux", tmp_path / "envois"
    journals.mkdir()
    sent.mkdir()
    for month in range(1, 13):
        write_jsonl(journals / f"journal-{month:02d}.jsonl", [ev("consultation", f"c{month}")])
    write_jsonl(journals / "journal-03b.jsonl", [ev("consultation", "c-x"), "pas du JSON", '{"kind": "x"}'])
    named = write_jsonl(sent / f"CR_{NIR}.jsonl", [ev("consultation", "c-y"), "coupé net {"])
    os.utime(named, (1772442900, 1772442900))  # 2 March 2026, 10:15 in Paris
    cli(home, "scan", str(journals), str(sent), check=False)

    out = cli(home, "status", env={"COLUMNS": "200"}).stdout
    assert f"{journals} : 13 fichier(s) (jsonl)" in out and f"{sent} : 1 fichier(s) (jsonl)" in out
    assert "journal-01.jsonl" not in out  # not one line per file
    assert "status --fichiers" in out and "status --quarantaine" in out
    assert "2 × JSON invalide — adaptateur jsonl" not in out  # grouped per folder, not across folders
    assert f"1 × JSON invalide — adaptateur jsonl, dossier {journals}" in out
    assert f"1 × JSON invalide — adaptateur jsonl, dossier {sent}" in out
    assert "1 × type d'événement inconnu" in out and "mis à part le " in out

    detail = cli(home, "status", "--fichiers", env={"COLUMNS": "200"}).stdout
    assert str(journals / "journal-01.jsonl") in detail

    items = cli(home, "status", "--quarantaine", env={"COLUMNS": "300"}).stdout
    assert f"jsonl · {journals / 'journal-03b.jsonl'}, ligne 2 · JSON invalide" in items
    # Found again without its name: its size and modification time tell the doctor which one it is.
    size = named.stat().st_size
    shown = f"document au nom masqué ({size}\u202foctets, modifié le 02/03/2026 à 10:15) dans {sent}"
    assert f"jsonl · {shown}, ligne 2 · JSON invalide" in items
    assert NIR not in items and "h-" not in items

    data = json.loads(cli(home, "status", "--json").stdout)
    assert {f["folder"]: f["files"] for f in data["folders"]} == {str(journals): 13, str(sent): 1}
    assert sum(g["count"] for g in data["quarantine_groups"]) == 3


def test_status_commands_to_copy_are_whole_lines_at_60_columns(home: Path, tmp_path: Path):
    write_jsonl(tmp_path / "journal.jsonl", [ev("consultation", "c1"), "pas du JSON"])
    cli(home, "scan", str(tmp_path), check=False)
    lines = cli(home, "status", env={"COLUMNS": "60"}).stdout.splitlines()
    launcher = f"  {sys.executable} -m forfait_agent --data-dir {home} "
    commands = [line.removeprefix(launcher) for line in lines if line.startswith(launcher)]
    assert commands == ["status --fichiers", "status --quarantaine"]  # pasted, each runs as printed
    assert [line for line in lines if len(line) > 60 and not line.startswith(launcher)] == []
    items = cli(home, "status", "--quarantaine", env={"COLUMNS": "60"}).stdout
    assert "…" not in items and "journal.jsonl" in items  # a long path is folded, never cut


def test_text_is_printed_as_written_never_as_emoji(tmp_path: Path):
    home = tmp_path / "cabinet :rocket: :ok:"
    proc = cli(home, "status", env={"COLUMNS": "200"})
    assert f"Dossier des données : {home}" in proc.stdout and "\U0001f680" not in proc.stdout


def test_a_masked_document_is_found_even_when_its_hash_looks_like_a_nir(tmp_path: Path):
    """A hashed document name is stored through the privacy gate, which masks a NIR-shaped run of
    digits wherever it is — a salted hexadecimal digest may hold one (about once in a few hundred
    installations): the document must still be found on disk by its size and date."""
    folder = tmp_path / "envois"
    folder.mkdir()
    (folder / "CR_patient.xml").write_bytes(b"x" * 42)
    gate = Gate(Hasher(b"s" * 32))

    def hasher(name: str) -> str:
        return f"{NIR}0{'a' * 16}"  # a digest that happens to start with digits shaped like a NIR

    source = gate(str(folder / f"h-{hasher('CR_patient.xml')}"))
    assert NIR not in source  # what the store holds
    assert "42\u202foctets" in DocumentFinder(hasher, gate)(source)
