"""JSON Schemas of the contract, generated from its pydantic models.

    python -m forfait_agent.schema [DOSSIER]           # write them (default: docs/schema)
    python -m forfait_agent.schema --check [DOSSIER]   # exit 1 if a written one is out of date

events.schema.json describes one canonical event (a line of a .jsonl journal), discriminated by
`kind`; score.schema.json describes what `score --json` prints. tests/test_schema.py keeps the
files in docs/schema/ equal to what this module generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .events import EVENT_ADAPTER
from .scorejson import ScoreJson

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_FOLDER = Path("docs") / "schema"


def _with_header(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    header = {"$schema": DIALECT, "title": title, "description": description}
    return {**header, **{key: value for key, value in schema.items() if key not in header}}


def schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema."""
    events = _with_header(
        EVENT_ADAPTER.json_schema(),
        "forfait-agent canonical event",
        "One canonical event: a line of a .jsonl journal, or what an adapter returns for a record. "
        "Unknown keys are ignored. See docs/contract.md.",
    )
    score = _with_header(
        ScoreJson.model_json_schema(),
        "forfait-agent score --json",
        "What `forfait-agent score --json` prints. See docs/contract.md.",
    )
    return {"events.schema.json": events, "score.schema.json": score}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forfait_agent.schema", description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER, help="dossier des schémas")
    parser.add_argument("--check", action="store_true", help="vérifier sans écrire (code 1 si périmé)")
    args = parser.parse_args(argv)
    stale = []
    for name, schema in schemas().items():
        path = args.folder / name
        text = render(schema)
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
        else:
            args.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"écrit : {path}")
    if stale:
        print(f"schémas périmés : {', '.join(stale)} — régénérez : python -m forfait_agent.schema", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
