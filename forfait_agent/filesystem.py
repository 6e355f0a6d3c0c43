"""What the data folder sits on, and keeping it to its owner, on every OS.

- SQLite's WAL needs shared memory between processes, which network file systems (SMB/CIFS
  shares, NFS) do not provide: on a share the database uses the classic rollback journal.
- `chmod 0600` means nothing on Windows: there the data folder and the salt get an access control
  list that names the user alone (`icacls`), or the user is told in French that it failed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PureWindowsPath

# File systems whose locking or shared memory SQLite's WAL cannot rely on (Linux /proc/mounts names).
NETWORK_FS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ncpfs", "ceph", "glusterfs", "fuse.sshfs", "davfs"}
)
DRIVE_REMOTE = 4  # GetDriveTypeW: "the drive is a remote (network) drive"


def drive_type(root: str) -> int:
    """GetDriveTypeW for a drive root such as 'D:\\' (Windows only)."""
    import ctypes

    return int(ctypes.windll.kernel32.GetDriveTypeW(root))  # type: ignore[attr-defined]


def read_mounts() -> str:
    return Path("/proc/mounts").read_text(encoding="utf-8", errors="surrogateescape")


def _unescape_mount(field: str) -> str:
    """/proc/mounts writes a space as \\040, a tab as \\011, a backslash as \\134."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def is_network_path(path: Path | str, platform: str | None = None) -> bool:
    """True when the absolute `path` is on a network share (UNC, mapped drive, NFS, CIFS…)."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        drive = PureWindowsPath(path).drive
        if drive.startswith(("\\\\?\\", "\\\\.\\")):  # \\?\C:\… or \\?\UNC\server\share\…
            drive = drive[4:]
            if drive.upper().startswith("UNC"):
                return True
        if drive.startswith("\\\\"):  # \\server\share
            return True
        if not drive:
            return False
        try:
            return drive_type(drive + "\\") == DRIVE_REMOTE
        except (OSError, AttributeError, ValueError):
            return False
    if not platform.startswith("linux"):
        return False
    try:
        mounts = read_mounts()
    except OSError:
        return False
    target = str(Path(path).absolute())
    best, best_type = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point, fs_type = _unescape_mount(fields[1]), fields[2]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, fs_type
    return best_type in NETWORK_FS


def windows_user() -> str:
    domain, user = os.environ.get("USERDOMAIN", ""), os.environ.get("USERNAME", "")
    return f"{domain}\\{user}" if domain and user else user


def run_icacls(args: list[str]) -> tuple[int, str]:
    import subprocess

    from .service import tool_encoding

    proc = subprocess.run(["icacls", *args], capture_output=True, timeout=60)
    return proc.returncode, (proc.stdout + proc.stderr).decode(tool_encoding("win32"), errors="replace").strip()


def restrict_to_owner(path: Path, platform: str | None = None) -> str | None:
    """Make `path` (file or folder) readable by the current user only; a French warning if not.

    Windows: inherited permissions are removed and the user alone gets full control (a folder's
    grant is inherited by what is created in it later). POSIX: mode 0700 / 0600.
    """
    platform = platform or sys.platform
    if not platform.startswith("win"):
        try:
            path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError as exc:
            return f"impossible de réserver {path} à votre compte ({exc.strerror or exc})"
        return None
    user = windows_user()
    if not user:
        return f"impossible de réserver {path} à votre compte : utilisateur Windows inconnu (USERNAME vide)"
    grant = f"{user}:(OI)(CI)F" if path.is_dir() else f"{user}:F"
    import subprocess  # Windows only: 4 ms to import, which every command that opens the store paid

    try:
        code, output = run_icacls([str(path), "/inheritance:r", "/grant:r", grant])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"impossible de réserver {path} à votre compte (icacls : {exc})"
    if code != 0:
        return f"impossible de réserver {path} à votre compte (icacls, code {code} : {output})"
    return None


# Characters a file name may hold that would act on a terminal instead of showing: control
# characters (a newline starts a fake line of output, ESC colours it or retitles the window) and
# the bidirectional overrides that show a name backwards.
_UNSHOWABLE = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}


def path_text(path: str | os.PathLike[str]) -> str:
    """A path as text that SQLite, JSON and every console accept, and that shows as what it is.
    A name that is not valid UTF-8 (raw bytes on POSIX, a lone surrogate on Windows) shows its
    odd bytes as `\\xNN`; control characters and bidirectional overrides are escaped the same way."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = os.fsencode(text).decode("utf-8", "backslashreplace")
    return showable(text)


def showable(text: str) -> str:
    """`text` with its control characters and bidirectional overrides escaped (`\\x1b`)."""
    return text.translate(_UNSHOWABLE)
