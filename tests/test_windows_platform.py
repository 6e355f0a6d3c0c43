"""The data folder on Windows and on shares: no WAL on a network file system, an access list that
names the user alone, log files no two processes rotate, the Microsoft Store's Python.

Windows calls are faked at their narrowest point (GetDriveTypeW; `icacls` as a program on PATH);
the rest runs for real: SQLite, the CLI, logging, subprocesses."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest

from forfait_agent import fileio, filesystem, paths
from forfait_agent.app import secure_data_dir
from forfait_agent.cli import main
from forfait_agent.logs import YieldingRotatingFileHandler
from forfait_agent.store import Store

from .conftest import cli, ev, write_jsonl
from .test_fileio import FakeKernel32

MOUNTS = (
    "/dev/sda1 / ext4 rw,relatime 0 0\n"
    "srv:/export /mnt/cabinet nfs4 rw,vers=4.2 0 0\n"
    "/dev/sdb1 /mnt/cabinet/local ext4 rw 0 0\n"
    "//srv/partage /mnt/smb\\040partage cifs rw 0 0\n"
)


@pytest.mark.parametrize(
    ("path", "network"),
    [
        ("/home/drmartin/forfait-agent", False),
        ("/mnt/cabinet/forfait-agent", True),
        ("/mnt/cabinet", True),
        ("/mnt/cabinetX/forfait-agent", False),  # a prefix of the name is not the mount point
        ("/mnt/cabinet/local/forfait-agent", False),  # the deepest mount point wins
        ("/mnt/smb partage/données", True),  # /proc/mounts escapes the space
    ],
)
def test_network_file_systems_are_recognised_from_proc_mounts(
    monkeypatch: pytest.MonkeyPatch, path: str, network: bool
):
    monkeypatch.setattr(filesystem, "read_mounts", lambda: MOUNTS)
    assert filesystem.is_network_path(Path(path), platform="linux") is network


@pytest.mark.parametrize(
    ("path", "network"),
    [
        ("\\\\serveur\\partage\\forfait-agent", True),
        ("\\\\?\\UNC\\serveur\\partage\\forfait-agent", True),
        ("Z:\\forfait-agent", True),  # a mapped network drive
        ("C:\\Users\\drmartin\\AppData\\Local\\forfait-agent", False),
        ("\\\\?\\C:\\long\\chemin", False),
    ],
)
def test_unc_paths_and_mapped_drives_are_network_paths_on_windows(
    monkeypatch: pytest.MonkeyPatch, path: str, network: bool
):
    asked: list[str] = []
    monkeypatch.setattr(filesystem, "drive_type", lambda root: asked.append(root) or (4 if root == "Z:\\" else 3))
    assert filesystem.is_network_path(path, platform="win32") is network
    assert all(root.endswith(":\\") for root in asked)


def test_data_folder_on_a_share_uses_the_rollback_journal_and_status_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    home = tmp_path / "partage"
    monkeypatch.setattr(filesystem, "read_mounts", lambda: f"srv:/export {home} nfs4 rw 0 0\n")
    store = Store(home)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with store.transaction():
        store.set_meta("probe", "1")
    assert not Path(f"{store.path}-wal").exists()
    store.close()
    assert main(["--data-dir", str(home), "status"]) == 0
    out = capsys.readouterr().out
    assert "partage réseau" in out and "WAL" in out


def test_local_data_folder_keeps_wal(tmp_path: Path):
    store = Store(tmp_path / "local")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not store.on_network
    store.close()


# -- access lists on Windows, with `icacls` faked as a program on PATH -------------------------------
FAKE_ICACLS = """#!{python}
import sys
with open({log!r}, "a", encoding="utf-8") as log:
    log.write(repr(sys.argv[1:]) + "\\n")
if {fail}:
    sys.stdout.buffer.write("{{}} : Accès refusé.\\r\\n".format(sys.argv[1]).encode("cp850"))
    sys.exit(5)
"""


@pytest.fixture
def icacls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def install(*, fail: bool = False) -> Path:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        log = tmp_path / "icacls.log"
        tool = bin_dir / "icacls"
        tool.write_text(FAKE_ICACLS.format(python=sys.executable, log=str(log), fail=fail), encoding="utf-8")
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("USERDOMAIN", "CABINET")
        monkeypatch.setenv("USERNAME", "drmartin")
        return log

    return install


def calls(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_new_data_folder_on_windows_is_given_to_the_user_alone(tmp_path: Path, icacls):
    log = icacls()
    home = tmp_path / "D" / "forfait-agent"
    assert secure_data_dir(home, platform="win32") == []
    assert calls(log) == [repr([str(home), "/inheritance:r", "/grant:r", "CABINET\\drmartin:(OI)(CI)F"])]
    assert (home / "salt.key").exists()  # created under the restricted folder, so it inherits the grant
    (home / "config.toml").write_text("", encoding="utf-8")  # `init` wrote its file: the next command…
    assert secure_data_dir(home, platform="win32") == []  # …is silent and does not run icacls again
    assert len(calls(log)) == 1


def test_a_file_gets_a_grant_without_inheritance_flags(tmp_path: Path, icacls):
    log = icacls()
    salt = tmp_path / "salt.key"
    salt.write_text("00", encoding="utf-8")
    assert filesystem.restrict_to_owner(salt, platform="win32") is None
    assert calls(log) == [repr([str(salt), "/inheritance:r", "/grant:r", "CABINET\\drmartin:F"])]


def test_icacls_refusal_becomes_a_french_warning_read_in_the_oem_code_page(tmp_path: Path, icacls):
    icacls(fail=True)
    warnings = secure_data_dir(tmp_path / "new", platform="win32")
    assert len(warnings) == 1
    assert "réserver" in warnings[0] and "Accès refusé" in warnings[0] and "code 5" in warnings[0]


def test_missing_icacls_becomes_a_french_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("USERNAME", "drmartin")
    warning = filesystem.restrict_to_owner(tmp_path, platform="win32")
    assert warning and "icacls" in warning and "réserver" in warning


def test_a_folder_the_user_already_uses_is_left_alone_with_a_warning(tmp_path: Path, icacls):
    log = icacls()
    home = tmp_path / "Documents"
    home.mkdir()
    (home / "courrier.docx").write_bytes(b"x")
    warnings = secure_data_dir(home, platform="win32")
    assert calls(log) == [] and "droits d'accès ne sont pas modifiés" in warnings[0]
    assert secure_data_dir(home, platform="win32") == []  # said once, not at every command


def test_an_installed_data_folder_is_not_touched_again(tmp_path: Path, icacls):
    log = icacls()
    (tmp_path / "salt.key").write_text("00", encoding="utf-8")
    assert secure_data_dir(tmp_path, platform="win32") == [] and calls(log) == []


def test_acl_warning_is_printed_in_french_by_the_cli(tmp_path: Path, icacls, monkeypatch, capsys):
    icacls(fail=True)
    monkeypatch.setattr(sys, "platform", "win32")  # after every import: only the ACL branch sees it
    try:
        code = main(["--data-dir", str(tmp_path / "neuf"), "rules", "list"])
    finally:
        monkeypatch.undo()
    assert code == 0
    assert "attention : impossible de réserver" in capsys.readouterr().err


# -- logs ------------------------------------------------------------------------------------------
def test_commands_log_apart_from_the_agent(home: Path, tmp_path: Path):
    """The agent (`run`) alone writes and rotates forfait-agent.log (see test_live)."""
    cli(home, "scan", str(write_jsonl(tmp_path / "e.jsonl", [ev("consultation", "c1")])))
    logs = {p.name for p in (home / "logs").iterdir()}
    assert logs == {"commandes.log"}
    assert (home / "logs" / "commandes.log").stat().st_size > 0


def test_rotation_blocked_by_another_process_keeps_logging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Windows refuses to rename a file another process holds open: the record is still written."""
    path = tmp_path / "commandes.log"
    handler = YieldingRotatingFileHandler(path, maxBytes=100, backupCount=2, encoding="utf-8")
    logger = logging.getLogger("test_rotation_blocked")
    logger.addHandler(handler)
    logger.propagate = False

    def refuse(*args: object) -> None:
        raise PermissionError(13, "Le processus ne peut pas accéder au fichier")

    monkeypatch.setattr(os, "rename", refuse)
    monkeypatch.setattr(os, "replace", refuse)
    errors: list[BaseException] = []
    monkeypatch.setattr(handler, "handleError", lambda record: errors.append(sys.exc_info()[1]))
    try:
        for i in range(20):
            logger.warning("ligne %d %s", i, "x" * 20)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert errors == []
    text = path.read_text(encoding="utf-8")
    assert all(f"ligne {i} " in text for i in range(20))
    assert not (tmp_path / "commandes.log.1").exists()


# -- Microsoft Store Python ------------------------------------------------------------------------
STORE_PYTHON = (
    "C:\\Users\\drmartin\\AppData\\Local\\Microsoft\\WindowsApps\\"
    "PythonSoftwareFoundation.Python.3.12_qbz5n2kfra8p0\\python.exe"
)


def test_store_python_is_recognised_and_gets_a_data_folder_outside_appdata(monkeypatch: pytest.MonkeyPatch):
    assert paths.is_store_python(STORE_PYTHON)
    assert not paths.is_store_python("C:\\Users\\drmartin\\AppData\\Local\\Programs\\Python\\Python312\\python.exe")
    monkeypatch.delenv("FORFAIT_AGENT_HOME", raising=False)
    monkeypatch.setattr(sys, "executable", STORE_PYTHON)
    assert paths.data_dir() == Path.home() / "forfait-agent"


# -- paths longer than 260 characters ----------------------------------------------------------------
def windows_path_rules(real, refused: str):
    """An os function with Windows' classic limits: a path of 260 characters or more is not found
    unless it carries the `\\\\?\\` prefix (LongPathsEnabled off, the default); a folder named
    `refused` is denied even then."""

    def call(path, *args, **kwargs):
        text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
        if isinstance(text, str):
            if text.startswith("\\\\?\\"):
                text = text[4:]
            elif len(text) >= 260:
                raise FileNotFoundError(2, "Le chemin d'accès spécifié est introuvable", text)
            if Path(text).name == refused:
                raise PermissionError(13, "Accès refusé", text)
        return real(text, *args, **kwargs)

    return call


def test_scan_reads_a_tree_deeper_than_260_characters_and_names_a_folder_it_cannot_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    exports = tmp_path / "exports"
    deep = exports.joinpath(*["dossier-des-exports-du-logiciel-medical"] * 8)
    assert len(str(deep / "journal.jsonl")) > 300
    deep.mkdir(parents=True)
    (exports / "verrouillé").mkdir()
    write_jsonl(deep / "journal.jsonl", [ev("consultation", "profond-1"), ev("consultation", "profond-2")])
    write_jsonl(exports / "journal.jsonl", [ev("consultation", "court-1")])
    write_jsonl(exports / "verrouillé" / "journal.jsonl", [ev("consultation", "verrouillé-1")])
    home = tmp_path / "home"
    main(["--data-dir", str(home), "status"])  # the store exists before Windows' rules apply
    capsys.readouterr()

    kernel32 = FakeKernel32()  # opening a file: CreateFileW, faked (it strips the prefix)
    monkeypatch.setattr(fileio, "IS_WINDOWS", True)
    monkeypatch.setattr(fileio, "_kernel32", lambda: kernel32)
    monkeypatch.setattr(fileio, "_open_osfhandle", lambda handle, flags: kernel32.fds.pop(handle))
    monkeypatch.setattr(os, "scandir", windows_path_rules(os.scandir, "verrouillé"))
    monkeypatch.setattr(os, "stat", windows_path_rules(os.stat, "verrouillé"))

    code = main(["--data-dir", str(home), "scan", str(exports)])
    out = capsys.readouterr().out
    assert code == 2  # not all of the work was done: the user is told, and so is a script
    assert "événements nouveaux : 3" in out  # the short path and both lines of the deep one
    assert f"Dossier non lu : {exports / 'verrouillé'} — dossier illisible : accès refusé" in out
    assert any(name.startswith("\\\\?\\") and len(name) > 300 for name, *_ in kernel32.calls)
    monkeypatch.undo()
    report = json.loads(cli(home, "scan", "--json", str(exports)).stdout)
    assert (report["new"], report["errors"]) == (1, [])  # the folder's turn came: nothing was lost
