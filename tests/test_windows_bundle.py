"""The Windows bundle's parts that can be checked without an index: the completeness proof (a
dependency only Windows needs is not missed because the build runs on Linux) and the French
installer files as cmd.exe and Notepad read them. CI builds the real archive (.ci/run)."""

from __future__ import annotations

import importlib.util
import re
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("build_windows_bundle", ROOT / "tools" / "build_windows_bundle.py")
assert spec and spec.loader
bundle = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bundle)


def wheel(folder: Path, filename: str, *requires: str) -> Path:
    name, version = filename.split("-")[:2]
    path = folder / filename
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
    return path


def test_completeness_follows_windows_markers_and_each_python(tmp_path: Path):
    wheel(
        tmp_path,
        "forfait_agent-0.1.0-py3-none-any.whl",
        "fastcore>=2",
        'winonly; sys_platform == "win32"',
        'linuxonly; sys_platform == "linux"',
        'testonly; extra == "test"',
        "withextra[speed]",
    )
    wheel(tmp_path, "fastcore-2.1-cp311-cp311-win_amd64.whl")
    wheel(tmp_path, "fastcore-2.1-cp311-cp311-manylinux_2_28_x86_64.whl")
    wheel(tmp_path, "fastcore-2.1-cp312-cp312-manylinux_2_28_x86_64.whl")  # not for Windows
    wheel(tmp_path, "withextra-1.0-py3-none-any.whl", 'speedup; extra == "speed"')
    assert bundle.missing_for(tmp_path, ["forfait-agent"], "3.11") == [
        'speedup; extra == "speed"',
        'winonly; sys_platform == "win32"',
    ]
    wheel(tmp_path, "winonly-1.0-py3-none-any.whl")
    wheel(tmp_path, "speedup-3.0-cp311-abi3-win_amd64.whl")  # abi3: any later CPython too
    assert bundle.missing_for(tmp_path, ["forfait-agent"], "3.11") == []
    assert bundle.missing_for(tmp_path, ["forfait-agent"], "3.12") == ["fastcore>=2"]


def test_a_version_too_old_is_missing(tmp_path: Path):
    wheel(tmp_path, "forfait_agent-0.1.0-py3-none-any.whl", "pydantic>=2.7")
    wheel(tmp_path, "pydantic-2.5.0-py3-none-any.whl")
    assert bundle.missing_for(tmp_path, ["forfait-agent"], "3.13") == ["pydantic>=2.7"]


def installer() -> str:
    data = bundle.batch_file("installer.cmd", PYTHONS="3.14 3.13 3.12 3.11", PACKAGES="forfait-agent forfait-agent-csv")
    assert b"\n" not in data.replace(b"\r\n", b"")  # cmd.exe wants CRLF throughout
    return data.decode("cp850")  # the OEM code page cmd.exe reads it in on French Windows


def test_installer_is_french_cp850_and_every_goto_has_its_label():
    text = installer()
    assert "Installation de forfait-agent" in text and "é" in text
    for name, script in (
        ("installer.cmd", text),
        ("desinstaller.cmd", bundle.batch_file("desinstaller.cmd").decode("cp850")),
    ):
        labels = set(re.findall(r"^:(\w+)", script, flags=re.MULTILINE))
        assert set(re.findall(r"goto (\w+)", script)) <= labels, name
        assert "@" not in script.replace("@echo off", ""), "a placeholder was left"


def test_installer_installs_offline_into_a_user_venv_and_registers_the_task():
    text = installer()
    assert "--no-index" in text and '--find-links "%PAQUETS%"' in text
    assert "forfait-agent forfait-agent-csv" in text
    assert "%LOCALAPPDATA%\\Programs\\forfait-agent" in text  # per user: no admin rights
    assert '"%FA%" service install' in text
    assert "for %%V in (3.14 3.13 3.12 3.11)" in text  # the newest installed Python first


def test_lisezmoi_opens_in_notepad_with_its_accents():
    data = bundle.text_file("LISEZMOI.txt", VERSION="0.1.0", PYTHONS="3.11, 3.12", PLUGINS="forfait-agent-csv")
    assert data.startswith(b"\xef\xbb\xbf") and b"\n" not in data.replace(b"\r\n", b"")
    text = data.decode("utf-8-sig")
    assert "Double-cliquez installer.cmd" in text and "@" not in text


@pytest.mark.parametrize("name", ["forfait-agent-csv", "forfait-agent-dmp", "forfait-agent-mssante"])
def test_every_vendor_plugin_is_shipped_but_not_the_example(name: str):
    shipped = {bundle.project_name(p) for p in bundle.plugin_dirs()}
    assert name in shipped and "forfait-agent-example" not in shipped


def batch_scripts() -> dict[str, list[str]]:
    return {
        "installer.cmd": installer().split("\r\n"),
        "desinstaller.cmd": bundle.batch_file("desinstaller.cmd").decode("cp850").split("\r\n"),
    }


@pytest.mark.parametrize("name", ["installer.cmd", "desinstaller.cmd"])
def test_accents_are_only_in_messages(name: str):
    """cmd.exe reads a batch file in the console's code page: 850 on a French Windows, but 437 or
    65001 elsewhere. Accents in a message then only look wrong; in a command they would break it."""
    for line in batch_scripts()[name]:
        accented = [i for i, char in enumerate(line) if not char.isascii()]
        if not accented:
            continue
        words = line.split()
        message = words[0].lower() in ("rem", "title") or ("echo " in line and line.index("echo ") < accented[0])
        assert message, line


@pytest.mark.parametrize("name", ["installer.cmd", "desinstaller.cmd"])
def test_every_path_is_quoted_for_cmd_and_never_pasted_into_powershell(name: str):
    """A user name may hold spaces, accents, « & » or an apostrophe (C:\\Users\\Dr Hélène,
    D'Almeida): outside double quotes, cmd would cut the line at « & »; inside a PowerShell
    'string', an apostrophe would end it."""
    paths = ("%DEST%", "%FA%", "%VPY%", "%PAQUETS%", "%~dp0", "%LOCALAPPDATA%")
    for line in batch_scripts()[name]:
        if line.lower().startswith("rem "):
            assert not set("<>|&") & set(line), line  # a comment never holds what cmd could act on
            continue
        unquoted = re.sub(r'"[^"]*"', "", line)
        assert not any(p in unquoted for p in paths), line
        if line.startswith("powershell"):
            assert "%" not in line, line  # paths reach PowerShell through the environment ($env:DEST)


def test_installer_guards_the_secretary_s_usual_mistakes():
    lines = installer().split("\r\n")

    def at(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    # opened from inside the zip: said first, before anything is installed
    assert at('if not exist "%PAQUETS%\\forfait_agent-*.whl" goto pas_extrait') < at("py -%%V")
    assert "WindowsApps" in lines[at("py -%%V")]  # the Microsoft Store's Python is not taken
    assert "<nul" in lines[at("py -%%V")]  # a launcher that asks a question does not hang unseen
    # an update stops the running agent, then replaces the program even with the same version number
    assert at("schtasks /End /TN forfait-agent") < at("--upgrade") < at("--force-reinstall --no-deps")
    assert lines[at('"%FA%" init') + 1] == "if errorlevel 1 goto sans_config"  # abandoned: nothing started
    assert lines[at('"%FA%" service install') + 1] == "if errorlevel 1 goto erreur"
    assert "Use admin privileges when installing py.exe" in "\n".join(lines)  # Python without admin rights
