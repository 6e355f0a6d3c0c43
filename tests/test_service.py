"""Service definitions: absolute paths, a working directory, quoting that survives odd folder
names, a Task Scheduler XML that follows the published schema, and the Windows branch of
`service install/status` run for real with the platform and `schtasks` faked."""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from forfait_agent.service import RESTART_COUNT, launchd_plist, service_file, systemd_unit, task_xml

NS = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
ODD_HOME = 'Cabinet d\'Orléans/données 100% "test" $HOME'


def windows_argv(line: str) -> list[str]:
    """How the Microsoft C runtime (and CommandLineToArgvW) splits a command line into argv."""
    args: list[str] = []
    current, quoted, started, i = "", False, False, 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            j = i
            while j < len(line) and line[j] == "\\":
                j += 1
            slashes = j - i
            if j < len(line) and line[j] == '"':
                current += "\\" * (slashes // 2)
                if slashes % 2:
                    current += '"'
                    i = j + 1
                else:
                    i = j
                started = True
                continue
            current += "\\" * slashes
            i, started = j, True
            continue
        if char == '"':
            quoted, started = not quoted, True
        elif char in " \t" and not quoted:
            if started:
                args.append(current)
            current, started = "", False
        else:
            current, started = current + char, True
        i += 1
    if started:
        args.append(current)
    return args


def duration(text: str) -> timedelta:
    """The ISO 8601 durations Task Scheduler uses (PnDTnHnMnS)."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text)
    assert match, text
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_task(content: bytes) -> ET.Element:
    text = content.decode("utf-16")
    assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>')
    return ET.fromstring(text.split("?>", 1)[1])


def children(element: ET.Element) -> list[str]:
    return [child.tag.removeprefix(NS) for child in element]


def assert_follows_task_schema(root: ET.Element) -> None:
    """The rules of Microsoft's Task Scheduler schema (learn.microsoft.com, "Task Scheduler Schema")
    that this definition touches: order of sequences, value ranges, the Context key reference."""
    assert root.tag == f"{NS}Task" and root.get("version") == "1.2"
    assert set(children(root)) <= {"RegistrationInfo", "Triggers", "Settings", "Data", "Principals", "Actions"}
    for trigger in root.find(f"{NS}Triggers"):
        assert trigger.tag == f"{NS}LogonTrigger"
        # triggerBaseType is a sequence, extended by logonTriggerType's UserId, Delay
        order = ["Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit", "UserId", "Delay"]
        tags = children(trigger)
        assert tags == sorted(tags, key=order.index)
        repetition = trigger.find(f"{NS}Repetition")
        assert repetition is not None
        assert timedelta(minutes=1) <= duration(repetition.findtext(f"{NS}Interval")) <= timedelta(days=31)
        assert repetition.findtext(f"{NS}StopAtDurationEnd") in ("true", "false")
        assert duration(trigger.findtext(f"{NS}Delay")) >= timedelta(0)
    settings = root.find(f"{NS}Settings")
    restart = settings.find(f"{NS}RestartOnFailure")
    assert 1 <= int(restart.findtext(f"{NS}Count")) <= 255  # unsignedByte, minInclusive 1
    assert timedelta(minutes=1) <= duration(restart.findtext(f"{NS}Interval")) <= timedelta(days=31)
    assert settings.findtext(f"{NS}MultipleInstancesPolicy") in ("Parallel", "Queue", "IgnoreNew", "StopExisting")
    assert 0 <= int(settings.findtext(f"{NS}Priority")) <= 10
    principals = {p.get("id") for p in root.find(f"{NS}Principals")}
    actions = root.find(f"{NS}Actions")
    assert actions.get("Context") in principals  # the schema's ContextKeyRef
    for execute in actions:
        assert set(children(execute)) <= {"Command", "Arguments", "WorkingDirectory"}
        assert execute.findtext(f"{NS}Command")


def test_task_definition_follows_the_schema_and_relaunches_a_stopped_agent(tmp_path: Path):
    root = parse_task(service_file(tmp_path, None, platform="win32").content)
    assert_follows_task_schema(root)
    settings = root.find(f"{NS}Settings")
    assert settings.findtext(f"{NS}MultipleInstancesPolicy") == "IgnoreNew"  # a running agent is left alone
    assert settings.findtext(f"{NS}RestartOnFailure/{NS}Count") == str(RESTART_COUNT)
    assert duration(root.findtext(f".//{NS}Repetition/{NS}Interval")) <= timedelta(minutes=15)
    assert root.find(f".//{NS}Repetition/{NS}Duration") is None  # repeat for as long as the session lasts


def test_task_uses_absolute_quoted_paths_and_the_data_folder_as_working_directory(tmp_path: Path):
    home = tmp_path / ODD_HOME
    config = tmp_path / "réglages" / "config .toml"
    root = parse_task(service_file(home, config, platform="win32").content)
    execute = root.find(f".//{NS}Exec")
    argv = windows_argv(execute.findtext(f"{NS}Arguments"))
    assert argv == ["-m", "forfait_agent", "--data-dir", str(home), "--config", str(config), "run"]
    assert execute.findtext(f"{NS}WorkingDirectory") == str(home)
    assert Path(execute.findtext(f"{NS}Command")).is_absolute()


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1), max_size=4))
@example(["C:\\Dr Hélène\\données\\", 'dit "oui"', "100 %", "M&M %USERNAME%", "\\\\serveur\\partage\\"])
def test_task_arguments_split_back_into_the_same_arguments(args: list[str]):
    command = ["C:\\Python311\\pythonw.exe", *args]
    root = parse_task(task_xml(command, "CABINET\\drmartin", Path("/cabinet")).encode("utf-16"))
    assert windows_argv(root.find(f".//{NS}Arguments").text or "") == args


def test_relative_data_folder_becomes_absolute_in_every_definition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    relative, expected = Path("d/demo"), str(tmp_path / "d" / "demo")
    task = parse_task(service_file(relative, None, platform="win32").content)
    argv = windows_argv(task.findtext(f".//{NS}Arguments"))
    assert argv[argv.index("--data-dir") + 1] == expected
    plist = plistlib.loads(service_file(relative, None, platform="darwin").content)
    assert plist["ProgramArguments"][plist["ProgramArguments"].index("--data-dir") + 1] == expected
    assert plist["WorkingDirectory"] == expected
    unit = service_file(relative, None, platform="linux").content.decode()
    assert f"--data-dir {expected} run" in unit and f"WorkingDirectory={expected}\n" in unit


def test_systemd_unit_keeps_odd_folder_names_as_one_argument_and_sets_the_working_directory(tmp_path: Path):
    home = tmp_path / ODD_HOME
    command = [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "run"]
    unit = systemd_unit(command, home)
    assert f"WorkingDirectory={str(home).replace('%', '%%')}\n" in unit  # specifiers only, no $VARIABLES
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert '"' + str(home).replace("%", "%%").replace("$", "$$").replace('"', '\\"') + '"' in exec_start
    if shutil.which("systemd-analyze"):  # Debian CI has it: systemd itself parses the unit
        home.mkdir(parents=True)
        path = tmp_path / "forfait-agent.service"
        path.write_text(unit, encoding="utf-8")
        proc = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0 and "forfait-agent.service" not in proc.stderr, proc.stderr


def test_launchd_agent_has_the_working_directory(tmp_path: Path):
    plist = plistlib.loads(launchd_plist(["/usr/bin/python3", "-m", "forfait_agent", "run"], tmp_path))
    assert plist["WorkingDirectory"] == str(tmp_path)


# -- the Windows branch of the CLI, for real, with the platform and schtasks faked ------------------
FAKE_SCHTASKS = """#!{python}
import sys
with open({log!r}, "a", encoding="utf-8") as log:
    log.write(repr(sys.argv[1:]) + "\\n")
# French Windows: console tools write the OEM code page (cp850), not cp1252
sys.stdout.buffer.write("Nom de la tâche : \\\\forfait-agent\\r\\nÉtat : Prêt\\r\\n".encode("cp850"))
"""

AS_WINDOWS = (
    "import sys; import forfait_agent.service as s; "
    "s.current_platform = lambda: 'win32'; s.oem_code_page = lambda: 850; "
    "from forfait_agent.cli import main; sys.argv[0] = 'forfait-agent'; raise SystemExit(main())"
)


@pytest.fixture
def fake_windows(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "schtasks.log"
    tool = bin_dir / "schtasks"
    tool.write_text(FAKE_SCHTASKS.format(python=sys.executable, log=str(log)), encoding="utf-8")
    tool.chmod(0o755)

    def run(cwd: Path, encoding: str, *args: str) -> tuple[int, str, str]:
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONIOENCODING": encoding}
        env.pop("FORFAIT_AGENT_HOME", None)
        proc = subprocess.run([sys.executable, "-c", AS_WINDOWS, *args], cwd=cwd, env=env, capture_output=True)
        return proc.returncode, proc.stdout.decode(encoding), proc.stderr.decode(encoding)

    run.log = log  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize("encoding", ["cp1252", "cp850"])
def test_service_install_writes_absolute_paths_and_registers_the_task(tmp_path: Path, fake_windows, encoding: str):
    code, out, err = fake_windows(tmp_path, encoding, "--data-dir", "d/demo", "service", "install")
    assert code == 0, err
    xml_path = tmp_path / "d" / "demo" / "forfait-agent-task.xml"
    root = parse_task(xml_path.read_bytes())
    argv = windows_argv(root.findtext(f".//{NS}Arguments"))
    assert argv[argv.index("--data-dir") + 1] == str(tmp_path / "d" / "demo")
    assert root.findtext(f".//{NS}WorkingDirectory") == str(tmp_path / "d" / "demo")
    calls = fake_windows.log.read_text(encoding="utf-8").splitlines()
    assert calls[0] == repr(["/Create", "/TN", "forfait-agent", "/XML", str(xml_path), "/F"])
    assert calls[1] == repr(["/Run", "/TN", "forfait-agent"])
    assert "Fichier écrit" in out


@pytest.mark.parametrize("encoding", ["cp1252", "cp850"])
def test_service_status_reads_schtasks_in_the_oem_code_page(tmp_path: Path, fake_windows, encoding: str):
    code, out, err = fake_windows(tmp_path, encoding, "--data-dir", str(tmp_path / "home"), "service", "status")
    assert code == 0, err
    assert "État : Prêt" in out  # decoded as cp850, printed in the stream's own code page
    assert "Nom de la tâche" in out


@pytest.mark.parametrize("encoding", ["cp1252", "cp850"])
def test_service_show_on_windows_prints_the_task_in_any_code_page(tmp_path: Path, fake_windows, encoding: str):
    code, out, err = fake_windows(tmp_path, encoding, "--data-dir", str(tmp_path / "home"), "service", "show")
    assert code == 0, err
    assert "<WorkingDirectory>" in out and "numérique" in out


@pytest.mark.parametrize("encoding", ["cp1252", "cp850"])
def test_service_uninstall_ends_and_deletes_the_task_in_any_code_page(tmp_path: Path, fake_windows, encoding: str):
    home = tmp_path / "home"
    assert fake_windows(tmp_path, encoding, "--data-dir", str(home), "service", "install")[0] == 0
    code, out, err = fake_windows(tmp_path, encoding, "--data-dir", str(home), "service", "uninstall")
    assert code == 0, err
    calls = fake_windows.log.read_text(encoding="utf-8").splitlines()[2:]
    assert calls == [repr(["/End", "/TN", "forfait-agent"]), repr(["/Delete", "/TN", "forfait-agent", "/F"])]
    assert not (home / "forfait-agent-task.xml").exists()
    assert "Fichier supprimé" in out and "État : Prêt" in out  # schtasks' answer, read as OEM
