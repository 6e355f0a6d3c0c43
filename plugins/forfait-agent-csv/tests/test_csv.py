"""The CSV plugin on realistic journals written by the tests (synthetic patients only)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from forfait_agent_csv import CsvAdapter, ProfileError, load_profile
from forfait_agent_csv.profile import builtin_profiles_dir, parse_profile
from hypothesis import given, settings
from hypothesis import strategies as st

from forfait_agent import Record, RecordError, SourceContext
from forfait_agent.testing import AdapterContract, agent_json, assert_events, feed

TEST_INS = "279035121518989"
PROFILES = builtin_profiles_dir()
FSE_HEADER = "Date;Heure;N° FSE;N° lot;RPPS;Mode de lecture;Statut;Montant;NIR"
FSE_ROWS = [
    f"02/03/2026;10:15;000123456;0042;10101010101;Carte Vitale;Télétransmise;26,50;{TEST_INS}",
    f"02/03/2026;10:40;000123457;0042;10101010101;Appli CV;Acquittée;30,00;{TEST_INS}",
    "02/03/2026;11:05;000123458;;10101010101;Papier;Non transmise;26,50;",
    "03/03/2026;09:00;000123459;0043;10202020202;Dégradé;En attente;26,50;185077512345612",
]


def write(path: Path, lines: list[str], encoding: str = "cp1252", bom: bool = False) -> Path:
    data = "\r\n".join(lines).encode(encoding) + b"\r\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


@pytest.fixture
def fse_journal(tmp_path: Path) -> Path:
    return write(tmp_path / "journal_fse_2026-03.csv", [FSE_HEADER, *FSE_ROWS])


def fse_adapter() -> CsvAdapter:
    return CsvAdapter(load_profile(PROFILES / "journal-fse.toml"))


def test_fse_journal_maps_reading_mode_status_and_paper_forms(fse_journal: Path):
    fed = feed(fse_adapter(), fse_journal)
    assert not fed.errors
    assert_events(
        fed.events,
        [
            {
                "kind": "fse",
                "id": "000123456",
                "at": "2026-03-02T10:15",
                "vitale": "carte",
                "transmitted": True,
                "practitioner": "10101010101",
                "patient": TEST_INS,
            },
            {"kind": "fse", "id": "000123457", "vitale": "apcv", "transmitted": True},
            {"kind": "fsp", "id": "000123458", "at": "2026-03-02T11:05", "patient": None},
            {
                "kind": "fse",
                "id": "000123459",
                "vitale": "sans_vitale",
                "transmitted": False,
                "practitioner": "10202020202",
            },
        ],
    )


def test_unexpected_value_names_line_column_and_value(tmp_path: Path):
    path = write(tmp_path / "journal_fse_x.csv", [FSE_HEADER, FSE_ROWS[0].replace("Carte Vitale", "Lecteur NFC")])
    fed = feed(fse_adapter(), path)
    ((record, error),) = fed.errors
    assert record.line_no == 2
    assert isinstance(error, RecordError)
    assert "« Mode de lecture »" in str(error) and "« Lecteur NFC »" in str(error)


def test_missing_column_in_header_is_reported(tmp_path: Path):
    path = write(tmp_path / "journal_fse_y.csv", [FSE_HEADER.replace(";Statut", ";État"), FSE_ROWS[0]])
    fed = feed(fse_adapter(), path)
    assert "Statut" in str(fed.errors[0][1]) and fed.errors[0][0].line_no == 1


def test_header_is_found_again_after_a_restart(fse_journal: Path):
    """The agent resumes mid-file: the adapter never saw line 1 in this process."""
    adapter = fse_adapter()
    text = fse_journal.read_bytes().decode("cp1252").splitlines()[2]
    events = adapter.parse(Record(path=fse_journal, offset=200, line_no=3, text=text))
    assert events[0]["id"] == "000123457"


def test_prescriptions_tsv_attributes_by_lgc_login(tmp_path: Path):
    adapter = CsvAdapter(load_profile(PROFILES / "prescriptions.toml"))
    path = write(
        tmp_path / "prescriptions-2026.tsv",
        [
            "Date\tUtilisateur\tN° ordonnance\tType\tPatient",
            f"02/03/2026 10:20\tDrMartin\tORD-1\tOrdonnance numérique\t{TEST_INS}",
            "02/03/2026 10:40\tremplacant\tORD-2\tPapier\t",
        ],
        encoding="utf-8",
        bom=True,
    )
    context = SourceContext(default_practitioner="10303030303", identities={"drmartin": "10101010101"})
    fed = feed(adapter, path, context)
    assert_events(
        fed.events,
        [
            {"kind": "prescription", "id": "ORD-1", "electronic": True, "practitioner": "10101010101"},
            {"kind": "prescription", "id": "ORD-2", "electronic": False, "practitioner": "10303030303"},
        ],
    )


def test_rows_without_number_get_a_stable_id_free_of_patient_data(tmp_path: Path):
    profile = parse_profile(
        """
name = "consult"
description = "Consultations"
patterns = ["consult*.csv"]
[fields.kind]
value = "consultation"
[fields.at]
column = "Date"
[fields.patient]
column = "NIR"
""",
        "consult.toml",
    )
    adapter = CsvAdapter(profile)
    a = write(tmp_path / "consult-a.csv", ["Date;NIR;Acte", f"02/03/2026 10:00;{TEST_INS};G"])
    b = write(tmp_path / "consult-b.csv", ["NIR;Date;Acte", f"{TEST_INS};02/03/2026 10:00;G"])
    ids_a = [e.id for e in feed(adapter, a).events]
    assert ids_a == [e.id for e in feed(adapter, a).events]
    assert ids_a == [e.id for e in feed(adapter, b).events]  # same row, other column order
    assert TEST_INS not in ids_a[0] and ids_a[0].startswith("consult:")


def test_a_regime_column_keeps_other_regimes_out_of_the_rate(tmp_path: Path):
    text = (PROFILES / "teleservices.toml").read_text(encoding="utf-8")
    text = text.replace("# [fields.regime_general]", "[fields.regime_general]")
    for line in ('column = "Régime"', 'values = { "Régime général" = true, "RG" = true }', "default = false"):
        text = text.replace(f"# {line}", line)
    adapter = CsvAdapter(parse_profile(text, "teleservices.toml"))
    path = write(
        tmp_path / "teleservices-r.csv",
        [
            "Date;RPPS;Téléservice;Mode;Référence;Régime",
            "02/03/2026 11:02;10101010101;AAT;En ligne;A1;Régime général",
            "02/03/2026 11:05;10101010101;AAT;Papier;A2;MGEN section locale",
            "02/03/2026 11:07;10101010101;AAT;Papier;A3;rg",
        ],
    )
    assert [(e.id, e.regime_general) for e in feed(adapter, path).events] == [
        ("A1", True),
        ("A2", False),
        ("A3", True),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\ndescription = "d"\npatterns = ["*.csv"]\n[fields.at]\ncolumn = "D"\n', "fields.kind"),
        ('name = "X Y"\ndescription = "d"\npatterns = ["*.csv"]\n', "name"),
        (
            'name = "x"\ndescription = "d"\npatterns = ["*.csv"]\nencoding = "klingon"\n'
            '[fields.kind]\nvalue = "fse"\n[fields.at]\ncolumn = "D"\n',
            "klingon",
        ),
        (
            'name = "x"\ndescription = "d"\npatterns = ["*.csv"]\n[fields.kind]\nvalue = "fse"\ncolumn = "K"\n'
            '[fields.at]\ncolumn = "D"\n',
            "exactly one",
        ),
    ],
)
def test_invalid_profiles_are_explained(text: str, message: str):
    with pytest.raises(ProfileError) as info:
        parse_profile(text, "p.toml")
    assert "p.toml" in str(info.value) and message in str(info.value)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "forfait_agent_csv", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )


def test_check_profile_shows_events_with_patient_masked(fse_journal: Path):
    proc = _cli("check-profile", str(PROFILES / "journal-fse.toml"), str(fse_journal))
    assert proc.returncode == 0, proc.stderr
    assert "ligne 2 :" in proc.stdout and '"vitale": "carte"' in proc.stdout
    assert TEST_INS not in proc.stdout and "[masqué]" in proc.stdout
    assert "4 événement(s), 0 ligne(s) en erreur" in proc.stdout


def test_check_profile_shows_the_precise_error(tmp_path: Path):
    path = write(tmp_path / "j.csv", [FSE_HEADER, FSE_ROWS[0].replace("02/03/2026;10:15", "2026-03-02;10h15")])
    proc = _cli("check-profile", str(PROFILES / "journal-fse.toml"), str(path))
    assert proc.returncode == 2
    assert "ligne 2 : ERREUR" in proc.stdout and "2026-03-02 10h15" in proc.stdout


def test_agent_ingests_through_the_installed_entry_point(tmp_path: Path, fse_journal: Path):
    home = tmp_path / "home"
    names = {a["name"] for p in agent_json(home, "plugins") for a in p["adapters"]}
    assert {"csv-journal-fse", "csv-prescriptions", "csv-teleservices"} <= names
    report = agent_json(home, "scan", str(fse_journal))
    assert (report["new"], report["quarantined"]) == (4, 0)
    score = agent_json(home, "score", "--as-of", "2026-12-31")
    a = next(p for p in score["practitioners"] if p["rpps"] == "10101010101")
    assert a["metrics"]["teletransmission"] == {
        "numerator": 2,
        "denominator": 3,
        "rate": 2 / 3,
        "projected_rate": 2 / 3,
    }
    assert TEST_INS.encode() not in (home / "forfait-agent.sqlite3").read_bytes()


def test_user_profile_folder_adds_an_adapter(tmp_path: Path):
    from forfait_agent_csv.plugin import forfait_agent_adapters

    folder = tmp_path / "csv-profiles"
    folder.mkdir()
    (folder / "mine.toml").write_text(
        'name = "mine"\ndescription = "d"\npatterns = ["mine*.csv"]\n[fields.kind]\nvalue = "consultation"\n'
        '[fields.at]\ncolumn = "Date"\n',
        encoding="utf-8",
    )
    names = [a.name for a in forfait_agent_adapters(data_dir=tmp_path, options={"examples": False})]
    assert names == ["csv-mine"]


class TestJournalFseContract(AdapterContract):
    adapter = fse_adapter()
    sample = Path(__file__).parent / "samples" / "journal_fse_2026-03.csv"
    expected_count = 4


class TestTeleservicesContract(AdapterContract):
    adapter = CsvAdapter(load_profile(PROFILES / "teleservices.toml"))
    sample = Path(__file__).parent / "samples" / "teleservices-2026.csv"
    expected_count = 6


class TestPrescriptionsContract(AdapterContract):
    adapter = CsvAdapter(load_profile(PROFILES / "prescriptions.toml"))
    sample = Path(__file__).parent / "samples" / "prescriptions-2026-03.tsv"
    context = SourceContext(identities={"drmartin": "10101010101", "drbernard": "10202020202"})
    expected_count = 3


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=';"\t,ab 1\r\n\0é', max_size=30), separator=st.sampled_from([";", "\t", ","]))
def test_a_line_is_split_as_the_csv_module_splits_it(text: str, separator: str):
    """The split without the csv module (lines with no quote) gives the csv module's cells, and
    a line the csv module refuses is refused."""
    adapter = fse_adapter()
    adapter.profile = adapter.profile.model_copy(update={"separator": separator})
    try:
        expected: list[str] | None = next(csv.reader([text], delimiter=separator, quotechar='"'))
    except (csv.Error, StopIteration):
        expected = None
    if expected is None:
        with pytest.raises(RecordError):
            adapter._split(text)
    else:
        assert adapter._split(text) == expected
