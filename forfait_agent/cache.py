"""Validated rules files and settings kept between runs, in the data folder's `cache/`.

Validating a rules file or config.toml makes pydantic build the models' validators first (and
import `importlib.metadata` to look for its own plugins): most of what a cold `score` spent
before printing anything. The validated objects are kept pickled under a key made of all they
derive from: the input file's path, size, modification time and bytes, the source of the
modules that define and check them, the versions of Python, pydantic and forfait-agent. A warm
start unpickles them instead, and the models being `defer_build`, their validators are never
built.

A cache is only a shortcut: an entry that is missing, unreadable, damaged, or made for other
inputs or another version is ignored and replaced, never an error; a data folder that cannot be
written simply gets none. Keys are kept as digests, and the unpickler accepts only the classes
it is given and a few plain types, so a file put there cannot make it call anything else.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from types import ModuleType
from typing import Any

from . import __version__

CACHE_DIR = "cache"
FORMAT = 1  # bumped when the entry layout changes

# What pickles of pydantic models, paths and TOML values refer to, besides the models themselves.
PLAIN: frozenset[tuple[str, str]] = frozenset(
    {
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("pathlib", "Path"),
        ("pathlib", "PosixPath"),
        ("pathlib", "WindowsPath"),
    }
)


def _digest(key: object) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()


def read_text(data: bytes) -> str:
    """`data` decoded as `Path.read_text(encoding="utf-8")` decodes a file (newlines translated)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()


def file_key(path: Path, data: bytes) -> tuple[object, ...]:
    """An input file as a key: where it is, its size and modification time, its bytes' digest."""
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns, hashlib.sha256(data).hexdigest())


def code_key(modules: Iterable[ModuleType]) -> tuple[object, ...] | None:
    """The code an entry depends on: the source of `modules` and the versions around them.
    None (no caching) when a module's file cannot be read."""
    from pydantic.version import VERSION
    from pydantic_core import __version__ as core_version

    digest = hashlib.sha256()
    for module in modules:
        try:
            digest.update(Path(module.__file__ or "").read_bytes())
        except OSError:
            return None
    return (FORMAT, sys.version, __version__, VERSION, core_version, digest.hexdigest())


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, classes: Iterable[type]) -> None:
        super().__init__(io.BytesIO(data))
        self._allowed = {(c.__module__, c.__qualname__): c for c in classes}

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is not None:
            return found
        if (module, name) in PLAIN:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} n'est pas attendu dans ce cache")


class Cache:
    """Entries of one data folder; `folder` None: nothing is kept (every lookup misses)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def get(self, name: str, key: object, classes: Iterable[type]) -> Any | None:
        """The value stored under `name` if it was stored with `key`, else None."""
        if self.folder is None:
            return None
        try:
            data = (self.folder / name).read_bytes()
            stored_key, value = _Unpickler(data, classes).load()
        except Exception:  # noqa: BLE001 - missing, damaged, foreign: a miss, whatever the error
            return None
        return value if stored_key == _digest(key) else None

    def put(self, name: str, key: object, value: Any) -> None:
        """Store `value` under `name` and `key`, atomically, readable by the user only."""
        if self.folder is None:
            return
        import tempfile

        tmp = None
        try:
            with suppress(Exception):  # a cache that cannot be written is only a slower next start
                data = pickle.dumps((_digest(key), value), protocol=pickle.HIGHEST_PROTOCOL)
                self.folder.mkdir(mode=0o700, exist_ok=True)
                handle, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.folder)  # mode 0600
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(tmp, self.folder / name)
                tmp = None
        finally:
            if tmp is not None:
                with suppress(OSError):
                    os.unlink(tmp)
