"""Start `forfait-agent run` with the session, without admin rights, on each OS.

Windows: a Task Scheduler task at logon (pythonw, so no console window); Linux: a systemd user
unit; macOS: a launchd agent. Each definition is generated as text first, so it can be shown,
tested and reviewed before anything is installed.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

NAME = "forfait-agent"
LABEL = "fr.forfait-agent"


@dataclass(frozen=True)
class ServiceFile:
    path: Path
    content: bytes
    install: list[list[str]]
    uninstall: list[list[str]]
    status: list[str]


def agent_command(home: Path, config: Path | None) -> list[str]:
    python = Path(sys.executable)
    if os.name == "nt" and (python.parent / "pythonw.exe").exists():
        python = python.parent / "pythonw.exe"
    command = [str(python), "-m", "forfait_agent", "--data-dir", str(home)]
    if config is not None:
        command += ["--config", str(config)]
    return [*command, "run"]


def systemd_unit(command: list[str]) -> str:
    return f"""[Unit]
Description=forfait-agent : suivi du forfait structure / de la dotation numérique

[Service]
Type=simple
ExecStart={shlex.join(command)}
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
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "ProcessType": "Background",
            "LowPriorityIO": True,
            "Umask": 0o077,
            "StandardErrorPath": str(home / "logs" / "launchd.err"),
        }
    )


def task_xml(command: list[str], user: str) -> str:
    program, *args = command
    arguments = " ".join(f'"{a}"' if " " in a else a for a in args)
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>forfait-agent : suivi du forfait structure / de la dotation numérique</Description>
    <URI>\\{NAME}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
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
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(program)}</Command>
      <Arguments>{escape(arguments)}</Arguments>
    </Exec>
  </Actions>
</Task>
"""


def service_file(home: Path, config: Path | None, platform: str = sys.platform) -> ServiceFile:
    command = agent_command(home, config)
    if platform.startswith("win"):
        user = os.environ.get("USERDOMAIN", "") + "\\" + os.environ.get("USERNAME", "")
        path = home / f"{NAME}-task.xml"
        return ServiceFile(
            path,
            task_xml(command, user.strip("\\")).encode("utf-16"),
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
        systemd_unit(command).encode("utf-8"),
        [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", f"{NAME}.service"]],
        [["systemctl", "--user", "disable", "--now", f"{NAME}.service"]],
        ["systemctl", "--user", "status", "--no-pager", f"{NAME}.service"],
    )


def run_commands(commands: list[list[str]]) -> list[tuple[str, int, str]]:
    """Run each command; (command line, exit code, output) for the user to read."""
    done = []
    for command in commands:
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
            done.append((shlex.join(command), proc.returncode, (proc.stdout + proc.stderr).strip()))
        except (OSError, subprocess.TimeoutExpired) as exc:
            done.append((shlex.join(command), -1, str(exc)))
    return done
