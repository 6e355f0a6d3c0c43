"""Durable state in one SQLite file: events, per-day counts, file positions, quarantine.

Per-day counts are kept beside the events (in the same transaction), so a score is an aggregate
over a few thousand rows whatever the number of events.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .filesystem import is_network_path
from .privacy import Gate, GatedConnection, Hasher, Verbatim, load_or_create_salt
from .tally import LINK_HORIZON_DAYS, CountKey, Link, Tally

DB_FILE = "forfait-agent.sqlite3"
BUSY_SLICE_MS = 1000  # SQLite's own wait for a lock: short, so that Ctrl-C is felt within a second
BUSY_BACKOFF_MAX = 30.0  # seconds between two attempts at a lock another program keeps

# Forward-only migrations; index + 1 is the resulting `user_version`.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        practitioner TEXT NOT NULL,
        day TEXT NOT NULL,            -- Europe/Paris calendar day, YYYY-MM-DD
        at TEXT NOT NULL,             -- ISO 8601 with offset
        patient TEXT,                 -- salted HMAC, never the identifier itself
        detail TEXT NOT NULL DEFAULT '',  -- fse: vitale mode; teleservice: service
        flag INTEGER NOT NULL DEFAULT 0,  -- the numerator flag of the kind
        info TEXT,                    -- non-identifying extra: MSS domain, DMP document type
        attribution TEXT,             -- identity the practitioner was derived from, for re-attribution
        file_id INTEGER,              -- files.id of the file it was read from
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;

    CREATE TABLE counts (
        practitioner TEXT NOT NULL,
        day TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        flag INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (day, practitioner, kind, detail, flag)
    ) WITHOUT ROWID;

    -- Inserts update `counts` in bulk from Python (Store.insert_events); the triggers keep
    -- them right whatever else changes an event (re-attribution, deletion).
    CREATE TRIGGER events_ad AFTER DELETE ON events BEGIN
        UPDATE counts SET n = n - 1
        WHERE practitioner = OLD.practitioner AND day = OLD.day AND kind = OLD.kind
          AND detail = OLD.detail AND flag = OLD.flag;
    END;
    CREATE TRIGGER events_au AFTER UPDATE OF practitioner, day, detail, flag ON events BEGIN
        UPDATE counts SET n = n - 1
        WHERE practitioner = OLD.practitioner AND day = OLD.day AND kind = OLD.kind
          AND detail = OLD.detail AND flag = OLD.flag;
        INSERT INTO counts (practitioner, day, kind, detail, flag, n)
        VALUES (NEW.practitioner, NEW.day, NEW.kind, NEW.detail, NEW.flag, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE INDEX events_attribution ON events (attribution) WHERE attribution IS NOT NULL;

    CREATE TABLE declarations (
        id TEXT PRIMARY KEY,
        practitioner TEXT NOT NULL,
        year INTEGER NOT NULL,
        indicator TEXT NOT NULL,
        value REAL NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX declarations_year ON declarations (year, practitioner, indicator, at);

    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        offset INTEGER NOT NULL,
        line_no INTEGER,
        adapter TEXT,
        reason TEXT NOT NULL,         -- stable code, e.g. invalid_json
        message TEXT NOT NULL,        -- French, for the doctor
        raw TEXT,                     -- only when it holds no patient data
        at TEXT NOT NULL,
        UNIQUE (source, offset, reason)
    );

    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        adapter TEXT NOT NULL,
        dev INTEGER,
        inode INTEGER,
        fp_len INTEGER NOT NULL,      -- how many leading bytes fp_hash covers
        fp_hash TEXT NOT NULL,
        offset INTEGER NOT NULL,      -- byte offset after the last consumed record
        line_no INTEGER NOT NULL,
        size INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (path, adapter)
    );

    CREATE TABLE adapter_status (
        adapter TEXT PRIMARY KEY,
        disabled_at TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );

    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    """,
    # 2: file identity v2. Device and file ids become text: Windows ids are unsigned 64-bit
    # (128-bit on ReFS) and overflow SQLite's signed INTEGER. The hash of the bytes just before
    # the offset tells a file rewritten before the offset from one that only grew; `mid_line`
    # remembers that the offset is inside an over-long line being skipped.
    """
    CREATE TABLE files_v2 (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        adapter TEXT NOT NULL,
        dev TEXT,                     -- decimal text: may exceed 64 signed bits
        inode TEXT,
        fp_len INTEGER NOT NULL,      -- how many leading bytes fp_hash covers
        fp_hash TEXT NOT NULL,
        offset INTEGER NOT NULL,      -- byte offset after the last consumed record
        line_no INTEGER NOT NULL,
        size INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        tail_len INTEGER NOT NULL DEFAULT 0,  -- how many bytes before `offset` tail_hash covers
        tail_hash TEXT NOT NULL DEFAULT '',
        mid_line INTEGER NOT NULL DEFAULT 0,
        UNIQUE (path, adapter)
    );
    INSERT INTO files_v2 (id, path, adapter, dev, inode, fp_len, fp_hash, offset, line_no, size, updated_at)
        SELECT id, path, adapter, CAST(dev AS TEXT), CAST(inode AS TEXT), fp_len, fp_hash, offset, line_no,
               size, updated_at FROM files;
    DROP TABLE files;
    ALTER TABLE files_v2 RENAME TO files;
    """,
    # 3: contract v2. Narrow rows (integer codes and days, 64-bit patient hash) and the links
    # between consultations and DMP documents / MSS messages to a patient, kept at ingestion by
    # triggers. Existing events are moved over and recounted, nothing is read again.
    """
    DROP TRIGGER events_ad;
    DROP TRIGGER events_au;
    DROP INDEX events_attribution;
    DROP TABLE counts;
    ALTER TABLE events RENAME TO events_v1;

    CREATE TABLE practitioners (id INTEGER PRIMARY KEY, rpps TEXT NOT NULL UNIQUE);

    CREATE TABLE events (
        kind INTEGER NOT NULL,        -- KINDS code
        id TEXT NOT NULL,             -- the source's id (salted hash when it could identify a patient)
        practitioner INTEGER NOT NULL,  -- practitioners.id
        day INTEGER NOT NULL,         -- Europe/Paris calendar day, days since 1970-01-01
        patient INTEGER,              -- 64 bits of the salted HMAC of the normalised patient id
        detail TEXT NOT NULL DEFAULT '',  -- fse: vitale mode; teleservice: service
        flag INTEGER NOT NULL DEFAULT 0,  -- see scoring.count_key
        dmp_link INTEGER,             -- consultation: first DMP document day on or after its day;
                                      -- dmp_document: last consultation day on or before its day
        mss_link INTEGER,             -- the same with MSS messages to the patient
        attribution TEXT,             -- identity the practitioner was derived from, for re-attribution
        file_id INTEGER,              -- files.id of the file it was read from
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    CREATE INDEX events_patient ON events (patient, practitioner, kind, day) WHERE patient IS NOT NULL;
    CREATE INDEX events_attribution ON events (attribution) WHERE attribution IS NOT NULL;

    -- Per-day counts; dmp/mss: days between an event and its link (-1: none).
    CREATE TABLE counts (
        day INTEGER NOT NULL,
        practitioner INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        detail TEXT NOT NULL,
        flag INTEGER NOT NULL,
        dmp INTEGER NOT NULL,
        mss INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (day, practitioner, kind, detail, flag, dmp, mss)
    ) WITHOUT ROWID;

    CREATE TRIGGER events_count_ai AFTER INSERT ON events BEGIN
        INSERT INTO counts VALUES (NEW.day, NEW.practitioner, NEW.kind, NEW.detail, NEW.flag,
            COALESCE(abs(NEW.dmp_link - NEW.day), -1), COALESCE(abs(NEW.mss_link - NEW.day), -1), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER events_count_ad AFTER DELETE ON events BEGIN
        UPDATE counts SET n = n - 1
        WHERE day = OLD.day AND practitioner = OLD.practitioner AND kind = OLD.kind AND detail = OLD.detail
          AND flag = OLD.flag AND dmp = COALESCE(abs(OLD.dmp_link - OLD.day), -1)
          AND mss = COALESCE(abs(OLD.mss_link - OLD.day), -1);
    END;
    -- Links change by the triggers below; any other column changes by delete + insert (Store.reattribute).
    -- (An insert's own link may be set before its insert is counted: the decrement is an upsert.)
    CREATE TRIGGER events_count_au AFTER UPDATE OF dmp_link, mss_link ON events BEGIN
        INSERT INTO counts VALUES (OLD.day, OLD.practitioner, OLD.kind, OLD.detail, OLD.flag,
            COALESCE(abs(OLD.dmp_link - OLD.day), -1), COALESCE(abs(OLD.mss_link - OLD.day), -1), -1)
        ON CONFLICT DO UPDATE SET n = n - 1;
        INSERT INTO counts VALUES (NEW.day, NEW.practitioner, NEW.kind, NEW.detail, NEW.flag,
            COALESCE(abs(NEW.dmp_link - NEW.day), -1), COALESCE(abs(NEW.mss_link - NEW.day), -1), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;

    -- Linking (kinds: 1 consultation, 5 mss_message with flag 1 = to a patient, 6 dmp_document).
    -- Each fires only when a partner exists (one index probe otherwise).
    CREATE TRIGGER link_consultation AFTER INSERT ON events
    WHEN NEW.kind = 1 AND NEW.patient IS NOT NULL AND EXISTS (
        SELECT 1 FROM events WHERE patient = NEW.patient AND practitioner = NEW.practitioner
        AND kind IN (5, 6) AND day >= NEW.day) BEGIN
        UPDATE events SET dmp_link = NEW.day
        WHERE patient = NEW.patient AND practitioner = NEW.practitioner AND kind = 6 AND day >= NEW.day
          AND (dmp_link IS NULL OR dmp_link < NEW.day);
        UPDATE events SET mss_link = NEW.day
        WHERE patient = NEW.patient AND practitioner = NEW.practitioner AND kind = 5 AND flag = 1
          AND day >= NEW.day AND (mss_link IS NULL OR mss_link < NEW.day);
        UPDATE events SET
            dmp_link = (SELECT MIN(day) FROM events WHERE patient = NEW.patient
                        AND practitioner = NEW.practitioner AND kind = 6 AND day >= NEW.day),
            mss_link = (SELECT MIN(day) FROM events WHERE patient = NEW.patient
                        AND practitioner = NEW.practitioner AND kind = 5 AND flag = 1 AND day >= NEW.day)
        WHERE kind = 1 AND id = NEW.id;
    END;
    CREATE TRIGGER link_dmp_document AFTER INSERT ON events
    WHEN NEW.kind = 6 AND NEW.patient IS NOT NULL AND EXISTS (
        SELECT 1 FROM events WHERE patient = NEW.patient AND practitioner = NEW.practitioner
        AND kind = 1 AND day <= NEW.day) BEGIN
        UPDATE events SET dmp_link = NEW.day
        WHERE patient = NEW.patient AND practitioner = NEW.practitioner AND kind = 1 AND day <= NEW.day
          AND (dmp_link IS NULL OR dmp_link > NEW.day);
        UPDATE events SET dmp_link = (SELECT MAX(day) FROM events WHERE patient = NEW.patient
                                      AND practitioner = NEW.practitioner AND kind = 1 AND day <= NEW.day)
        WHERE kind = 6 AND id = NEW.id;
    END;
    CREATE TRIGGER link_mss_message AFTER INSERT ON events
    WHEN NEW.kind = 5 AND NEW.flag = 1 AND NEW.patient IS NOT NULL AND EXISTS (
        SELECT 1 FROM events WHERE patient = NEW.patient AND practitioner = NEW.practitioner
        AND kind = 1 AND day <= NEW.day) BEGIN
        UPDATE events SET mss_link = NEW.day
        WHERE patient = NEW.patient AND practitioner = NEW.practitioner AND kind = 1 AND day <= NEW.day
          AND (mss_link IS NULL OR mss_link > NEW.day);
        UPDATE events SET mss_link = (SELECT MAX(day) FROM events WHERE patient = NEW.patient
                                      AND practitioner = NEW.practitioner AND kind = 1 AND day <= NEW.day)
        WHERE kind = 5 AND id = NEW.id;
    END;
    CREATE TRIGGER unlink_consultation AFTER DELETE ON events WHEN OLD.kind = 1 AND OLD.patient IS NOT NULL BEGIN
        UPDATE events SET dmp_link = (SELECT MAX(c.day) FROM events AS c WHERE c.patient = OLD.patient
                                      AND c.practitioner = OLD.practitioner AND c.kind = 1 AND c.day <= events.day)
        WHERE patient = OLD.patient AND practitioner = OLD.practitioner AND kind = 6 AND dmp_link = OLD.day;
        UPDATE events SET mss_link = (SELECT MAX(c.day) FROM events AS c WHERE c.patient = OLD.patient
                                      AND c.practitioner = OLD.practitioner AND c.kind = 1 AND c.day <= events.day)
        WHERE patient = OLD.patient AND practitioner = OLD.practitioner AND kind = 5 AND flag = 1
          AND mss_link = OLD.day;
    END;
    CREATE TRIGGER unlink_dmp_document AFTER DELETE ON events WHEN OLD.kind = 6 AND OLD.patient IS NOT NULL BEGIN
        UPDATE events SET dmp_link = (SELECT MIN(d.day) FROM events AS d WHERE d.patient = OLD.patient
                                      AND d.practitioner = OLD.practitioner AND d.kind = 6 AND d.day >= events.day)
        WHERE patient = OLD.patient AND practitioner = OLD.practitioner AND kind = 1 AND dmp_link = OLD.day;
    END;
    CREATE TRIGGER unlink_mss_message AFTER DELETE ON events
    WHEN OLD.kind = 5 AND OLD.flag = 1 AND OLD.patient IS NOT NULL BEGIN
        UPDATE events SET mss_link = (SELECT MIN(m.day) FROM events AS m WHERE m.patient = OLD.patient
                                      AND m.practitioner = OLD.practitioner AND m.kind = 5 AND m.flag = 1
                                      AND m.day >= events.day)
        WHERE patient = OLD.patient AND practitioner = OLD.practitioner AND kind = 1 AND mss_link = OLD.day;
    END;

    INSERT INTO practitioners (rpps) SELECT DISTINCT practitioner FROM events_v1 ORDER BY 1;
    INSERT INTO events (kind, id, practitioner, day, patient, detail, flag, attribution, file_id)
    SELECT CASE v.kind WHEN 'consultation' THEN 1 WHEN 'fse' THEN 2 WHEN 'fsp' THEN 3 WHEN 'prescription' THEN 4
                       WHEN 'mss_message' THEN 5 WHEN 'dmp_document' THEN 6 WHEN 'teleservice' THEN 7 END,
           v.id, p.id, CAST(julianday(v.day) - 2440587.5 AS INTEGER), hash64(v.patient), v.detail,
           CASE WHEN v.kind IN ('consultation', 'dmp_document') THEN v.patient IS NOT NULL ELSE v.flag END,
           v.attribution, v.file_id
    FROM events_v1 AS v JOIN practitioners AS p ON p.rpps = v.practitioner
    WHERE v.kind IN ('consultation', 'fse', 'fsp', 'prescription', 'mss_message', 'dmp_document', 'teleservice');
    DROP TABLE events_v1;
    """,
    # 4: links kept within LINK_HORIZON_DAYS (rules refuse a wider `link_days`). An inserted event
    # computes its own link in the INSERT (no second write of the row), triggers update only the
    # partners it changes, and one small index per linking kind replaces the index of every event
    # with a patient (FSE, prescriptions and téléservices no longer pay for it). Links further
    # than the horizon are forgotten; the count trigger moves their counts.
    f"""
    DROP TRIGGER link_consultation;
    DROP TRIGGER link_dmp_document;
    DROP TRIGGER link_mss_message;
    DROP TRIGGER unlink_consultation;
    DROP TRIGGER unlink_dmp_document;
    DROP TRIGGER unlink_mss_message;
    DROP INDEX events_patient;
    CREATE INDEX consultations_by_patient ON events (patient, practitioner, day)
        WHERE kind = 1 AND patient IS NOT NULL;
    CREATE INDEX dmp_documents_by_patient ON events (patient, practitioner, day)
        WHERE kind = 6 AND patient IS NOT NULL;
    CREATE INDEX mss_to_patients_by_patient ON events (patient, practitioner, day)
        WHERE kind = 5 AND flag = 1 AND patient IS NOT NULL;
    UPDATE events SET dmp_link = NULL WHERE abs(dmp_link - day) > {LINK_HORIZON_DAYS};
    UPDATE events SET mss_link = NULL WHERE abs(mss_link - day) > {LINK_HORIZON_DAYS};

    -- Kinds: 1 consultation, 5 mss_message (flag 1: to a patient), 6 dmp_document. A consultation
    -- links to the first partner on or after its day, a partner to the last consultation on or
    -- before its day, both within the horizon.
    CREATE TRIGGER link_consultation AFTER INSERT ON events WHEN NEW.kind = 1 AND NEW.patient IS NOT NULL BEGIN
        UPDATE events SET dmp_link = NEW.day
        WHERE kind = 6 AND patient = NEW.patient AND practitioner = NEW.practitioner
          AND day BETWEEN NEW.day AND NEW.day + {LINK_HORIZON_DAYS} AND (dmp_link IS NULL OR dmp_link < NEW.day);
        UPDATE events SET mss_link = NEW.day
        WHERE kind = 5 AND flag = 1 AND patient = NEW.patient AND practitioner = NEW.practitioner
          AND day BETWEEN NEW.day AND NEW.day + {LINK_HORIZON_DAYS} AND (mss_link IS NULL OR mss_link < NEW.day);
    END;
    CREATE TRIGGER link_dmp_document AFTER INSERT ON events WHEN NEW.kind = 6 AND NEW.patient IS NOT NULL BEGIN
        UPDATE events SET dmp_link = NEW.day
        WHERE kind = 1 AND patient = NEW.patient AND practitioner = NEW.practitioner
          AND day BETWEEN NEW.day - {LINK_HORIZON_DAYS} AND NEW.day AND (dmp_link IS NULL OR dmp_link > NEW.day);
    END;
    CREATE TRIGGER link_mss_message AFTER INSERT ON events
    WHEN NEW.kind = 5 AND NEW.flag = 1 AND NEW.patient IS NOT NULL BEGIN
        UPDATE events SET mss_link = NEW.day
        WHERE kind = 1 AND patient = NEW.patient AND practitioner = NEW.practitioner
          AND day BETWEEN NEW.day - {LINK_HORIZON_DAYS} AND NEW.day AND (mss_link IS NULL OR mss_link > NEW.day);
    END;
    CREATE TRIGGER unlink_consultation AFTER DELETE ON events WHEN OLD.kind = 1 AND OLD.patient IS NOT NULL BEGIN
        UPDATE events SET dmp_link = (
            SELECT MAX(c.day) FROM events AS c WHERE c.kind = 1 AND c.patient = OLD.patient
            AND c.practitioner = OLD.practitioner AND c.day BETWEEN events.day - {LINK_HORIZON_DAYS} AND events.day)
        WHERE kind = 6 AND patient = OLD.patient AND practitioner = OLD.practitioner AND dmp_link = OLD.day;
        UPDATE events SET mss_link = (
            SELECT MAX(c.day) FROM events AS c WHERE c.kind = 1 AND c.patient = OLD.patient
            AND c.practitioner = OLD.practitioner AND c.day BETWEEN events.day - {LINK_HORIZON_DAYS} AND events.day)
        WHERE kind = 5 AND flag = 1 AND patient = OLD.patient AND practitioner = OLD.practitioner
          AND mss_link = OLD.day;
    END;
    CREATE TRIGGER unlink_dmp_document AFTER DELETE ON events WHEN OLD.kind = 6 AND OLD.patient IS NOT NULL BEGIN
        UPDATE events SET dmp_link = (
            SELECT MIN(d.day) FROM events AS d WHERE d.kind = 6 AND d.patient = OLD.patient
            AND d.practitioner = OLD.practitioner AND d.day BETWEEN events.day AND events.day + {LINK_HORIZON_DAYS})
        WHERE kind = 1 AND patient = OLD.patient AND practitioner = OLD.practitioner AND dmp_link = OLD.day;
    END;
    CREATE TRIGGER unlink_mss_message AFTER DELETE ON events
    WHEN OLD.kind = 5 AND OLD.flag = 1 AND OLD.patient IS NOT NULL BEGIN
        UPDATE events SET mss_link = (
            SELECT MIN(m.day) FROM events AS m WHERE m.kind = 5 AND m.flag = 1 AND m.patient = OLD.patient
            AND m.practitioner = OLD.practitioner AND m.day BETWEEN events.day AND events.day + {LINK_HORIZON_DAYS})
        WHERE kind = 1 AND patient = OLD.patient AND practitioner = OLD.practitioner AND mss_link = OLD.day;
    END;
    """,
    # 5: per-month totals beside the per-day counts, kept by triggers on `counts` (so whatever
    # changes a count — an insert, a link that moves, a deletion, retention — changes its month
    # too). A score reads whole months from here and only the days near the window's ends (where
    # a link may cross it) from `counts`: a year is ~70 row sets instead of 365.
    """
    CREATE TABLE month_counts (
        month TEXT NOT NULL,          -- YYYY-MM of counts.day
        practitioner INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        detail TEXT NOT NULL,
        flag INTEGER NOT NULL,
        dmp INTEGER NOT NULL,
        mss INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (month, practitioner, kind, detail, flag, dmp, mss)
    ) WITHOUT ROWID;
    INSERT INTO month_counts
        SELECT strftime('%Y-%m', day * 86400, 'unixepoch'), practitioner, kind, detail, flag, dmp, mss, SUM(n)
        FROM counts GROUP BY 1, 2, 3, 4, 5, 6, 7;
    CREATE TRIGGER month_counts_ai AFTER INSERT ON counts BEGIN
        INSERT INTO month_counts VALUES (strftime('%Y-%m', NEW.day * 86400, 'unixepoch'), NEW.practitioner,
            NEW.kind, NEW.detail, NEW.flag, NEW.dmp, NEW.mss, NEW.n)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    END;
    CREATE TRIGGER month_counts_au AFTER UPDATE OF n ON counts BEGIN
        INSERT INTO month_counts VALUES (strftime('%Y-%m', NEW.day * 86400, 'unixepoch'), NEW.practitioner,
            NEW.kind, NEW.detail, NEW.flag, NEW.dmp, NEW.mss, NEW.n - OLD.n)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    END;
    CREATE TRIGGER month_counts_ad AFTER DELETE ON counts BEGIN
        INSERT INTO month_counts VALUES (strftime('%Y-%m', OLD.day * 86400, 'unixepoch'), OLD.practitioner,
            OLD.kind, OLD.detail, OLD.flag, OLD.dmp, OLD.mss, -OLD.n)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    END;
    """,
    # 6: inserts keep counts and links per batch (Store.insert_events: set-based statements over a
    # staging table) instead of per row: the insert triggers cost ~13 µs of an event's ~17 µs of
    # SQL. Deletions keep their triggers (they are rare: re-attribution, retention).
    """
    DROP TRIGGER events_count_ai;
    DROP TRIGGER link_consultation;
    DROP TRIGGER link_dmp_document;
    DROP TRIGGER link_mss_message;
    """,
)
KINDS = ("consultation", "fse", "fsp", "prescription", "mss_message", "dmp_document", "teleservice")
KIND_CODE = {kind: code for code, kind in enumerate(KINDS, start=1)}
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
NO_LINK = -1  # counts.dmp / counts.mss of an event without a link
LINKED_KIND = {"dmp": (6, ""), "mss_patient": (5, " AND flag = 1")}  # partner kind code, extra filter


@dataclass(frozen=True, slots=True)
class FilePosition:
    id: int
    path: str
    adapter: str
    dev: int | None
    inode: int | None
    fp_len: int
    fp_hash: str
    offset: int
    line_no: int
    size: int
    tail_len: int = 0  # bytes just before `offset` covered by tail_hash (0: not checked)
    tail_hash: str = ""
    mid_line: bool = False  # `offset` is inside an over-long line: skip to its newline


_POSITION_COLUMNS = (
    "id, path, adapter, dev, inode, fp_len, fp_hash, offset, line_no, size, tail_len, tail_hash, mid_line"
)


def _id_text(value: int | None) -> str | None:
    return None if value is None else Verbatim(value)  # a number, not a NIR: not gated


def _position(row: Sequence[Any]) -> FilePosition:
    values = list(row)
    values[3] = None if values[3] is None else int(values[3])
    values[4] = None if values[4] is None else int(values[4])
    values[12] = bool(values[12])
    return FilePosition(*values)


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    source: str
    offset: int
    line_no: int | None
    adapter: str | None
    reason: str
    message: str
    raw: str | None


# Inserting a batch of events (Store.insert_events), in order, inside the caller's transaction:
# rows go to a staging table (which drops a repeated (kind, id): the first wins), rows already
# stored are dropped, each new event's own links are computed from the stored partners and the
# batch's, stored events the batch links to are updated (the update trigger moves their counts),
# then the new events and their per-day counts are added. Links are monotonic under insertion:
# a new partner can only bring an event's link closer, never take one away.
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS batch (kind INTEGER NOT NULL, id TEXT NOT NULL,"
    " practitioner INTEGER NOT NULL, day INTEGER NOT NULL, patient INTEGER, detail TEXT NOT NULL,"
    " flag INTEGER NOT NULL, attribution TEXT, file_id INTEGER, dmp_link INTEGER, mss_link INTEGER,"
    " PRIMARY KEY (kind, id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS temp.batch_by_patient ON batch (kind, patient, practitioner, day)"
    " WHERE patient IS NOT NULL",
    "CREATE TEMP TABLE IF NOT EXISTS relinked (id TEXT PRIMARY KEY, day INTEGER NOT NULL) WITHOUT ROWID",
)
_STAGE = (
    "INSERT INTO temp.batch (kind, id, practitioner, day, patient, detail, flag, attribution, file_id)"
    " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
)
# Partners of an event (kind 1 consultation; 5 + flag 1 MSS message to a patient; 6 DMP document):
# a consultation links to the first partner on or after its day, a partner to the last
# consultation on or before its day, both within LINK_HORIZON_DAYS.
_PARTNER_KIND = {"dmp": ("6", ""), "mss": ("5", " AND {t}.flag = 1")}
_AFTER = ("MIN", "", f" + {LINK_HORIZON_DAYS}")  # aggregate, window start, window end after day
_BEFORE = ("MAX", f" - {LINK_HORIZON_DAYS}", "")


def _own_link(partner: str, flag: str, window: tuple[str, str, str]) -> str:
    agg, lo, hi = window
    rows = (
        "SELECT day FROM {t} WHERE {t}.kind = {kind}{flag} AND {t}.patient = batch.patient"
        " AND {t}.practitioner = batch.practitioner AND {t}.day BETWEEN batch.day{lo} AND batch.day{hi}"
    )
    stored = rows.format(t="main.events", kind=partner, flag=flag.format(t="events"), lo=lo, hi=hi)
    staged = rows.format(t="b", kind=partner, flag=flag.format(t="b"), lo=lo, hi=hi).replace(
        "FROM b", "FROM temp.batch AS b"
    )
    return f"(SELECT {agg}(day) FROM ({stored} UNION ALL {staged}))"


def _relink(column: str, kind: str, flag: str, index: str, partner: str, partner_flag: str) -> tuple[str, ...]:
    """Stored events of `kind` whose `column` a staged partner brings closer, found through the
    kind's partial index and updated by key (the update trigger moves their counts)."""
    if kind == "1":  # a stored consultation: the first staged partner within H days after it
        agg, closer, window = "MIN", ">", f"b.day - {LINK_HORIZON_DAYS} AND b.day"
    else:  # a stored partner: the last staged consultation within H days before it
        agg, closer, window = "MAX", "<", f"b.day AND b.day + {LINK_HORIZON_DAYS}"
    return (
        f"INSERT INTO temp.relinked SELECT e.id, {agg}(b.day)"
        f" FROM temp.batch AS b JOIN main.events AS e INDEXED BY {index}"
        f" ON e.kind = {kind}{flag.format(t='e')} AND e.patient = b.patient AND e.practitioner = b.practitioner"
        f" AND e.day BETWEEN {window}"
        f" WHERE b.kind = {partner}{partner_flag.format(t='b')} AND b.patient IS NOT NULL"
        f" GROUP BY e.id HAVING e.{column} IS NULL OR e.{column} {closer} {agg}(b.day)",
        f"UPDATE main.events SET {column} = (SELECT day FROM temp.relinked AS r WHERE r.id = events.id)"
        f" WHERE kind = {kind} AND id IN (SELECT id FROM temp.relinked)",
        "DELETE FROM temp.relinked",
    )


_INSERT_BATCH = (
    "DELETE FROM temp.batch WHERE EXISTS"
    " (SELECT 1 FROM main.events AS e WHERE e.kind = batch.kind AND e.id = batch.id)",
    f"UPDATE temp.batch SET dmp_link = {_own_link('6', '', _AFTER)},"
    f" mss_link = {_own_link('5', _PARTNER_KIND['mss'][1], _AFTER)} WHERE kind = 1 AND patient IS NOT NULL",
    f"UPDATE temp.batch SET dmp_link = {_own_link('1', '', _BEFORE)} WHERE kind = 6 AND patient IS NOT NULL",
    f"UPDATE temp.batch SET mss_link = {_own_link('1', '', _BEFORE)}"
    " WHERE kind = 5 AND flag = 1 AND patient IS NOT NULL",
    *_relink("dmp_link", "1", "", "consultations_by_patient", "6", ""),
    *_relink("mss_link", "1", "", "consultations_by_patient", "5", _PARTNER_KIND["mss"][1]),
    *_relink("dmp_link", "6", "", "dmp_documents_by_patient", "1", ""),
    *_relink("mss_link", "5", _PARTNER_KIND["mss"][1], "mss_to_patients_by_patient", "1", ""),
)
_ADD_BATCH = (
    "INSERT INTO main.events (kind, id, practitioner, day, patient, detail, flag, attribution, file_id,"
    " dmp_link, mss_link) SELECT * FROM temp.batch",
    "INSERT INTO main.counts SELECT day, practitioner, kind, detail, flag, COALESCE(abs(dmp_link - day), -1),"
    " COALESCE(abs(mss_link - day), -1), COUNT(*) FROM temp.batch GROUP BY 1, 2, 3, 4, 5, 6, 7"
    " ORDER BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT DO UPDATE SET n = n + excluded.n",
)
# (kind, id, practitioner RPPS, day (days since 1970-01-01), patient hash64, detail, flag, attribution, file_id)
EventRow = tuple[str, str, str, int, int | None, str, int, str | None, int | None]
DeclarationRow = tuple[str, str, int, str, float, str]


def day_number(value: date) -> int:
    """The integer the store keeps a calendar day as."""
    return value.toordinal() - EPOCH_ORDINAL


def whole_months(first: int, last: int) -> tuple[tuple[int, int], tuple[str, str]] | None:
    """The calendar months lying wholly between two day numbers: ((first day, last day),
    ("YYYY-MM", "YYYY-MM")), or None when no month fits."""
    if last < first:
        return None
    lo = date.fromordinal(first + EPOCH_ORDINAL)
    hi = date.fromordinal(last + EPOCH_ORDINAL)
    if lo.day != 1:
        lo = date(lo.year + lo.month // 12, lo.month % 12 + 1, 1)
    after = hi + timedelta(days=1)
    hi = hi if after.day == 1 else date(hi.year, hi.month, 1) - timedelta(days=1)
    if hi < lo:
        return None
    return (day_number(lo), day_number(hi)), (f"{lo:%Y-%m}", f"{hi:%Y-%m}")


def hash64(digest: str | None) -> int | None:
    """A hex digest's first 64 bits as a signed SQLite integer: a cabinet's patients are far too
    few for a collision to matter, and a link key is compared, never reversed."""
    return None if digest is None else int(digest[:16], 16) - (1 << 63)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StoreError(Exception):
    """The database cannot be opened or is newer than this program."""


class StoreBusy(StoreError):
    """Another program kept the database locked longer than this command waits (French message)."""


def is_busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (and their extended codes): someone else holds the lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


class Store:
    """One connection, one writer. Every write goes through `transaction()`, which waits for a
    lock held by another process (another `scan`, a backup tool, a DB browser) instead of failing:
    forever by default (the agent), at most `busy_limit` seconds if set (one-shot commands).

    No NIR reaches the file: the connection gates every `str` parameter (see privacy.py), so
    pass values as `?` parameters, never inside the SQL text. A value computed from a string
    parameter (its length, a prefix) must be computed from `self.gate(value)`, which is what
    the database holds."""

    def __init__(self, data_dir: Path) -> None:
        self.busy_limit: float | None = None
        self.should_stop: Callable[[], bool] = lambda: False
        self.on_busy: Callable[[float], None] = lambda waited: None  # told each time it waits again
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILE
        self.created = not self.path.exists()  # a new, empty store
        if self.created:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        # WAL needs memory shared between processes, which network file systems do not give.
        self.on_network = is_network_path(self.path.parent.absolute())
        # Every str parameter of every statement passes through the privacy gate (privacy.py).
        self.gate = Gate(Hasher(load_or_create_salt(data_dir)))
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, factory=GatedConnection)
            self.db.gate = self.gate
            self.db.execute(f"PRAGMA journal_mode={'DELETE' if self.on_network else 'WAL'}")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(f"PRAGMA busy_timeout={BUSY_SLICE_MS}")
            # 24 MB of page cache: the hot part of the (kind, id) index stays in memory.
            self.db.execute("PRAGMA cache_size=-24000")
            self.db.execute("PRAGMA temp_store=MEMORY")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.create_function("hash64", 1, hash64, deterministic=True)
            self._migrate()
            self._load_practitioners()  # a damaged page here is a damaged store too
        except sqlite3.DatabaseError as exc:
            with suppress(sqlite3.Error):
                self.db.close()  # Windows cannot set aside a file still open
            raise StoreError(f"{self.path}: base de données illisible ({exc})") from exc
        for suffix in ("-wal", "-shm"):
            sidecar = Path(f"{self.path}{suffix}")
            if sidecar.exists():
                sidecar.chmod(0o600)

    def _load_practitioners(self) -> None:
        self._practitioner_ids: dict[str, int] = dict(self.db.execute("SELECT rpps, id FROM practitioners"))
        self._rpps = {v: k for k, v in self._practitioner_ids.items()}

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: base créée par une version plus récente de forfait-agent (schéma {version})"
            )
        for index in range(version, len(MIGRATIONS)):
            with self.transaction():
                for statement in _split_sql(MIGRATIONS[index]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {index + 1}")

    def close(self) -> None:
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` … `COMMIT`: events and file offsets land together or not at all."""
        self._begin()
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            self._load_practitioners()  # forget ids the rolled-back transaction created
            raise
        self.db.execute("COMMIT")

    def _begin(self) -> None:
        """Take the write lock, waiting with back-off while another process holds it. In WAL mode
        only `BEGIN IMMEDIATE` waits for it: once it is ours, the body and COMMIT do not."""
        started = time.monotonic()
        delay = 0.25
        while True:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            waited = time.monotonic() - started
            if self.busy_limit is not None and waited >= self.busy_limit:
                raise StoreBusy(
                    f"{self.path} : base de données verrouillée par un autre programme depuis {waited:.0f} s ;"
                    " rien n'a été perdu, relancez la commande quand il l'aura libérée"
                )
            self.on_busy(waited)
            deadline = time.monotonic() + delay
            while (left := deadline - time.monotonic()) > 0:  # slices: a stop request is seen at once
                if self.should_stop():
                    raise StoreBusy(f"{self.path} : arrêt demandé pendant l'attente de la base de données")
                time.sleep(min(left, 0.2))
            delay = min(delay * 2, BUSY_BACKOFF_MAX)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested unit inside transaction(): undone alone if its body raises."""
        self.db.execute("SAVEPOINT unit")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO unit")
            self.db.execute("RELEASE unit")
            raise
        self.db.execute("RELEASE unit")

    # -- writes (call inside transaction()) ------------------------------------------------
    def practitioner_id(self, rpps: str) -> int:
        """The small integer events and counts refer to a practitioner by. Call inside transaction()."""
        found = self._practitioner_ids.get(rpps)
        if found is None:
            self.db.execute("INSERT INTO practitioners (rpps) VALUES (?) ON CONFLICT DO NOTHING", (rpps,))
            found = self.db.execute("SELECT id FROM practitioners WHERE rpps = ?", (rpps,)).fetchone()[0]
            self._practitioner_ids[rpps] = found
            self._rpps[found] = rpps
        return found

    def rpps(self, practitioner: int) -> str:
        if practitioner not in self._rpps:  # added by another process since we opened
            self._rpps.update({v: k for k, v in self.db.execute("SELECT rpps, id FROM practitioners")})
        return self._rpps[practitioner]

    def insert_events(self, rows: Sequence[EventRow]) -> int:
        """Insert events, ignoring (kind, id) already known (or repeated in `rows`: the first
        wins); return how many were new. Their per-day counts and links, and those of the stored
        events they link to, are updated in the same statements. Call inside transaction()."""
        if not rows:
            return 0
        ids = self.practitioner_id
        self._stage()
        self.db.executemany(_STAGE, [(KIND_CODE[r[0]], r[1], ids(r[2]), *r[3:]) for r in rows])
        return self._add_staged()

    def _stage(self) -> None:
        """An empty staging table (created in this transaction if a rolled-back one took it)."""
        for statement in _STAGING:
            self.db.execute(statement)
        self.db.execute("DELETE FROM temp.batch")

    def _add_staged(self) -> int:
        for statement in _INSERT_BATCH:
            self.db.execute(statement)
        new = self.db.execute(_ADD_BATCH[0]).rowcount
        self.db.execute(_ADD_BATCH[1])
        self.db.execute("DELETE FROM temp.batch")
        return new

    def insert_declarations(self, rows: Sequence[DeclarationRow]) -> int:
        if not rows:
            return 0
        return self.db.executemany(
            "INSERT INTO declarations (id, practitioner, year, indicator, value, at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            rows,
        ).rowcount

    def quarantine(self, items: Iterable[QuarantineItem]) -> int:
        now = _now()
        return self.db.executemany(
            "INSERT INTO quarantine (source, offset, line_no, adapter, reason, message, raw, at)"
            " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            [(q.source, q.offset, q.line_no, q.adapter, q.reason, q.message, q.raw, now) for q in items],
        ).rowcount

    def save_position(self, pos: FilePosition) -> int:
        """Insert or update a file's position; returns its row id."""
        row = self.db.execute(
            "INSERT INTO files (path, adapter, dev, inode, fp_len, fp_hash, offset, line_no, size,"
            " updated_at, tail_len, tail_hash, mid_line) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (path, adapter) DO UPDATE SET dev=excluded.dev, inode=excluded.inode,"
            " fp_len=excluded.fp_len, fp_hash=excluded.fp_hash, offset=excluded.offset,"
            " line_no=excluded.line_no, size=excluded.size, updated_at=excluded.updated_at,"
            " tail_len=excluded.tail_len, tail_hash=excluded.tail_hash, mid_line=excluded.mid_line"
            " RETURNING id",
            (
                pos.path,
                pos.adapter,
                _id_text(pos.dev),
                _id_text(pos.inode),
                pos.fp_len,
                Verbatim(pos.fp_hash),  # hexadecimal digests: digits that are not a NIR
                pos.offset,
                pos.line_no,
                pos.size,
                _now(),
                pos.tail_len,
                Verbatim(pos.tail_hash),
                int(pos.mid_line),
            ),
        ).fetchone()
        return int(row[0])

    def move_position(self, old_path: str, new_path: str, adapter: str) -> None:
        """A followed file was renamed: its position now belongs to the new path."""
        self.db.execute("DELETE FROM files WHERE path = ? AND adapter = ?", (new_path, adapter))
        self.db.execute("UPDATE files SET path = ? WHERE path = ? AND adapter = ?", (new_path, old_path, adapter))

    def reattribute(self, rpps: str, under: str | None = None) -> int:
        """Give the events kept under `inconnu` (read from files under the folder `under`, or
        all of them) to `rpps`. They are deleted (the triggers take back their counts and links)
        and inserted again under their practitioner like a batch read: nothing is read again. Returns how many moved."""
        unknown = self._practitioner_ids.get("inconnu")
        if unknown is None:
            return 0
        sql = "practitioner = ?"
        args: list[Any] = [unknown]
        if under is not None:
            prefix = self.gate(under.rstrip("/\\") + os.sep)  # as the paths were stored
            sql += " AND file_id IN (SELECT id FROM files WHERE substr(path, 1, ?) = ?)"
            args += [len(prefix), prefix]
        self.db.execute(f"CREATE TEMP TABLE moved AS SELECT * FROM events WHERE {sql}", args)
        self.db.execute("DELETE FROM events WHERE (kind, id) IN (SELECT kind, id FROM moved)")
        target = self.practitioner_id(rpps)
        self._stage()
        self.db.execute(
            "INSERT INTO temp.batch (kind, id, practitioner, day, patient, detail, flag, attribution, file_id)"
            " SELECT kind, id, ?, day, patient, detail, flag, attribution, file_id FROM moved",
            (target,),
        )
        moved = self._add_staged()
        self.db.execute("DROP TABLE moved")
        return moved

    def unattributed(self) -> int:
        unknown = self._practitioner_ids.get("inconnu")
        if unknown is None:
            return 0
        row = self.db.execute("SELECT COALESCE(SUM(n), 0) FROM counts WHERE practitioner = ?", (unknown,)).fetchone()
        return int(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def record_adapter_failure(self, adapter: str, error: str, disabled: bool) -> None:
        self.db.execute(
            "INSERT INTO adapter_status (adapter, failures, last_error, disabled_at) VALUES (?, 1, ?, ?)"
            " ON CONFLICT DO UPDATE SET failures = failures + 1, last_error = excluded.last_error,"
            " disabled_at = COALESCE(excluded.disabled_at, disabled_at)",
            (adapter, error, _now() if disabled else None),
        )

    def clear_adapter_pause(self, adapter: str) -> None:
        """The adapter works again: `status` no longer shows it paused (its error count stays)."""
        self.db.execute("UPDATE adapter_status SET disabled_at = NULL WHERE adapter = ?", (adapter,))

    # -- reads -------------------------------------------------------------------------------
    def position(self, path: str, adapter: str) -> FilePosition | None:
        row = self.db.execute(
            f"SELECT {_POSITION_COLUMNS} FROM files WHERE path = ? AND adapter = ?", (path, adapter)
        ).fetchone()
        return _position(row) if row else None

    def positions(self) -> list[FilePosition]:
        rows = self.db.execute(f"SELECT {_POSITION_COLUMNS} FROM files ORDER BY path").fetchall()
        return [_position(row) for row in rows]

    def tallies(
        self,
        start: date,
        end: date,
        windows: Iterable[tuple[str, int]] = (),
        practitioner: str | None = None,
        by_month: bool = False,
    ) -> dict[str, dict[str, Tally]]:
        """Per practitioner (and month YYYY-MM, or "" for the whole range), what scoring needs:
        counts by (kind, detail, flag) between two days, and for each (linked metric, link_days)
        window the consultations linked (their partner on or before `end` and within the window)
        and the partner events left unlinked. Whole months far enough from both ends come from
        `month_counts`, the rest from the per-day counts: one pass over each."""
        first, last = day_number(start), day_number(end)
        windows = sorted(set(windows))
        if practitioner and practitioner not in self._practitioner_ids:
            return {}
        who = " AND practitioner = ?" if practitioner else ""
        whose = [self._practitioner_ids[practitioner]] if practitioner else []

        def columns(near_ends: bool) -> str:
            """Per window: consultations linked, partners unlinked. Only near the ends of the
            range may a link cross them (a document after `end`, a consultation before `start`)."""
            out = []
            for metric, days in windows:
                partner, extra = LINKED_KIND[metric]
                col = "dmp" if metric == "dmp" else "mss"
                inside = f"{col} BETWEEN 0 AND {int(days)}"
                linked = f" AND day + {col} <= {last}" if near_ends else ""
                kept = f" AND day - {col} >= {first}" if near_ends else ""
                out.append(f"CASE WHEN kind = 1 AND {inside}{linked} THEN n ELSE 0 END")
                out.append(f"CASE WHEN kind = {partner}{extra} AND NOT ({inside}{kept}) THEN n ELSE 0 END")
            return "".join(f", {c} AS c{i}" for i, c in enumerate(out))

        day_period = "strftime('%Y-%m', day * 86400, 'unixepoch')" if by_month else "''"
        month_period = "month" if by_month else "''"
        parts = [f"SELECT practitioner, {day_period} AS period, kind, detail, flag, n{columns(True)} FROM counts"]
        args: list[Any] = []
        months = whole_months(first + LINK_HORIZON_DAYS, last - LINK_HORIZON_DAYS)
        if months is None:
            parts[0] += f" WHERE day >= ? AND day <= ?{who}"
            args += [first, last, *whose]
        else:
            (from_day, to_day), (from_month, to_month) = months
            parts[0] += f" WHERE day >= ? AND day <= ? AND NOT (day >= ? AND day <= ?){who}"
            args += [first, last, from_day, to_day, *whose]
            parts.append(
                f"SELECT practitioner, {month_period}, kind, detail, flag, n{columns(False)}"
                f" FROM month_counts WHERE month >= ? AND month <= ?{who}"
            )
            args += [from_month, to_month, *whose]
        link_sums = "".join(f", SUM(c{i})" for i in range(2 * len(windows)))
        sql = (
            f"SELECT practitioner, period, kind, detail, flag, SUM(n){link_sums} FROM ({' UNION ALL '.join(parts)})"
            " GROUP BY 1, 2, 3, 4, 5 HAVING SUM(n) > 0"
        )
        counts: dict[tuple[str, str], dict[CountKey, int]] = {}
        links: dict[tuple[str, str], dict[tuple[str, int], Link]] = {}
        for pid, period, kind, detail, flag, n, *sums in self.db.execute(sql, args):
            key = (self.rpps(pid), period)
            counts.setdefault(key, {})[(KINDS[kind - 1], detail, flag)] = int(n)
            bucket = links.setdefault(key, {})
            for index, window in enumerate(windows):
                linked, unlinked = sums[2 * index], sums[2 * index + 1]
                if linked or unlinked:
                    bucket[window] = bucket.get(window, Link()) + Link(int(linked), int(unlinked))
        result: dict[str, dict[str, Tally]] = {}
        for (rpps, period), bucket_counts in counts.items():
            result.setdefault(rpps, {})[period] = Tally(bucket_counts, links[(rpps, period)])
        return result

    def declarations(self, year: int) -> dict[str, dict[str, float]]:
        """Latest declared value per practitioner and indicator for a year."""
        result: dict[str, dict[str, float]] = {}
        for rpps, indicator, value in self.db.execute(
            "SELECT practitioner, indicator, value FROM declarations WHERE year = ? ORDER BY at, id",
            (year,),
        ):
            result.setdefault(rpps, {})[indicator] = float(value)
        return result

    def practitioners(self, start: date, end: date) -> list[str]:
        """RPPS (or `inconnu`) of every practitioner with events between two days."""
        rows = self.db.execute(
            "SELECT DISTINCT practitioner FROM counts WHERE day >= ? AND day <= ? AND n > 0",
            (day_number(start), day_number(end)),
        )
        return sorted(self.rpps(r[0]) for r in rows)

    def years(self) -> list[int]:
        rows = self.db.execute(
            "SELECT DISTINCT CAST(strftime('%Y', day * 86400, 'unixepoch') AS INTEGER) FROM counts WHERE n > 0"
            " UNION SELECT DISTINCT year FROM declarations ORDER BY 1"
        ).fetchall()
        return [int(r[0]) for r in rows]

    def quarantine_summary(self) -> list[tuple[str, str, int]]:
        """(reason, example message, count) by reason."""
        return [
            (r, m, int(n))
            for r, m, n in self.db.execute(
                "SELECT reason, MIN(message), COUNT(*) FROM quarantine GROUP BY reason ORDER BY 3 DESC"
            )
        ]

    def quarantine_items(self, limit: int = -1) -> list[tuple[str, int, int | None, str, str | None, str, str]]:
        """(source, offset, line_no, reason, adapter, at, message), oldest first; all when limit < 0."""
        return self.db.execute(
            "SELECT source, offset, line_no, reason, adapter, at, message FROM quarantine ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()

    def quarantine_by_source(self) -> list[tuple[str | None, str, str, str, int, str, str]]:
        """(adapter, source, reason, example message, count, first at, last at)."""
        return self.db.execute(
            "SELECT adapter, source, reason, MIN(message), COUNT(*), MIN(at), MAX(at) FROM quarantine"
            " GROUP BY adapter, source, reason"
        ).fetchall()

    def adapter_statuses(self) -> list[tuple[str, int, str | None, str | None]]:
        return self.db.execute(
            "SELECT adapter, failures, last_error, disabled_at FROM adapter_status ORDER BY adapter"
        ).fetchall()

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def event_count(self) -> int:
        return int(self.db.execute("SELECT COALESCE(SUM(n), 0) FROM counts").fetchone()[0])


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, buffer = [], []
    for line in script.splitlines():
        buffer.append(line)
        candidate = "\n".join(buffer).strip()
        if candidate.endswith(";") and sqlite3.complete_statement(candidate):
            statements.append(candidate)
            buffer = []
    tail = "\n".join(buffer).strip()
    if tail:
        statements.append(tail)
    return [s for s in statements if s.strip(" ;\n")]
