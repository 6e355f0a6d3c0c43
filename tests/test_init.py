"""`forfait-agent init` typed at a real terminal (a pseudo-terminal): bad answers are asked again,
end of input leaves cleanly, and a cabinet never ends up stuck between `init` and `run`."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import RPPS_A, cli

pytestmark = pytest.mark.skipif(os.name == "nt", reason="pseudo-terminals are POSIX (Windows: init --folder)")


class Terminal:
    """The real CLI on a pseudo-terminal: `expect` waits for text, never for a duration."""

    def __init__(self, home: Path, *args: str, columns: int = 100) -> None:
        import pty

        self.master, slave = pty.openpty()
        env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": str(columns)}
        env.pop("FORFAIT_AGENT_HOME", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "init", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.seen = ""
        self.pos = 0  # where the next `expect` starts looking

    def expect(self, text: str, limit: float = 60) -> str:
        """Everything printed until `text` appears after the previous match (the limit only
        stops a hung test)."""
        while text not in self.seen[self.pos :]:
            ready, _, _ = select.select([self.master], [], [], limit)
            if not ready:
                raise AssertionError(f"never printed {text!r}; printed:\n{self.seen}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the process closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"ended before {text!r}; printed:\n{self.seen}")
            self.seen += chunk.decode("utf-8", errors="replace").replace("\r\n", "\n")
        self.pos = self.seen.index(text, self.pos) + len(text)
        return self.seen

    def type(self, answer: str) -> None:
        os.write(self.master, answer.encode("utf-8") + b"\r")

    def end_of_input(self) -> None:
        os.write(self.master, b"\x04")  # Ctrl-D at the start of a line

    def finish(self) -> tuple[int, str]:
        code = self.proc.wait(timeout=60)
        try:
            while chunk := os.read(self.master, 4096):
                self.seen += chunk.decode("utf-8", errors="replace").replace("\r\n", "\n")
        except OSError:
            pass
        os.close(self.master)
        return code, self.seen


def test_bad_answers_are_asked_again_and_the_config_is_written(home: Path, tmp_path: Path):
    exports = tmp_path / "Exports LGC"
    exports.mkdir()
    term = Terminal(home, columns=60)
    term.expect("dossier : ")
    term.type(str(tmp_path / "absent"))
    term.expect("Dossier introuvable")  # at once, not after every question
    term.expect("dossier : ")
    term.type(str(exports))
    term.expect("dossier : ")
    term.type("")
    term.expect("RPPS du médecin")
    term.type("123")
    term.expect("RPPS invalide « 123 » (11 chiffres attendus) :")  # then « recommencez. »
    term.type("101 010 101 01")
    term.expect("Nom affiché")
    term.type("Dr Hélène Roux")
    code, out = term.finish()
    assert code == 0, out
    assert "Traceback" not in out and "Configuration écrite" in out, out
    # Questions and messages fit a 60-column terminal; the commands to copy are whole lines.
    launcher = f"  {sys.executable} -m forfait_agent --data-dir {home} "
    lines = [re.sub(r"\x1b\[[0-9;]*m|\r", "", line).rstrip() for line in out.splitlines()]  # colours off
    assert [line.removeprefix(launcher) for line in lines if line.startswith(launcher)] == [
        "run",
        "service install",
    ]
    prompts = ("dossier :", "RPPS :", "nom :")  # the terminal echoes what was typed after them
    too_wide = [
        ln for ln in lines if len(ln) > 60 and not ln.startswith(launcher) and not any(p in ln for p in prompts)
    ]
    assert too_wide == []
    config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert config["default_practitioner"] == RPPS_A
    assert config["names"] == {RPPS_A: "Dr Hélène Roux"}
    assert [Path(f["path"]) for f in config["folders"]] == [exports.resolve()]
    assert "Dr Hélène Roux — RPPS 10101010101" in cli(home, "score", "--practitioner", RPPS_A).stdout


@pytest.mark.parametrize("where", ["dossier : ", "RPPS du médecin"])
def test_end_of_input_at_a_question_leaves_in_french_and_writes_nothing(home: Path, tmp_path: Path, where: str):
    term = Terminal(home)
    term.expect("dossier : ")
    if where != "dossier : ":
        term.type(str(tmp_path))
        term.expect("dossier : ")
        term.type("")
        term.expect(where)
    term.end_of_input()
    code, out = term.finish()
    assert code == 1
    assert "configuration abandonnée (fin de saisie) : rien n'a été écrit" in out
    assert "Traceback" not in out and "EOFError" not in out
    assert not (home / "config.toml").exists()


def test_no_folder_is_never_a_dead_end(home: Path, tmp_path: Path):
    term = Terminal(home)
    term.expect("dossier : ")
    term.type("")
    term.expect("Sans dossier")  # warned once
    term.expect("dossier : ")
    term.type("")
    term.expect("RPPS du médecin")
    term.type("")
    code, out = term.finish()
    assert code == 0 and "init --force --folder DOSSIER" in out
    # `run` says how to add a folder to the existing file, and `init` says how to redo it.
    run = cli(home, "run", check=False)
    assert run.returncode == 1 and "init --force --folder DOSSIER" in run.stderr and "[[folders]]" in run.stderr
    again = cli(home, "init", check=False)
    assert again.returncode == 1 and "init --force" in again.stderr and "éditeur de texte" in again.stderr
    cli(home, "init", "--force", "--folder", str(tmp_path))
    config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert [Path(f["path"]) for f in config["folders"]] == [tmp_path.resolve()]
