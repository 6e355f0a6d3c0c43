"""`forfait-agent plugin new NAME`: a complete adapter plugin, green on its first `pytest`.

The shipped example plugin (plugins/forfait-agent-example) is exactly this output for the name
`example`, and a test keeps it so: the template never rots apart from what vendors are shown.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import PackageNotFoundError, distribution
from importlib.resources import files
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from . import __version__

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
PREFIX = "forfait-agent-"


class ScaffoldError(ValueError):
    """A name or a target folder that cannot be used (message in French, for the CLI)."""


def names(name: str) -> dict[str, str]:
    """Every name derived from NAME: distribution, package, adapter class, sample file…"""
    name = name.strip().lower().removeprefix(PREFIX)
    if not _NAME.match(name) or len(name) > 40:
        raise ScaffoldError(
            f"nom de greffon invalide « {name[:50]} » : lettres minuscules, chiffres et tirets (ex. : monlgc)"
        )
    module = name.replace("-", "_")
    return {
        "name": name,
        "module": module,
        "dist": PREFIX + name,
        "package": "forfait_agent_" + module,
        "cls": "".join(part.capitalize() for part in name.split("-")) + "Adapter",
        "sample": f"{name}-2026-03.log",
        "core_version": __version__,
    }


def render(name: str) -> dict[str, str]:
    """Relative path → text of every file of the plugin NAME."""
    values = names(name)
    layout = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"{values['package']}/__init__.py": "__init__.py.tmpl",
        f"{values['package']}/adapter.py": "adapter.py.tmpl",
        f"tests/test_{values['module']}.py": "test_plugin.py.tmpl",
        f"tests/samples/{values['sample']}": "sample.log.tmpl",
    }
    templates = files("forfait_agent") / "templates" / "plugin"
    out = {}
    for target, source in layout.items():
        text = (templates / source).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{ " + key + " }}", value)
        out[target] = text
    return out


def create(name: str, parent: Path) -> Path:
    """Write the plugin NAME under `parent`/forfait-agent-NAME; never overwrite anything."""
    rendered = render(name)
    root = parent / names(name)["dist"]
    if root.exists():
        raise ScaffoldError(f"{root} existe déjà : choisissez un autre nom ou un autre dossier (--dir)")
    for relative, text in rendered.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    return root


def core_requirement(source: Path, direct_url: str | None) -> str | None:
    """The pip arguments that install the core in the plugin's fresh venv, as this one was
    installed: the source checkout this module runs from, else the local folder (editable) or
    archive pip installed it from (PEP 610 direct_url.json); None when it came from a package
    index, where the plugin's own dependency finds it."""
    if (source / "pyproject.toml").is_file():
        return f'-e "{source}"'
    info = json.loads(direct_url) if direct_url else {}
    url = urlparse(info.get("url", ""))
    if url.scheme != "file":
        return None
    path = url2pathname(unquote(url.path))
    return f'-e "{path}"' if "dir_info" in info else f'"{path}"'


def installed_core() -> str | None:
    """`core_requirement` of the running forfait-agent."""
    try:
        direct_url = distribution("forfait-agent").read_text("direct_url.json")
    except PackageNotFoundError:
        direct_url = None
    return core_requirement(Path(__file__).resolve().parent.parent, direct_url)
