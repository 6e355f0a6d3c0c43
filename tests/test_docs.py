"""The project documents itself: every relative link of the README and docs/ resolves inside the
repository, and nothing points to material that a clone does not have."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(ROOT.glob("plugins/*/README.md"))]
TEXT_SUFFIXES = {".md", ".py", ".toml", ".txt", ".html", ".j2", ".json", ".yml", ".yaml"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(page.read_text(encoding="utf-8")) if not re.match(r"[a-z]+:|#", t)]


def test_the_contract_and_the_rules_grammar_are_documented():
    names = {p.name for p in PAGES}
    assert {"contract.md", "rules.md"} <= names
    readme_links = relative_links(ROOT / "README.md")
    assert "docs/contract.md" in readme_links and "docs/rules.md" in readme_links


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(page: Path):
    for target in relative_links(page):
        resolved = (page.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert resolved.exists(), f"{page.name}: broken link {target}"


def test_nothing_mentions_the_shared_folder_outside_the_repository():
    needle = "../" + "shared"  # spelled apart so that this file does not match itself
    skipped = {".venv", ".git", "test-artifacts", "node_modules", "__pycache__", "build", "dist"}
    offenders = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skipped and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            if path.suffix in TEXT_SUFFIXES and needle in path.read_text(encoding="utf-8", errors="replace"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
