"""The real command line in a subprocess: French for people, JSON for machines, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import RPPS_A, cli, ev, indicator, practitioner, score_json, write_jsonl


def test_demo_runs_the_whole_path_and_prints_a_french_score(home: Path):
    out = cli(home, "demo", "--seed", "7").stdout
    assert "Dotation numérique 2026" in out
    assert "Socle (prérequis)" in out
    assert "points mis en commun" in out
    assert "€" in out and "À faire en priorité (par montant débloqué)" in out
    assert "mis en quarantaine : 12" in out  # the damaged lines of the demo journals, two years
    assert "abîmées exprès par la démonstration" in out  # and said to be deliberate
    assert re.search(r"enregistrements : \d{1,3}(\u202f\d{3})+ —", out)  # « 88 353 », grouped the French way
    demo = home / "demo"
    data = score_json(demo)
    assert len(data["practitioners"]) == 3
    assert data["year"] == 2026
    best = max(data["practitioners"], key=lambda p: p["points"])
    assert best["gate_met"] and best["points"] == 420 and best["euros"] == 2940
    consultations = best["metrics"]["dmp"]["denominator"]
    assert 3500 < consultations < 6500  # a real GP's year so far
    # Same seed, same data: the demo is reproducible.
    again = score_json(demo)
    assert again == data


def test_score_json_without_data_has_no_practitioners(home: Path):
    data = score_json(home, "--year", "2025", "--as-of", "2025-12-31")
    assert (data["year"], data["as_of"], data["point_value_eur"]) == (2025, "2025-12-31", 7)
    assert data["practitioners"] == []


def test_score_for_one_practitioner_lists_every_metric_even_empty(home: Path):
    data = score_json(home, "--year", "2026", "--practitioner", RPPS_A)
    (p,) = data["practitioners"]
    assert p["rpps"] == RPPS_A and len(p["metrics"]) == 13
    assert all(m["rate"] is None for m in p["metrics"].values())


def test_declare_then_score(home: Path, tmp_path: Path):
    write_jsonl(tmp_path / "e.jsonl", [ev("teleservice", "t1", service="dmt", online=True)])
    cli(home, "scan", str(tmp_path))
    before = practitioner(score_json(home, "--as-of", "2026-06-30"), RPPS_A)
    assert before["gate_met"] is False
    out = cli(home, "declare", "equipement", "oui", "--year", "2026").stdout
    assert "Enregistré" in out
    after = practitioner(score_json(home, "--as-of", "2026-06-30"), RPPS_A)
    assert after["gate_met"] is True and after["points"] == 280
    assert indicator(after, "equipement")["met"] is True
    cli(home, "declare", "equipement", "non", "--year", "2026", "--practitioner", RPPS_A)
    assert practitioner(score_json(home, "--as-of", "2026-06-30"), RPPS_A)["gate_met"] is False


def test_usage_errors_exit_1_in_french(home: Path):
    proc = cli(home, "score", "--as-of", "31-31-2026", check=False)
    assert proc.returncode == 1 and "date invalide" in proc.stderr
    proc = cli(home, "score", "--year", "1999", check=False)
    assert proc.returncode == 1 and "aucune règle" in proc.stderr
    proc = cli(home, "declare", "pas_un_indicateur", "oui", "--year", "2026", "--practitioner", RPPS_A, check=False)
    assert proc.returncode == 1 and "equipement" in proc.stderr
    proc = cli(home, "scan", "--adapter", "nope", ".", check=False)
    assert proc.returncode == 1 and "adaptateur inconnu" in proc.stderr
    proc = cli(home, "frobnicate", check=False)
    assert proc.returncode == 1


def test_terminal_score_shows_gate_first_and_french_euros(home: Path, tmp_path: Path):
    events = [ev("teleservice", f"t{i}", service="dmt", online=True) for i in range(3)]
    events += [ev("prescription", f"p{i}", electronic=i < 2) for i in range(10)]
    events += [ev("declaration", "d1", indicator="equipement", year=2026, value=True)]
    write_jsonl(tmp_path / "e.jsonl", events)
    cli(home, "scan", str(tmp_path))
    out = cli(home, "score", "--as-of", "2026-12-31").stdout
    assert out.index("Socle (prérequis)") < out.index("Autres téléservices")
    assert "280 points = 1\u202f960\u202f€" in out
    # « > 30 % » (DONUM) read strictly: 2 of 10 needs 2 more to pass 30 %, not 1 to reach it.
    assert "2 ordonnances numériques (objectif plus de 30\u202f%)" in out


def test_python_dash_m_and_version(home: Path):
    proc = cli(home, "--version")
    assert proc.stdout.startswith("forfait-agent ")


def test_report_prints_the_same_summary(home: Path, tmp_path: Path):
    write_jsonl(tmp_path / "e.jsonl", [ev("consultation", "c1")])
    cli(home, "scan", str(tmp_path))
    assert "Praticien RPPS 10101010101" in cli(home, "report", "--as-of", "2026-12-31").stdout


def test_scan_json_reports_counts(home: Path, tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", [ev("consultation", "c1"), "nope"])
    data = json.loads(cli(home, "scan", "--json", str(path)).stdout)
    assert data == {
        "files": 1,
        "records": 2,
        "new": 1,
        "known": 0,
        "quarantined": 1,
        "pending_bytes": 0,
        "reasons": {"invalid_json": 1},
        "unread": 0,
        "unread_files": [],
        "unmatched": [],
        "ignored": 0,
        "errors": [],
    }


def test_global_options_are_accepted_after_the_command_too(home: Path, tmp_path: Path):
    write_jsonl(tmp_path / "e.jsonl", [ev("consultation", "c1")])
    cli(home, "scan", str(tmp_path))
    other = tmp_path / "other-home"
    # `--data-dir` after the command wins over the one before it (the helper puts one before).
    data = json.loads(cli(other, "score", "--json", "--as-of", "2026-12-31", "--data-dir", str(home)).stdout)
    assert [p["rpps"] for p in data["practitioners"]] == [RPPS_A]
    assert "2026" in cli(other, "rules", "list", "--data-dir", str(home)).stdout


def test_invalid_configuration_is_explained_in_french_with_exit_2(home: Path, tmp_path: Path):
    (home / "config.toml").write_text('poll_interval = "vite"\n[[folders]]\npaht = "C:/LGC"\n', encoding="utf-8")
    proc = cli(home, "scan", str(tmp_path), check=False)
    assert proc.returncode == 2
    assert "config.toml" in proc.stderr and "Traceback" not in proc.stderr
    assert "folders[0].paht : clé inconnue" in proc.stderr and "poll_interval : nombre attendu" in proc.stderr
    (home / "config.toml").write_text("default_practitioner = \n", encoding="utf-8")
    proc = cli(home, "run", check=False)
    assert proc.returncode == 2 and "TOML invalide" in proc.stderr


def test_environment_variables_override_the_configuration_file(home: Path, tmp_path: Path):
    (home / "config.toml").write_text('default_practitioner = "10101010101"\n', encoding="utf-8")
    line = {"kind": "consultation", "id": "c1", "at": "2026-03-02T10:00:00"}  # no practitioner
    journal = write_jsonl(tmp_path / "j.jsonl", [line])
    env = {"FORFAIT_AGENT_DEFAULT_PRACTITIONER": "20202020202", "forfait_agent_names": '{"20202020202": "Dr Env"}'}
    cli(home, "scan", str(journal), env=env)
    data = json.loads(cli(home, "score", "--json", "--as-of", "2026-12-31", env=env).stdout)
    assert [p["rpps"] for p in data["practitioners"]] == ["20202020202"]
    assert "Dr Env" in cli(home, "score", "--as-of", "2026-12-31", env={**env, "COLUMNS": "120"}).stdout
    proc = cli(home, "status", check=False, env={"FORFAIT_AGENT_POLL_INTERVAL": "vite"})
    assert proc.returncode == 2 and "poll_interval : nombre attendu" in proc.stderr
    proc = cli(home, "status", check=False, env={"FORFAIT_AGENT_NAMES": "{pas du json"})
    assert proc.returncode == 2 and "FORFAIT_AGENT_NAMES : JSON invalide" in proc.stderr, proc.stderr


ENGLISH = ("usage:", "positional arguments", "show this help", "invalid choice", "invalid int", "error:", "required")


def test_help_and_usage_errors_are_french(home: Path):
    for args in (["--help"], ["score", "--help"], ["declare", "--help"], ["status", "--help"], ["init", "--help"]):
        out = cli(home, *args, env={"COLUMNS": "80"}).stdout
        assert out.startswith("utilisation : forfait-agent")
        assert not re.search(r"\n *[»:;]", out), out  # « Dr A. Martin » is not cut before its »
        if args[0] == "init":  # no-break spaces inside the quotes, whatever the Python's textwrap does
            assert "«\u00a0Dr A." in out and "Martin\u00a0»" in out
        assert "afficher cette aide et quitter" in out and "options :" in out
        assert not [word for word in ENGLISH if word in out], out
    out = cli(home, "declare", "--help").stdout
    assert "INDICATEUR" in out and "identifiant de l'indicateur" in out and "--practitioner" in out
    assert "--year ANNÉE" in out and "année déclarée" in out
    assert "--practitioner RPPS" in out and "obligatoire si le cabinet en a" in out
    errors = {
        ("service", "lancer"): "choix invalide « lancer » (possibles : install, uninstall, status, show)",
        ("score", "--year", "deux-mille"): "« deux-mille » n'est pas un nombre entier valide",
        ("declare",): "il manque : INDICATEUR, oui|non",
        ("score", "--bogus"): "arguments non reconnus : --bogus",
        ("score", "--year"): "forfait-agent score : erreur : --year : une valeur est attendue",
        ("frobnicate",): "COMMANDE : choix invalide « frobnicate » (possibles : demo, scan, score,",
    }
    for args, expected in errors.items():
        proc = cli(home, *args, check=False)
        assert proc.returncode == 1, args
        assert proc.stderr.startswith("utilisation : forfait-agent"), proc.stderr
        assert expected in proc.stderr, proc.stderr
        assert "forfait-agent" in proc.stderr and not [w for w in ENGLISH if w in proc.stderr], proc.stderr


def test_configuration_and_file_errors_are_french(home: Path, tmp_path: Path):
    (home / "config.toml").write_text(
        '[[folders]]\nrecursive = "peut-être"\n[names]\n"10101010101" = ""\n', encoding="utf-8"
    )
    proc = cli(home, "status", check=False)
    assert proc.returncode == 2
    assert "folders[0].path : clé obligatoire manquante" in proc.stderr
    assert "folders[0].recursive : true ou false attendu" in proc.stderr
    assert "names.10101010101 : texte vide" in proc.stderr
    assert "Field required" not in proc.stderr and "Input should" not in proc.stderr
    (home / "config.toml").write_text("[[folders]]\npath = 12\n", encoding="utf-8")
    proc = cli(home, "status", check=False)
    assert proc.returncode == 2 and "folders[0].path : chemin de fichier ou de dossier attendu" in proc.stderr
    assert "Input is not a valid path" not in proc.stderr
    (home / "config.toml").unlink()
    proc = cli(home, "scan", str(tmp_path / "absent"), check=False)
    assert proc.returncode == 2 and "introuvable" in proc.stderr and "No such file" not in proc.stderr
    # A configuration named on the command line that is not there: said, not scored without it.
    proc = cli(home, "--config", str(tmp_path / "cabinet.toml"), "score", check=False)
    assert proc.returncode == 1 and f"fichier de configuration introuvable : {tmp_path / 'cabinet.toml'}" in proc.stderr
    cli(home, "--config", str(tmp_path / "cabinet.toml"), "init", "--folder", str(tmp_path))
    cli(home, "--config", str(tmp_path / "cabinet.toml"), "score")


def test_every_command_and_option_says_what_it_is_for():
    import argparse

    from forfait_agent.cli import build_parser

    def walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
        silent = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {a.dest for a in action._choices_actions if a.help}
                silent += [f"{path} {name}" for name in action.choices if name not in helped]
                for name, child in action.choices.items():
                    silent += walk(child, f"{path} {name}")
            elif not action.help:
                silent.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
        return silent

    assert walk(build_parser(), "forfait-agent") == []
