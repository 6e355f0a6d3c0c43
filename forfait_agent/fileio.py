"""Opening the practice software's files without getting in its way.

On Windows, Python's `open()` denies other programs the right to delete or rename a file while
it is open, so the LGC's own rotation fails during our reads (a batch or a backfill can take
minutes on an old PC). Watched files are therefore opened with full sharing: `CreateFileW` with
FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, turned into a Python file through
`msvcrt.open_osfhandle`. Paths too long for the classic Win32 API get the `\\\\?\\` prefix, so a
deeply nested export is read rather than skipped.

`open_source` also reads a rotated log that was compressed (gzip, bzip2, xz) before the agent
drained it: offsets and fingerprints are those of the decompressed content.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import stat
import struct
from typing import Any, BinaryIO, cast

IS_WINDOWS = os.name == "nt"
MAX_PATH = 260
GENERIC_READ = 0x80000000
FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_SHARE_DELETE = 0x1, 0x2, 0x4
FILE_SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
OPEN_EXISTING = 3
FILE_ATTRIBUTE_NORMAL = 0x80
INVALID_HANDLE_VALUE = (1 << (8 * struct.calcsize("P"))) - 1  # (HANDLE)-1 as a c_void_p result
# Win32 error codes → errno, so callers see FileNotFoundError / PermissionError as with open().
_ERRNO = {2: errno.ENOENT, 3: errno.ENOENT, 5: errno.EACCES, 32: errno.EACCES, 206: errno.ENAMETOOLONG}


def long_path(path: str) -> str:
    """On Windows, an absolute `\\\\?\\`-prefixed path when `path` is too long for the classic
    API (the prefix also turns off normalisation, hence the absolute form). Unchanged elsewhere."""
    if not IS_WINDOWS or len(path) < MAX_PATH - 12 or path.startswith("\\\\?\\"):
        return path
    full = os.path.abspath(path)
    if full.startswith("\\\\"):  # \\server\share\… → \\?\UNC\server\share\…
        return "\\\\?\\UNC\\" + full[2:]
    return "\\\\?\\" + full


def open_shared(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a watched file for binary reading without locking others out of it. Only a regular
    file is opened: a named pipe would block the agent (at the open, until a writer comes) and a
    device (`/dev/zero`) never ends — both raise OSError(ENODEV)."""
    if IS_WINDOWS:
        return _open_windows(os.fspath(path))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            code = errno.EISDIR if stat.S_ISDIR(mode) else errno.ENODEV
            raise OSError(code, os.strerror(code), os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_COMPRESSED: tuple[tuple[bytes, Any], ...] = (
    (b"\x1f\x8b", gzip.GzipFile),
    (b"BZh", bz2.BZ2File),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
)


class Archive:
    """The decompressed content of a compressed file, readable and seekable like the file it
    was (seeking backwards decompresses again from the start: archives are read once)."""

    def __init__(self, stream: Any, raw: BinaryIO) -> None:
        self._stream, self._raw = stream, raw

    def read(self, size: int = -1) -> bytes:
        return cast(bytes, self._stream.read(size))

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return cast(int, self._stream.seek(offset, whence))

    def tell(self) -> int:
        return cast(int, self._stream.tell())

    def fileno(self) -> int:
        return self._raw.fileno()

    def size(self) -> int:
        """Decompressed length (reads the whole stream once, in constant memory)."""
        here = self.tell()
        total = self.seek(0, os.SEEK_SET)
        while chunk := self._stream.read(1 << 20):
            total += len(chunk)
        self.seek(here)
        return total

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._raw.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(path: str | os.PathLike[str]) -> BinaryIO:
    """`open_shared`, decompressing a gzip, bzip2 or xz file (told by its first bytes)."""
    raw = open_shared(path)
    try:
        head = raw.read(6)
        raw.seek(0)
    except OSError:
        raw.close()
        raise
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            return cast(BinaryIO, Archive(opener(fileobj=raw) if opener is gzip.GzipFile else opener(raw), raw))
    return raw


def _open_windows(path: str) -> BinaryIO:
    kernel32 = _kernel32()
    handle = kernel32.CreateFileW(
        long_path(path), GENERIC_READ, FILE_SHARE_ALL, None, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, None
    )
    if handle is None or handle in (INVALID_HANDLE_VALUE, -1):
        code = _last_error()
        raise OSError(_ERRNO.get(code, errno.EIO), f"erreur Windows {code}", path)
    try:
        fd = _open_osfhandle(handle, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        kernel32.CloseHandle(handle)
        raise
    return os.fdopen(fd, "rb")


def _kernel32() -> Any:
    """kernel32 with the signatures used here (64-bit handles must not be truncated to int)."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.CreateFileW.argtypes = [
        wintypes.LPCWSTR,
        wintypes.DWORD,
        wintypes.DWORD,
        ctypes.c_void_p,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.HANDLE,
    ]
    kernel32.CreateFileW.restype = ctypes.c_void_p
    kernel32.CloseHandle.argtypes = [ctypes.c_void_p]
    return kernel32


def _last_error() -> int:
    import ctypes

    return ctypes.get_last_error()  # type: ignore[attr-defined]


def _open_osfhandle(handle: int, flags: int) -> int:
    import msvcrt

    return msvcrt.open_osfhandle(handle, flags)  # type: ignore[attr-defined]
