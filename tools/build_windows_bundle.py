"""Build the Windows x64 archive a cabinet installs without admin rights and without the Internet.

    python tools/build_windows_bundle.py [--out dist] [--check]

The archive holds the project and its vendor plugins as wheels, every dependency's `win_amd64`
(or pure Python) wheel for each supported Python, a French `installer.cmd` that makes a per-user
virtual environment with the Python already installed (`py` launcher) and registers the
scheduled task, a `desinstaller.cmd`, and a French `LISEZMOI.txt`. `--check` proves the wheel
folder complete: pip resolves the whole installation from it alone, for each Python, as Windows
x64 would. Needs a package index for the dependencies (not for the check).
"""

from __future__ import annotations

import argparse
import email.parser
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.11", "3.12", "3.13", "3.14")  # what the wheels are downloaded for (see docs/windows.md)
PLATFORM = "win_amd64"
WHEELS = "paquets"  # the wheel folder inside the archive
EXCLUDED_PLUGINS = {"forfait-agent-example"}  # a template for vendors, not for cabinets


def plugin_dirs() -> list[Path]:
    """The vendor plugins shipped to cabinets: every plugins/<name> with a pyproject.toml."""
    found = (p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    return sorted(p for p in found if p.name not in EXCLUDED_PLUGINS)


def project_name(source: Path) -> str:
    return tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """A wheel's declared requirements (Requires-Dist), markers included."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.Parser().parsestr(archive.read(metadata).decode("utf-8"))
    return [Requirement(req) for req in message.get_all("Requires-Dist") or []]


def windows_environment(version: str) -> dict[str, str]:
    """Marker values of CPython `version` on Windows x64: pip evaluates markers for the machine it
    runs on, so a Windows-only dependency would be missed when building on Linux."""
    return {
        "os_name": "nt",
        "sys_platform": "win32",
        "platform_system": "Windows",
        "platform_machine": "AMD64",
        "platform_release": "10",
        "platform_version": "10.0.19045",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "implementation_version": f"{version}.0",
        "python_version": version,
        "python_full_version": f"{version}.0",
        "extra": "",
    }


def installable(wheel: Path, version: str) -> bool:
    """Whether CPython `version` on Windows x64 can install this wheel file (its tags, abi3 included)."""
    python = tuple(int(part) for part in version.split("."))
    supported = {
        *cpython_tags(python_version=python, platforms=[PLATFORM]),
        *compatible_tags(python_version=python, interpreter=f"cp{python[0]}{python[1]}", platforms=[PLATFORM]),
    }
    return not supported.isdisjoint(parse_wheel_filename(wheel.name)[3])


def missing_for(wheels: Path, names: list[str], version: str) -> list[str]:
    """Requirements of the installation that no wheel in `wheels` satisfies on Windows, for `version`
    (the closure over every wheel's requirements, markers evaluated for Windows)."""
    available: dict[str, list[tuple[Path, str]]] = {}
    for wheel in wheels.glob("*.whl"):
        if installable(wheel, version):
            name, wheel_version, _, _ = parse_wheel_filename(wheel.name)
            available.setdefault(name, []).append((wheel, str(wheel_version)))
    environment = windows_environment(version)
    todo = [Requirement(name) for name in names]
    seen: set[tuple[str, ...]] = set()
    missing: list[str] = []
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        matching = [w for w, v in available.get(name, []) if requirement.specifier.contains(v, prereleases=True)]
        if not matching:
            missing.append(str(requirement))
            continue
        if (name, *sorted(requirement.extras)) in seen:
            continue
        seen.add((name, *sorted(requirement.extras)))
        newest = max(matching, key=lambda w: parse_wheel_filename(w.name)[1])
        extras = {"", *requirement.extras}
        todo += [
            r
            for r in wheel_requirements(newest)
            if r.marker is None or any(r.marker.evaluate({**environment, "extra": e}) for e in extras)
        ]
    return sorted(set(missing))


def clean_pip_env() -> dict[str, str]:
    """pip without this machine's configuration: only what the command line says is used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def pip(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", *args]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, env=env)


def build_wheels(wheels: Path, sources: list[Path]) -> None:
    """Our own wheels, built from the sources (no dependency fetched here)."""
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), *map(str, sources))


def download(wheels: Path, requirements: list[str], version: str) -> None:
    pip(
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--platform",
        PLATFORM,
        "--python-version",
        version,
        "--implementation",
        "cp",
        "--find-links",
        str(wheels),
        "--dest",
        str(wheels),
        *requirements,
    )


def download_dependencies(wheels: Path, names: list[str], pythons: tuple[str, ...]) -> None:
    """Every dependency of our wheels, as wheels Windows x64 can install, for each Python.

    pip resolves the tree; what it skipped because a marker is false on this (build) machine but
    true on Windows is then fetched too, until nothing is missing.
    """
    own = {canonicalize_name(n) for n in names}
    for version in pythons:
        for _ in range(10):
            missing = [
                r for r in missing_for(wheels, names, version) if canonicalize_name(Requirement(r).name) not in own
            ]
            if not missing:
                break
            download(wheels, [str(_without_marker(Requirement(r))) for r in missing], version)
        else:
            raise SystemExit(f"dépendances introuvables pour Python {version} : {', '.join(missing)}")


def _without_marker(requirement: Requirement) -> Requirement:
    requirement.marker = None
    return requirement


def check_complete(wheels: Path, names: list[str], pythons: tuple[str, ...]) -> None:
    """pip resolves the whole installation from the wheel folder alone, for each Python."""
    for version in pythons:
        with tempfile.TemporaryDirectory() as target:
            pip(
                "install",
                "--dry-run",
                "--quiet",
                "--no-index",
                "--find-links",
                str(wheels),
                "--platform",
                PLATFORM,
                "--only-binary=:all:",
                "--python-version",
                version,
                "--implementation",
                "cp",
                "--target",
                target,
                *names,
                env=clean_pip_env(),
            )
        missing = missing_for(wheels, names, version)
        if missing:
            raise SystemExit(f"incomplet pour Python {version} sous Windows : {', '.join(missing)}")
        print(f"complet pour Python {version} ({PLATFORM})", flush=True)


def _template(name: str, values: dict[str, str]) -> str:
    text = (Path(__file__).parent / "windows" / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def batch_file(name: str, **values: str) -> bytes:
    """A .cmd in the OEM code page cmd.exe reads batch files in (cp850 on French Windows), CRLF."""
    return _template(name, values).encode("cp850")


def text_file(name: str, **values: str) -> bytes:
    """A French text file for Notepad: UTF-8 with a BOM (every Windows version reads it), CRLF."""
    return "\ufeff".encode() + _template(name, values).encode("utf-8")


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def build(out: Path, pythons: tuple[str, ...], check: bool) -> Path:
    folder_name = f"forfait-agent-windows-x64-{version()}"
    staging = out / folder_name
    shutil.rmtree(staging, ignore_errors=True)
    wheels = staging / WHEELS
    wheels.mkdir(parents=True)
    sources = [ROOT, *plugin_dirs()]
    build_wheels(wheels, sources)
    names = [project_name(s) for s in sources]
    download_dependencies(wheels, names, pythons)
    if check:
        check_complete(wheels, names, pythons)
    newest_first = " ".join(sorted(pythons, key=lambda v: tuple(map(int, v.split("."))), reverse=True))
    (staging / "installer.cmd").write_bytes(batch_file("installer.cmd", PYTHONS=newest_first, PACKAGES=" ".join(names)))
    (staging / "desinstaller.cmd").write_bytes(batch_file("desinstaller.cmd"))
    (staging / "LISEZMOI.txt").write_bytes(
        text_file("LISEZMOI.txt", VERSION=version(), PYTHONS=", ".join(pythons), PLUGINS=", ".join(names[1:]))
    )
    archive = out / f"{folder_name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(staging.rglob("*")):
            zipped.write(path, path.relative_to(out))
    print(f"Archive : {archive} ({archive.stat().st_size / 1e6:.1f} Mo, {len(list(wheels.glob('*.whl')))} paquets)")
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the archive is written")
    parser.add_argument("--python", action="append", help=f"a Python version (default: {', '.join(PYTHONS)})")
    parser.add_argument("--check", action="store_true", help="prove the wheel folder complete for each Python")
    args = parser.parse_args()
    build(args.out.resolve(), tuple(args.python or PYTHONS), args.check)


if __name__ == "__main__":
    main()
