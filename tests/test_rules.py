"""Rules are data: every shipped year validates, totals match the sources, errors name the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forfait_agent.rules import RuleBook, RulesError, builtin_rules_dir, load_rules_file, parse_rules

from .conftest import cli

SHIPPED = sorted(builtin_rules_dir().glob("*.toml"))


def test_every_year_2021_to_2026_is_shipped():
    assert {int(p.stem) for p in SHIPPED} >= set(range(2021, 2027))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_rules_are_valid_and_sourced(path: Path):
    rules = load_rules_file(path)
    assert rules.point_value_eur == 7
    assert all(ind.source.strip() for ind in rules.indicators)
    assert rules.scheme == ("donum" if rules.year >= 2026 else "forfait_structure")


@pytest.mark.parametrize(
    ("year", "gate", "total"),
    [(2021, 280, 885), (2022, 400, 1385), (2024, 280, 1115), (2025, 280, 1115), (2026, 280, 420)],
)
def test_totals_match_the_domain_brief(year, gate, total):
    rules = RuleBook().get(year)
    assert rules.gate.points == gate
    assert rules.max_points == total


def test_uncertain_numbers_carry_a_note():
    donum = RuleBook().get(2026)
    by_id = {i.id: i for i in donum.indicators}
    assert "[INF]" in by_id["teleservices_socle"].note
    assert "883" in RuleBook().get(2023).note  # the unexplained gap with ameli's total


BASE = """
year = 2030
scheme = "donum"
title = "Test"
point_value_eur = 7
source = "test"
[[groups]]
id = "socle"
label = "Socle"
gate = true
points = 100
[[groups]]
id = "opt"
label = "Optionnel"
"""


def test_error_names_file_and_offending_key():
    text = (
        BASE
        + """
[[indicators]]
id = "dmp"
group = "opt"
label = "DMP"
points = 10
source = "test"
condition = { metric = "dmp", min_rate = 1.5 }
"""
    )
    with pytest.raises(RulesError) as info:
        parse_rules(text, "2030.toml")
    message = str(info.value)
    assert "2030.toml" in message
    assert "indicators[0] (id = dmp).condition.min_rate" in message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('{ metric = "nope", min_rate = 0.1 }', "métrique inconnue « nope »"),
        ('{ metric = "dmp" }', "condition"),
        ("{ foo = 1 }", "min_rate, min_count, mean_of, all, declared"),
        ("{ mean_of = [], min_rate = 0.5 }", "mean_of"),
        ('{ metric = "apcv", min_count = 0 }', "min_count"),
    ],
)
def test_bad_conditions_are_rejected(condition, expected):
    text = (
        BASE
        + f"""
[[indicators]]
id = "x"
group = "opt"
label = "X"
points = 10
source = "test"
condition = {condition}
"""
    )
    with pytest.raises(RulesError) as info:
        parse_rules(text, "t.toml")
    assert expected in str(info.value)


def test_gate_indicators_take_no_points_and_others_need_them():
    gate_with_points = (
        BASE
        + """
[[indicators]]
id = "eq"
group = "socle"
label = "Eq"
points = 5
source = "test"
condition = { declared = true }
"""
    )
    with pytest.raises(RulesError, match="mis en commun"):
        parse_rules(gate_with_points, "t.toml")


def test_rules_check_cli_exit_codes(tmp_path: Path, home: Path):
    good = cli(home, "rules", "check", str(SHIPPED[0]))
    assert "valide" in good.stdout
    bad = tmp_path / "2031.toml"
    bad.write_text(BASE.replace("2030", "2031") + '[[indicators]]\nid = "x"\ngroup = "nope"\n', encoding="utf-8")
    proc = cli(home, "rules", "check", str(bad), check=False)
    assert proc.returncode == 2
    assert "2031.toml" in proc.stderr
    # Every line is French: the key, then what is wrong with it (pydantic's English never shows).
    assert "indicators[0] (id = x).label : clé obligatoire manquante" in proc.stderr
    assert "Field required" not in proc.stderr and "Input should" not in proc.stderr
    bad.write_text(BASE.replace("2030", "2031").replace('scheme = "donum"', 'scheme = "autre"'), encoding="utf-8")
    proc = cli(home, "rules", "check", str(bad), check=False)
    assert (
        proc.returncode == 2
        and "scheme : valeur non reconnue (attendu : 'forfait_structure' ou 'donum')" in proc.stderr
    )
    proc = cli(home, "rules", "check", str(tmp_path / "absent.toml"), check=False)
    assert proc.returncode == 2 and "lecture impossible : fichier ou dossier introuvable" in proc.stderr
    assert "No such file" not in proc.stderr


def test_user_rules_folder_adds_a_year_without_a_release(home: Path):
    user = home / "rules"
    user.mkdir()
    shutil.copy(builtin_rules_dir() / "2026.toml", user / "2029.toml")
    text = (user / "2029.toml").read_text(encoding="utf-8").replace("year = 2026", "year = 2029", 1)
    (user / "2029.toml").write_text(text, encoding="utf-8")
    book = RuleBook(user)
    assert 2029 in book.years()
    assert book.get(2029).year == 2029
    listing = cli(home, "rules", "list").stdout
    assert "2029" in listing and "2021" in listing
