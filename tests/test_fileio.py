"""Watched files are opened so that the practice software can still rename or delete them.

The Windows branch is exercised with the Win32 calls faked (what is asserted is what we ask
Windows for); the POSIX branch runs for real.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from forfait_agent import fileio


class FakeKernel32:
    """Records CreateFileW calls; 'opens' the file with os.open so reads really happen."""

    def __init__(self, fail_with: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.closed: list[int] = []
        self.fail_with = fail_with
        self.fds: dict[int, int] = {}

    def CreateFileW(self, name, access, share, security, disposition, flags, template):
        self.calls.append((name, access, share, security, disposition, flags, template))
        if self.fail_with is not None:
            return fileio.INVALID_HANDLE_VALUE
        plain = name.removeprefix("\\\\?\\")
        handle = 0x1000 + len(self.calls)
        self.fds[handle] = os.open(plain, os.O_RDONLY)
        return handle

    def CloseHandle(self, handle):
        self.closed.append(handle)


@pytest.fixture
def windows(monkeypatch):
    kernel32 = FakeKernel32()
    flags_seen: list[int] = []

    def open_osfhandle(handle: int, flags: int) -> int:
        flags_seen.append(flags)
        return kernel32.fds.pop(handle)

    monkeypatch.setattr(fileio, "IS_WINDOWS", True)
    monkeypatch.setattr(fileio, "_kernel32", lambda: kernel32)
    monkeypatch.setattr(fileio, "_open_osfhandle", open_osfhandle)
    monkeypatch.setattr(fileio, "_last_error", lambda: kernel32.fail_with)
    return kernel32, flags_seen


def test_windows_opens_with_read_write_and_delete_sharing(windows, tmp_path: Path):
    kernel32, flags_seen = windows
    path = tmp_path / "journal.csv"
    path.write_bytes(b"a;b\n")
    with fileio.open_shared(path) as handle:
        assert handle.read() == b"a;b\n"
    ((name, access, share, security, disposition, _flags, template),) = kernel32.calls
    assert name == str(path)
    assert access == fileio.GENERIC_READ
    assert share == fileio.FILE_SHARE_READ | fileio.FILE_SHARE_WRITE | fileio.FILE_SHARE_DELETE == 7
    assert disposition == fileio.OPEN_EXISTING
    assert security is None and template is None
    assert flags_seen == [os.O_RDONLY | getattr(os, "O_BINARY", 0)]


@pytest.mark.parametrize(("code", "exc"), [(2, FileNotFoundError), (5, PermissionError), (32, PermissionError)])
def test_windows_errors_become_the_usual_python_errors(windows, tmp_path: Path, code: int, exc: type):
    kernel32, _ = windows
    kernel32.fail_with = code
    with pytest.raises(exc) as raised:
        fileio.open_shared(tmp_path / "absent.csv")
    assert raised.value.filename == str(tmp_path / "absent.csv")


def test_windows_long_paths_get_the_extended_prefix(windows, monkeypatch):
    monkeypatch.setattr(fileio.os.path, "abspath", lambda p: p)
    deep = "C:\\LGC\\" + "\\".join(["dossier-export-patients"] * 12) + "\\journal.csv"
    assert len(deep) > 260
    assert fileio.long_path(deep) == "\\\\?\\" + deep
    unc = "\\\\serveur\\partage\\" + "x" * 260
    assert fileio.long_path(unc) == "\\\\?\\UNC\\serveur\\partage\\" + "x" * 260
    assert fileio.long_path("C:\\court\\journal.csv") == "C:\\court\\journal.csv"
    assert fileio.long_path("\\\\?\\" + deep) == "\\\\?\\" + deep


def test_windows_handle_is_closed_when_it_cannot_become_a_file(windows, monkeypatch, tmp_path: Path):
    kernel32, _ = windows

    def refuse(handle: int, flags: int) -> int:
        os.close(kernel32.fds.pop(handle))
        raise OSError(errno.EMFILE, "too many open files")

    monkeypatch.setattr(fileio, "_open_osfhandle", refuse)
    path = tmp_path / "j.csv"
    path.write_bytes(b"x")
    with pytest.raises(OSError):
        fileio.open_shared(path)
    assert kernel32.closed == [0x1001]


@pytest.mark.skipif(os.name == "nt", reason="the POSIX branch")
def test_posix_the_writer_can_rotate_and_delete_while_we_read(tmp_path: Path):
    path = tmp_path / "app.log"
    path.write_bytes(b"line 1\nline 2\n")
    assert fileio.long_path(str(path)) == str(path)
    with fileio.open_shared(path) as handle:
        assert handle.readline() == b"line 1\n"
        path.rename(tmp_path / "app.log.1")  # the LGC rotates during our read
        (tmp_path / "app.log.1").unlink()
        assert handle.readline() == b"line 2\n"  # and our read completes
    assert not path.exists()
