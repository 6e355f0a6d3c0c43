"""A store written before contract v2 is upgraded in place and recounted from its stored events."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from forfait_agent.store import DB_FILE, MIGRATIONS

from .conftest import RPPS_A, practitioner, score_json

V1_SCHEMA = 2  # the last schema of contract v1: documents ÷ consultations, no links


def _patient(name: str) -> str:
    """What a v1 store kept for a patient: a hex digest, never the identifier."""
    return hashlib.sha256(name.encode()).hexdigest()


def test_a_contract_v1_store_is_upgraded_in_place_and_linked_without_reading_any_file(home: Path):
    db = sqlite3.connect(home / DB_FILE)
    for script in MIGRATIONS[:V1_SCHEMA]:
        db.executescript(script)
    db.execute(f"PRAGMA user_version = {V1_SCHEMA}")
    # Read from a file that no longer exists: a recount that needed it would find nothing.
    db.execute(
        "INSERT INTO files (id, path, adapter, fp_len, fp_hash, offset, line_no, size, updated_at)"
        " VALUES (1, '/gone/export.jsonl', 'jsonl', 4, 'h', 100, 9, 100, '2026-03-03')"
    )
    a, b = _patient("a"), _patient("b")
    rows = [  # kind, id, day, patient, detail, flag
        ("consultation", "c1", "2026-03-02", a, "", 0),
        ("consultation", "c2", "2026-03-02", b, "", 0),
        ("consultation", "c3", "2026-03-02", None, "", 0),
        ("dmp_document", "d1", "2026-03-02", a, "", 0),  # three documents after one visit
        ("dmp_document", "d2", "2026-03-02", a, "", 0),
        ("dmp_document", "d3", "2026-03-02", a, "", 0),
        ("dmp_document", "d4", "2026-03-05", b, "", 0),  # three days later: not the same day
        ("teleservice", "t1", "2026-03-02", None, "aat", 1),
        ("teleservice", "t2", "2026-03-02", None, "aat", 0),
    ]
    db.executemany(
        "INSERT INTO events (kind, id, practitioner, day, at, patient, detail, flag, file_id)"
        " VALUES (?, ?, ?, ?, ? || 'T10:00:00+01:00', ?, ?, ?, 1)",
        [(kind, ident, RPPS_A, day, day, patient, detail, flag) for kind, ident, day, patient, detail, flag in rows],
    )
    db.execute(
        "INSERT INTO counts (practitioner, day, kind, detail, flag, n)"
        " SELECT practitioner, day, kind, detail, flag, COUNT(*) FROM events GROUP BY 1, 2, 3, 4, 5"
    )
    db.commit()
    db.close()

    entry = practitioner(score_json(home), RPPS_A)
    dmp = entry["metrics"]["dmp"]
    # v1 said 4 documents ÷ 3 consultations; v2 counts the one visit with a document that day.
    assert (dmp["numerator"], dmp["denominator"], dmp["unlinked"], dmp["without_patient"]) == (1, 3, 1, 1)
    assert (entry["metrics"]["dmp_documents"]["numerator"], entry["metrics"]["teleservice:aat"]["rate"]) == (4, 0.5)
    with sqlite3.connect(home / DB_FILE) as again:
        assert again.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
