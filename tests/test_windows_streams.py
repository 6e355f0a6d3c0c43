"""Every command's output survives the streams of a French Windows PC.

A file or a pipe there gets the ANSI code page (cp1252), a legacy console the OEM one (cp850), and
pythonw no stream at all. Each command runs for real in a subprocess with that encoding forced
and its output captured (redirected), as a cabinet's script or `> score.txt` would get it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forfait_agent.console import NNBSP, dumps_json, fallback, printable

from .conftest import RPPS_A, cli, ev, write_jsonl

ENCODINGS = ("cp1252", "cp850")


def run(home: Path, encoding: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    env.pop("FORFAIT_AGENT_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), *args],
        capture_output=True,
        env=env,
        timeout=300,
    )
    # strict decoding: a byte the code page does not define would fail here
    return proc.returncode, proc.stdout.decode(encoding), proc.stderr.decode(encoding)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("win") / "home"
    cli(home, "demo", "--practitioners", "1")
    return home / "demo"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("exports")
    write_jsonl(
        folder / "journal-é.jsonl",
        [ev("consultation", "C1", patient="P1"), ev("fse", "F1", vitale="apcv"), "pas du JSON"],
    )
    return folder


COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    # name: (arguments, a French fragment with an accent the output must carry intact)
    "score": (("score", "--year", "2026", "--as-of", "2026-06-30"), "Télétransmission"),
    "report": (("report", "--year", "2026", "--as-of", "2026-06-30"), "Télétransmission"),
    "declaration": (("declaration", "--year", "2026"), "Déclaration"),
    "status": (("status",), "Événements"),
    "status --fichiers": (("status", "--fichiers"), "Événements"),
    "status --quarantaine": (("status", "--quarantaine"), "Événements"),
    "--help": (("--help",), "dotation numérique"),
    "rules list": (("rules", "list"), "Année"),
    "plugins": (("plugins",), "Greffons installés"),
    "service show": (("service", "show"), "numérique"),
    "declare": (("declare", "equipement", "oui", "--year", "2026", "--practitioner", RPPS_A), "Enregistré"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_prints_in_the_windows_code_pages(demo_home: Path, encoding: str, name: str):
    args, fragment = COMMANDS[name]
    code, out, err = run(demo_home, encoding, *args)
    assert code == 0, err
    assert fragment in out
    assert "\ufffd" not in out + err


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_demo_prints_in_the_windows_code_pages(tmp_path: Path, encoding: str):
    code, out, err = run(tmp_path, encoding, "demo", "--practitioners", "1")
    assert code == 0, err
    assert "Démonstration" in out and "Rapport HTML" in out


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_scan_and_rules_check_print_in_the_windows_code_pages(tmp_path: Path, export: Path, encoding: str):
    code, out, err = run(tmp_path, encoding, "scan", str(export), "--practitioner", RPPS_A)
    assert code == 0, err
    assert "événements nouveaux" in out and "quarantaine" in out
    rules = Path(__file__).parents[1] / "rules" / "2026.toml"
    code, out, err = run(tmp_path, encoding, "rules", "check", str(rules))
    assert code == 0, err
    assert "valide" in out


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("args", [("score", "--json", "--year", "2026"), ("status", "--json"), ("plugins", "--json")])
def test_json_is_ascii_and_parses_to_the_same_text(demo_home: Path, encoding: str, args: tuple[str, ...]):
    """What a program reading the pipe gets is valid in any code page and loses no accent."""
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    proc = subprocess.run(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(demo_home), *args], capture_output=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.isascii()
    data = json.loads(proc.stdout)
    assert data == json.loads(cli(demo_home, *args).stdout)


def test_score_json_labels_keep_their_accents_through_the_escapes(demo_home: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "forfait_agent", "--data-dir", str(demo_home), "score", "--json", "--year", "2026"],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "cp1252"},
    )
    assert b"\\u00e9" in proc.stdout  # "é" escaped, never a cp1252 byte a UTF-8 reader would reject
    assert json.loads(dumps_json({"label": "≥ 60 %"})) == {"label": "≥ 60 %"}


def _no_streams() -> None:
    for fd in (0, 1, 2):
        os.close(fd)


@pytest.mark.parametrize(
    "args", [("demo", "--practitioners", "1"), ("score", "--year", "2026"), ("status",), ("service", "show")]
)
def test_pythonw_without_any_stream_does_not_crash(tmp_path: Path, args: tuple[str, ...]):
    """pythonw (the scheduled agent) starts with sys.stdout/stderr/stdin None: so does a process
    whose descriptors 0-2 are closed, which is how this is reproduced for real."""
    probe = tmp_path / "probe.txt"
    code = (
        "import sys, runpy; "
        f"open({str(probe)!r}, 'w').write(repr((sys.stdin, sys.stdout, sys.stderr))); "
        "sys.argv = ['forfait-agent', *sys.argv[1:]]; "
        "from forfait_agent.cli import main; raise SystemExit(main())"
    )
    env = {**os.environ}
    env.pop("PYTHONIOENCODING", None)
    proc = subprocess.run(
        [sys.executable, "-c", code, "--data-dir", str(tmp_path / "home"), *args],
        preexec_fn=_no_streams,
        env=env,
        timeout=300,
    )
    assert probe.read_text() == "(None, None, None)"  # the condition is really reproduced
    assert proc.returncode == 0
    if args[0] == "demo":
        assert (tmp_path / "home" / "demo" / "report.html").exists()


@pytest.mark.parametrize(
    ("text", "encoding", "shown"),
    [
        (f"2{NNBSP}940\u00a0€", "cp1252", "2\u00a0940\u00a0€"),
        (f"2{NNBSP}940\u00a0€", "cp850", "2\u00a0940\u00a0EUR"),
        (f"2{NNBSP}940\u00a0€", "ascii", "2 940 EUR"),
        ("✔ atteint ; ✘ non ; ≥ 60 % → +40", "cp1252", "OK atteint ; X non ; >= 60 % -> +40"),
        ("█░│ — réel …", "ascii", "#.| - reel ..."),
        ("█░│", "cp850", "█░│"),  # the OEM code page has the block characters: kept
        ("┏━┓┃", "cp1252", "+-+|"),
        ("\udcff", "utf-8", "?"),  # a file name that is not UTF-8, printed on a UTF-8 console
    ],
)
def test_fallbacks_are_readable_and_keep_what_the_code_page_has(text: str, encoding: str, shown: str):
    assert printable(text, encoding) == shown


def test_every_fallback_is_plain_ascii_or_a_no_break_space():
    """So whatever the code page, a listed character never ends as "?"."""
    from forfait_agent.console import FALLBACKS

    for char in FALLBACKS:
        assert fallback(char, "ascii") != "?", char


def test_a_reader_that_stops_early_is_not_an_error(demo_home: Path):
    """`forfait-agent score --json | findstr year`: the reader may close the pipe at any time."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # before the agent writes anything: every write meets a closed pipe
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "forfait_agent", "--data-dir", str(demo_home), "score", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONIOENCODING": "cp1252"},
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0
    assert proc.stderr == b""
