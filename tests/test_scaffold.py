"""`forfait-agent plugin new`: the vendor's first 15 minutes, tried as a newcomer would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forfait_agent.scaffold import ScaffoldError, core_requirement, names, render

from .conftest import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "plugins" / "forfait-agent-example"
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis", ".venv"}


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in folder.rglob("*")
        if p.is_file() and not IGNORED_PARTS & set(p.parts) and not any(x.endswith(".egg-info") for x in p.parts)
    }


def test_shipped_example_plugin_is_exactly_the_scaffold_output():
    assert tree(EXAMPLE) == render("example")  # regenerate: forfait-agent plugin new example --dir plugins


@pytest.mark.parametrize(
    ("name", "dist", "package", "cls"),
    [
        ("monlgc", "forfait-agent-monlgc", "forfait_agent_monlgc", "MonlgcAdapter"),
        ("Mon-LGC2", "forfait-agent-mon-lgc2", "forfait_agent_mon_lgc2", "MonLgc2Adapter"),
        ("forfait-agent-weda", "forfait-agent-weda", "forfait_agent_weda", "WedaAdapter"),
    ],
)
def test_names_derived_from_the_plugin_name(name: str, dist: str, package: str, cls: str):
    got = names(name)
    assert (got["dist"], got["package"], got["cls"]) == (dist, package, cls)
    files = render(name)
    assert f"{package}/adapter.py" in files and f'name = "{got["name"]}"' in files[f"{package}/adapter.py"]


@pytest.mark.parametrize("name", ["", "mon lgc", "1lgc", "lgc_", "x" * 41, "../evil", "é"])
def test_unusable_names_are_refused(name: str):
    with pytest.raises(ScaffoldError, match="nom de greffon invalide"):
        names(name)


def test_plugin_new_cli_creates_once_and_explains_in_french(tmp_path: Path):
    done = cli(tmp_path / "home", "plugin", "new", "monlgc", "--dir", str(tmp_path))
    assert "Greffon créé" in done.stdout and 'pip install -e "' in done.stdout
    assert (tmp_path / "forfait-agent-monlgc" / "tests" / "samples" / "monlgc-2026-03.log").is_file()
    again = cli(tmp_path / "home", "plugin", "new", "monlgc", "--dir", str(tmp_path), check=False)
    assert again.returncode == 1 and "existe déjà" in again.stderr
    bad = cli(tmp_path / "home", "plugin", "new", "Mon LGC", "--dir", str(tmp_path), check=False)
    assert bad.returncode == 1 and "nom de greffon invalide" in bad.stderr
    assert "greffon" in cli(tmp_path / "home", "plugin", "new", "--help").stdout


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        ('{"url": "file:///opt/src/forfait%20agent", "dir_info": {}}', '-e "/opt/src/forfait agent"'),
        (
            '{"url": "file:///opt/wheels/forfait_agent-0.1.0-py3-none-any.whl", "archive_info": {}}',
            '"/opt/wheels/forfait_agent-0.1.0-py3-none-any.whl"',
        ),
        (None, None),  # from a package index: the plugin's dependency finds the core there
    ],
    ids=["local-folder", "wheel", "index"],
)
def test_the_printed_install_command_names_where_the_core_came_from(tmp_path: Path, direct_url, expected):
    """`plugin new` run from a non-editable install still prints a command that works as is."""
    assert core_requirement(tmp_path, direct_url) == expected
    (tmp_path / "pyproject.toml").write_text("[project]\n", encoding="utf-8")  # run from a source checkout
    assert core_requirement(tmp_path, direct_url) == f'-e "{tmp_path}"'


def test_scaffolded_plugin_is_green_in_a_fresh_venv_next_to_the_core(tmp_path: Path):
    """What CI proves for every vendor: create, install core + plugin as its README says (no
    index needed for the core), run its tests. Slow (a venv and an install), never skipped."""
    cli(tmp_path / "home", "plugin", "new", "cabinet-x", "--dir", str(tmp_path))
    plugin = tmp_path / "forfait-agent-cabinet-x"
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "FORFAIT_AGENT_HOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(ROOT), "-e", f"{plugin}[test]"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=plugin,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "7 passed" in tests.stdout and "skipped" not in tests.stdout
