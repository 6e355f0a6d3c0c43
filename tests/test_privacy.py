"""No NIR, INS or patient address in clear, anywhere the agent writes."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import string
from collections.abc import Iterator
from pathlib import Path
from re import _constants as re_constants  # the standard library's own pattern parser
from re import _parser as re_parser
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from forfait_agent import privacy
from forfait_agent.privacy import (
    Gate,
    Hasher,
    RedactingStream,
    contains_patient_data,
    load_or_create_salt,
    redact,
)

from .conftest import RPPS_A, TEST_INS, cli, ev, write_jsonl

# Synthetic NIRs with valid keys, including the Corsican form; none belongs to a real person.
NIRS = [TEST_INS, "1850775123456", "2690299123456", "1840220012345"]


def _with_key(body: str) -> str:
    number = int(body.replace("2A", "19").replace("2B", "18"))
    return body + f"{97 - number % 97:02d}"


CORSICAN = _with_key("185022A123456")


def all_written_bytes(home: Path) -> bytes:
    data = b""
    for path in home.rglob("*"):
        if path.is_file():
            data += path.read_bytes()
    return data


def test_nothing_identifying_reaches_the_database_or_the_logs(home: Path, tmp_path: Path):
    events = []
    for i, nir in enumerate([*NIRS, CORSICAN]):
        events += [
            ev("consultation", f"c{i}", patient=nir),
            ev("mss_message", f"m{i}", patient=nir, recipient=f"{nir}@patient.mssante.fr"),
            ev("dmp_document", f"{nir}-doc", patient=f"{nir}^^^&1.2.250.1.213.1.4.8&ISO^NH"),
        ]
    bad = json.dumps(ev("teleconsultation", "x", patient=NIRS[1]))  # quarantined line holding a NIR
    path = write_jsonl(tmp_path / "e.jsonl", [*events, bad])
    report = json.loads(cli(home, "-v", "scan", "--json", str(path)).stdout)
    assert report["new"] == len(events) and report["quarantined"] == 1
    score = json.loads(cli(home, "score", "--json", "--as-of", "2026-12-31").stdout)
    written = all_written_bytes(home)
    assert (home / "logs" / "commandes.log").stat().st_size > 0
    for nir in [*NIRS, CORSICAN]:
        assert nir[:13].encode() not in written, nir
    # What is kept is "to a patient: yes" and the link to the consultation, by salted hash.
    metrics = score["practitioners"][0]["metrics"]
    assert metrics["mss_patient_messages"]["numerator"] == metrics["mss_patient"]["numerator"] == len(events) // 3
    assert b"@patient.mssante.fr" not in written


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_files_are_readable_by_the_user_only(home: Path, tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", [ev("consultation", "c1", patient=TEST_INS)])
    cli(home, "scan", str(path))
    for written in [p for p in home.rglob("*") if p.is_file()]:
        mode = stat.S_IMODE(written.stat().st_mode)
        assert mode & 0o077 == 0, f"{written} is {oct(mode)}"


def test_hash_is_stable_per_installation_and_differs_between_them(tmp_path: Path):
    a = Hasher(load_or_create_salt(tmp_path / "a"))
    a_again = Hasher(load_or_create_salt(tmp_path / "a"))
    b = Hasher(load_or_create_salt(tmp_path / "b"))
    assert a(TEST_INS) == a_again(TEST_INS)
    assert a(TEST_INS) != b(TEST_INS)
    assert TEST_INS not in a(TEST_INS)


def spellings(nir: str) -> list[str]:
    """Ways a NIR is written by people and software: grouped 1 2 2 2 3 3 2 with spaces, no-break
    spaces, dots or dashes (also the typographic ones a word processor substitutes); one digit
    per box of a form; without key; key apart; glued to more digits; Corsica in lower case."""
    groups = [nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]]
    return [
        nir,
        nir[:13],
        " ".join(groups),
        ".".join(groups),
        "-".join(groups),
        "\u00a0".join(groups),
        "\u2013".join(groups),  # en dash
        "\u2011".join(groups),  # non-breaking hyphen
        " ".join(nir),
        f"{nir[:13]} {nir[13:]}",
        f"{nir}00042",
        f"00042{nir}",
        nir.lower(),
    ]


SPELLINGS = sorted({s for nir in [*NIRS, CORSICAN] for s in spellings(nir)})


def compact(text: str) -> str:
    return re.sub(r"[ .\-\u00a0\u2011\u2013]", "", text).upper()


def body(spelling: str) -> str:
    """The 13 characters that make a NIR, whatever the spelling."""
    digits = compact(spelling)
    return next(digits[i : i + 13] for nir in [*NIRS, CORSICAN] if (i := digits.find(nir[:13])) >= 0)


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize(
    "template",
    ["{}", "INS {} ;", "id=CR-{}-001", "/exports/{}/journal.jsonl", "{}@patient.mssante.fr", "<x>{}</x>", "nir:{}"],
)
def test_every_spelling_is_masked_in_text_and_in_the_store(spelling: str, template: str):
    text = template.format(spelling)
    gate = Gate(Hasher(b"s" * 32))
    assert contains_patient_data(text)
    for masked in (redact(text), gate(text)):
        assert body(spelling) not in compact(masked)
        assert not contains_patient_data(masked)
    assert gate(gate(text)) == gate(text)  # a value read back from the store and written again is unchanged


def test_patient_address_is_masked_whatever_its_local_part_and_comment():
    text = f'"Mme Test" <{TEST_INS}@Patient.MSSante.fr> (INS {TEST_INS}), confrere@cabinet.mssante.fr'
    assert redact(text) == '"Mme Test" <[masqué]@Patient.MSSante.fr> (INS [masqué]), confrere@cabinet.mssante.fr'
    assert redact("jean.test@patient.mssante.fr") == "[masqué]@patient.mssante.fr"


@pytest.mark.parametrize(
    "text",
    [
        f"practitioner={RPPS_A} at=2026-03-02T10:00:00.123456+01:00 id=F123456789",
        f"FSE 234567891 {RPPS_A} 8{RPPS_A}",  # numbers written one after the other are not one number
        "journal-20261124-051739.jsonl",
        "2026-11-24 05:17:39",
        '{"rate": 1.0526315789473684, "projected_rate": 0.9860627177700348}',  # score --json
        "01 23 45 67 89",
        "2 940 € (entre 1 680 € et 2 940 €)",
        "20260101000000",  # order number 000 does not exist
        "279 035 121 518 989",  # grouped by three: not a NIR spelling (documented choice)
        "[1,2,3,4,5,6,7,8,9,10,11,12,13,14]",
        "[261, 0.051853, 1070867289, 221, 142, 995, 940725539, 640, 0.41491, 0.8, 0.8185180746470708]",
        " 22606  43822       98.0     10333    80842    39671  35481     57811",  # numbers in columns
        "154/796 884/277 68/18 750/980",
        "du 01/02/2026 au 28/02/2026",
    ],
)
def test_what_is_not_a_nir_is_left_alone(text: str):
    assert not contains_patient_data(text)
    assert redact(text) == text


def test_ids_holding_a_nir_stay_distinct_stable_keys():
    gate = Gate(Hasher(b"s" * 32))
    ids = [f"CR-{s}" for s in SPELLINGS]
    assert len({gate(i) for i in ids}) == len(ids)
    assert [gate(i) for i in ids] == [Gate(Hasher(b"s" * 32))(i) for i in ids]
    assert gate(ids[0]) != Gate(Hasher(b"t" * 32))(ids[0])  # salted per installation


@given(
    nir_index=st.integers(0, len(NIRS)),
    separator=st.sampled_from(["", " ", ".", "-", "\u00a0", "_"]),
    before=st.text(alphabet=string.ascii_letters + string.digits + " .-_/:@<>()", max_size=30),
    after=st.text(alphabet=string.ascii_letters + string.digits + " .-_/:@<>()", max_size=30),
    keep_key=st.booleans(),
)
def test_a_nir_anywhere_in_any_text_never_survives(nir_index, separator, before, after, keep_key):
    nir = [*NIRS, CORSICAN][nir_index]
    nir = nir if keep_key else nir[:13]
    groups = [nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]]
    text = before + separator.join(g for g in groups if g) + after
    tokens = [m.group() for m in privacy._TOKEN.finditer(text) if m.start() <= len(before) < m.end()]
    assume(not re.fullmatch(r"[0-9]+\.[0-9]+", tokens[0]))  # "0.2790351215189" is a decimal number (documented)
    for masked in (redact(text), Gate(Hasher(b"s" * 32))(text)):
        assert nir[:13] not in re.sub(r"[ .\-\u00a0_]", "", masked).upper()


def _unbounded_repeats(tree: Any) -> Iterator[str]:
    """Greedy or lazy repeats without an upper bound in a parsed pattern (possessive ones are
    fine: they never backtrack)."""
    for op, arg in tree:
        if op in (re_constants.MAX_REPEAT, re_constants.MIN_REPEAT):
            if arg[1] == re_constants.MAXREPEAT:
                yield str(op)
            yield from _unbounded_repeats(arg[2])
        elif op is re_constants.POSSESSIVE_REPEAT:
            yield from _unbounded_repeats(arg[2])
        elif op is re_constants.SUBPATTERN:
            yield from _unbounded_repeats(arg[3])
        elif op is re_constants.BRANCH:
            for branch in arg[1]:
                yield from _unbounded_repeats(branch)


def test_privacy_patterns_cannot_backtrack():
    """Linear time by construction: every unbounded repeat is possessive and everything else has
    a fixed width. (The old patient-address pattern took 8 s for 40 KB and grew with the square.)"""
    patterns = [p for p in vars(privacy).values() if isinstance(p, re.Pattern)]
    assert len(patterns) >= 5
    for pattern in patterns:
        assert list(_unbounded_repeats(re_parser.parse(pattern.pattern, pattern.flags))) == [], pattern.pattern


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 1_000_000,  # the quadratic case: one huge local-part-like run without @
        "a" * 1_000_000 + "@patient.mssante.fr",
        "x@" * 300_000,
        "1 " * 300_000,
        "2A" * 300_000,
        ("2 79 03 51 215 189 " * 50_000),
        "9" * 1_000_000,
    ],
    ids=["letters", "huge-local-part", "many-at", "spaced-digits", "corsica", "almost-nirs", "digits"],
)
def test_a_megabyte_of_hostile_text_is_masked_in_one_pass(hostile: str):
    masked = redact(hostile)  # runs in well under a second (bench/redaction.py); this hung before
    assert not contains_patient_data(masked)


def test_printed_text_is_masked_even_when_written_in_pieces():
    out = io.StringIO()
    stream = RedactingStream(out)
    for piece in ["Dossier /exports/2 79 03 ", "51 215 189 89/journal", ".jsonl\n", "suite 2790", "35121518989"]:
        stream.write(piece)
    assert "279" not in out.getvalue()  # held until the line ends
    stream.flush()
    assert out.getvalue() == "Dossier /exports/[masqué]/journal.jsonl\nsuite [masqué]"


def test_quarantine_messages_quoting_a_nir_are_redacted(home: Path, tmp_path: Path):
    from forfait_agent import Adapter, RecordError
    from forfait_agent.app import App

    class Quoting(Adapter):
        name = "quoting"
        patterns = ("*.q",)

        def parse(self, record):
            raise RecordError(f"colonne « Date » : valeur « {record.text} » inattendue")

    (tmp_path / "x.q").write_text(f"{NIRS[1]}\n", encoding="utf-8")
    app = App(home)
    app.ingestor.adapters["quoting"] = Quoting()
    report = app.ingestor.scan([tmp_path / "x.q"], context=app.settings.context())
    message = app.store.quarantine_items(1)[0][-1]
    app.close()
    assert report.total("quarantined") == 1 and "[masqué]" in message
    assert NIRS[1].encode() not in all_written_bytes(home)


def test_file_named_after_a_patient_is_stored_under_a_hashed_name(home: Path, tmp_path: Path):
    folder = tmp_path / "envois"
    folder.mkdir()
    named = folder / f"CR_{NIRS[2]}.jsonl"
    write_jsonl(named, [ev("consultation", "c1"), "not json"])
    first = json.loads(cli(home, "scan", "--json", str(folder)).stdout)
    again = json.loads(cli(home, "scan", "--json", str(folder)).stdout)
    assert (first["new"], first["quarantined"], again["records"]) == (1, 1, 0)  # positions still work
    assert NIRS[2].encode() not in all_written_bytes(home)


def test_quarantine_keeps_only_what_cannot_identify_a_patient():
    from forfait_agent.ingest import kept_raw

    line = json.dumps({"kind": "teleconsultation", "id": "x1", "patient": "Jeanne Test", "nom": "TEST"})
    assert kept_raw(line) == json.dumps({"kind": "teleconsultation", "id": "x1"})
    assert kept_raw('{"kind": "consultation", "id": "Dupont Jean, né le 01/03/1979"') is None  # not JSON
    assert kept_raw(json.dumps({"kind": "x", "id": NIRS[1]})) is None


def test_digests_and_inode_numbers_the_store_computes_are_kept_exactly(tmp_path: Path):
    """Digits the program computed (a content digest, a 64-bit inode) are not a NIR: masking one
    made a fully read file look replaced after a restart."""
    from forfait_agent.store import FilePosition, Store

    digest = "2790351215189" + "0f" * 25  # a hexadecimal digest that happens to start NIR-shaped
    store = Store(tmp_path)
    with store.transaction():
        store.save_position(FilePosition(0, "/f", "jsonl", 2**64 - 2, 18501010101010101, 10, digest, 5, 1, 10))
    (stored,) = store.positions()
    store.close()
    assert (stored.fp_hash, stored.inode) == (digest, 18501010101010101)


row_value = st.one_of(
    st.none(),
    st.integers(),
    st.sampled_from(SPELLINGS),
    st.builds(
        lambda a, nir, b: a + nir + b,
        st.text("abc -.", max_size=4),
        st.sampled_from(SPELLINGS),
        st.text("xyz -.", max_size=4),
    ),
    st.text(alphabet=string.digits + " .-_/:@abAB\n", max_size=40),
    st.sampled_from(["279035121518989@patient.mssante.fr", "x@patient.MSSANTE.fr (INS)", "dr@cabinet.mssante.fr"]),
)


@given(rows=st.lists(st.lists(row_value, min_size=1, max_size=4), max_size=12))
def test_a_batch_is_scanned_once_with_the_rows_each_value_would_flag(rows: list[list[Any]]):
    """The store's batch path (one scan of every value joined) flags exactly the rows in which a
    value, scanned alone, holds patient data: no row escapes the gate, none is cleaned for nothing."""
    alone = {
        i for i, row in enumerate(rows) if any(v.__class__ is str and privacy.contains_patient_data(v) for v in row)
    }
    assert privacy._rows_with_patient_data(rows) == alone
