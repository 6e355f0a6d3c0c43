"""Start `forfait-agent run` with the session, without admin rights, on each OS.

Windows: a Task Scheduler task at logon (pythonw, so no console window), relaunched every
10 minutes should it have stopped (the data folder's lock makes a second agent exit at once, with
status 0); Linux: a systemd user unit; macOS: a launchd agent. Each definition is generated as
text first, so it can be shown, tested and reviewed before anything is installed. Every path in a
definition is absolute and every definition sets the working directory to the data folder: a task
starts in a folder of the system's choosing, where a relative path means another data folder.
"""

from __future__ import annotations

import locale
import os
import plistlib
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

NAME = "forfait-agent"
LABEL = "fr.forfait-agent"
RELAUNCH_EVERY = "PT10M"  # Task Scheduler relaunches a stopped agent this often (ISO 8601 duration)
RESTART_COUNT = 255  # the schema's maximum for <RestartOnFailure><Count> (an unsignedByte, at least 1)


@dataclass(frozen=True)
class ServiceFile:
    path: Path
    content: bytes
    install: list[list[str]]
    uninstall: list[list[str]]
    status: list[str]


def agent_command(home: Path, config: Path | None) -> list[str]:
    """The agent's command line, every path absolute (the task's current folder is unknown)."""
    python = Path(sys.executable).absolute()
    if os.name == "nt" and (python.parent / "pythonw.exe").exists():
        python = python.parent / "pythonw.exe"
    command = [str(python), "-m", "forfait_agent", "--data-dir", str(home.absolute())]
    if config is not None:
        command += ["--config", str(config.absolute())]
    return [*command, "run"]


def _systemd_escape(text: str) -> str:
    """systemd expands %specifiers and $VARIABLES in ExecStart: keep them literal."""
    return text.replace("%", "%%").replace("$", "$$")


def _systemd_word(arg: str) -> str:
    """One ExecStart word: double-quoted with C escapes when needed (a folder « Cabinet d'Orléans »)."""
    if arg and re.fullmatch(r"[\w@%+=:,./-]+", arg, flags=re.ASCII):
        return _systemd_escape(arg)
    return '"' + _systemd_escape(arg.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def systemd_unit(command: list[str], home: Path) -> str:
    return f"""[Unit]
Description=forfait-agent : suivi du forfait structure / de la dotation numérique

[Service]
Type=simple
ExecStart={" ".join(_systemd_word(arg) for arg in command)}
WorkingDirectory={str(home.absolute()).replace("%", "%%")}
Restart=on-failure
RestartSec=30
Nice=10
IOSchedulingClass=idle
UMask=0077

[Install]
WantedBy=default.target
"""


def launchd_plist(command: list[str], home: Path) -> bytes:
    return plistlib.dumps(
        {
            "Label": LABEL,
            "ProgramArguments": command,
            "WorkingDirectory": str(home.absolute()),
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "ProcessType": "Background",
            "LowPriorityIO": True,
            "Umask": 0o077,
            "StandardErrorPath": str(home.absolute() / "logs" / "launchd.err"),
        }
    )


def task_xml(command: list[str], user: str, home: Path) -> str:
    """A Task Scheduler 1.2 definition (Windows 7 and later) that the schema accepts.

    Arguments are quoted as the C runtime parses them (`subprocess.list2cmdline`): a path with a
    space, a quote or a trailing backslash stays one argument.
    """
    program, *args = command
    arguments = subprocess.list2cmdline(args)
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>forfait-agent : suivi du forfait structure / de la dotation numérique</Description>
    <URI>\\{NAME}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <Repetition>
        <Interval>{RELAUNCH_EVERY}</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
      <UserId>{escape(user)}</UserId>
      <Delay>PT1M</Delay>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{escape(user)}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT5M</Interval>
      <Count>{RESTART_COUNT}</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(program)}</Command>
      <Arguments>{escape(arguments)}</Arguments>
      <WorkingDirectory>{escape(str(home.absolute()))}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"""


def current_platform() -> str:
    return sys.platform


def service_file(home: Path, config: Path | None, platform: str | None = None) -> ServiceFile:
    platform = platform or current_platform()
    home = home.absolute()
    command = agent_command(home, config)
    if platform.startswith("win"):
        user = os.environ.get("USERDOMAIN", "") + "\\" + os.environ.get("USERNAME", "")
        path = home / f"{NAME}-task.xml"
        return ServiceFile(
            path,
            task_xml(command, user.strip("\\"), home).encode("utf-16"),
            [["schtasks", "/Create", "/TN", NAME, "/XML", str(path), "/F"], ["schtasks", "/Run", "/TN", NAME]],
            [["schtasks", "/End", "/TN", NAME], ["schtasks", "/Delete", "/TN", NAME, "/F"]],
            ["schtasks", "/Query", "/TN", NAME, "/V", "/FO", "LIST"],
        )
    if platform == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"
        return ServiceFile(
            path,
            launchd_plist(command, home),
            [["launchctl", "load", "-w", str(path)]],
            [["launchctl", "unload", "-w", str(path)]],
            ["launchctl", "list", LABEL],
        )
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = config_home / "systemd" / "user" / f"{NAME}.service"
    return ServiceFile(
        path,
        systemd_unit(command, home).encode("utf-8"),
        [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", f"{NAME}.service"]],
        [["systemctl", "--user", "disable", "--now", f"{NAME}.service"]],
        ["systemctl", "--user", "status", "--no-pager", f"{NAME}.service"],
    )


def oem_code_page() -> int:
    """The console code page Windows tools such as schtasks write in (850 on French Windows)."""
    import ctypes

    return int(ctypes.windll.kernel32.GetOEMCP())  # type: ignore[attr-defined]


def tool_encoding(platform: str | None = None) -> str:
    """How the OS's own command-line tools encode what they print.

    Windows console programs write the OEM code page (cp850 in France), not the ANSI one
    (cp1252) Python assumes for a pipe: « Prêt » would be misread.
    """
    if (platform or current_platform()).startswith("win"):
        try:
            return f"cp{oem_code_page()}"
        except (OSError, AttributeError, ValueError):
            return "cp850"
    return locale.getpreferredencoding(False)


def run_commands(commands: list[list[str]], encoding: str | None = None) -> list[tuple[str, int, str]]:
    """Run each command; (command line, exit code, output) for the user to read."""
    encoding = encoding or tool_encoding()
    show = subprocess.list2cmdline if current_platform().startswith("win") else shlex.join
    done = []
    for command in commands:
        try:
            proc = subprocess.run(command, capture_output=True, timeout=60)
            output = (proc.stdout + proc.stderr).decode(encoding, errors="replace").strip()
            done.append((show(command), proc.returncode, output))
        except (OSError, subprocess.TimeoutExpired) as exc:
            done.append((show(command), -1, str(exc)))
    return done
