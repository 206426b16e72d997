"""The incident store's SQLite schema: versioned migrations (``PRAGMA user_version``), the
``application_id`` that marks the file as ours, and a splitter for migration scripts.

Migration ``n`` takes a file from schema version ``n`` to ``n + 1``; append, never edit.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3
APPLICATION_ID = 0x4F505343  # "OPSC"
SQLITE_MAGIC = b"SQLite format 3\x00"

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the event log and the incident id registry; both append-only.
    """
    CREATE TABLE events (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id  TEXT,
        type         TEXT NOT NULL,
        ts           TEXT NOT NULL,
        actor_user   TEXT NOT NULL,
        actor_client TEXT,
        actor_tty    TEXT,
        host         TEXT NOT NULL,
        data         TEXT NOT NULL
    );
    CREATE INDEX events_by_incident ON events (incident_id, seq);
    CREATE TABLE incidents (
        id           TEXT PRIMARY KEY,
        day          TEXT NOT NULL,
        n            INTEGER NOT NULL,
        declared_seq INTEGER NOT NULL,
        UNIQUE (day, n)
    );
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END;
    CREATE TRIGGER incidents_no_update BEFORE UPDATE ON incidents
        BEGIN SELECT RAISE(ABORT, 'incident ids are append-only'); END;
    CREATE TRIGGER incidents_no_delete BEFORE DELETE ON incidents
        BEGIN SELECT RAISE(ABORT, 'incident ids are append-only'); END;
    """,
    # 1 -> 2: leases (issue 14: one alert evaluator per store). Not history: a row is the
    # current holder of a named role and when its claim runs out; taking it over is recorded
    # as an event by the caller.
    """
    CREATE TABLE leases (
        name         TEXT PRIMARY KEY,
        holder       TEXT NOT NULL,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        acquired_at  REAL NOT NULL,
        renewed_at   REAL NOT NULL,
        expires_at   REAL NOT NULL
    );
    """,
    # 2 -> 3: history (issue 15): per-minute figures of checks and SLO indicators, one row
    # per series per hour (`data`: zlib-compressed JSON {minute: [numbers]}), rewritten each
    # minute while its hour is open. Not the event log: pruned after the retention.
    """
    CREATE TABLE history_hours (
        series       TEXT NOT NULL,
        hour         INTEGER NOT NULL,
        data         BLOB NOT NULL,
        PRIMARY KEY (series, hour)
    ) WITHOUT ROWID;
    """,
)
assert len(MIGRATIONS) == SCHEMA_VERSION


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (triggers contain ';' inside BEGIN..END)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
