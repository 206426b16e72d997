"""The local journal of the shared store: every event is written here first (a SQLite file
in the data directory, ``synchronous=FULL``: durable before the call returns), then
forwarded to PostgreSQL in the order written. A row's ``seq`` is NULL until PostgreSQL has
it; the ``uid`` chosen here makes the forward idempotent (a retry after a kill between the
PostgreSQL commit and the local mark inserts nothing twice).

Its own file and schema (``PRAGMA user_version``), not the SQLite store's migrations.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from opsconsole.files import ensure_private_dir

OUTBOX_NAME = "shared-outbox.db"
OUTBOX_VERSION = 1
_SCHEMA = [
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE, "
    "incident_id TEXT, type TEXT NOT NULL, ts TEXT NOT NULL, actor_user TEXT NOT NULL, "
    "actor_client TEXT, actor_tty TEXT, host TEXT NOT NULL, data TEXT NOT NULL, seq INTEGER)",
    "CREATE INDEX outbox_waiting ON outbox (id) WHERE seq IS NULL",
]


@dataclass(frozen=True)
class Row:
    id: int
    uid: str
    incident_id: str | None
    type: str
    ts: str
    actor_user: str
    actor_client: str | None
    actor_tty: str | None
    host: str
    data: str


_COLS = "id, uid, incident_id, type, ts, actor_user, actor_client, actor_tty, host, data"


class Outbox:
    """The local journal (thread-safe: one connection behind a lock)."""

    def __init__(self, path: str | Path, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        ensure_private_dir(self.path.parent)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=busy_timeout,
                                     isolation_level=None, check_same_thread=False)
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = FULL")
        c.execute("BEGIN IMMEDIATE")
        try:
            v = c.execute("PRAGMA user_version").fetchone()[0]
            if v > OUTBOX_VERSION:
                raise OSError(f"{self.path}: written by a newer opsconsole (version {v})")
            if v == 0:
                for stmt in _SCHEMA:
                    c.execute(stmt)
                c.execute(f"PRAGMA user_version = {OUTBOX_VERSION}")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            c.close()
            raise

    def add(self, rows: list[tuple[str, str | None, str, str, str, str | None, str | None,
                                   str, str]]) -> list[int]:
        """Append (uid, incident_id, type, ts, user, client, tty, host, data) rows in one
        durable transaction; returns their local ids, in order."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                ids = [int(c.execute(
                    "INSERT INTO outbox (uid, incident_id, type, ts, actor_user, actor_client, "
                    "actor_tty, host, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", r).lastrowid or 0)
                    for r in rows]
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
        return ids

    def waiting(self, limit: int = 1000) -> list[Row]:
        """The oldest events not forwarded yet, in order."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLS} FROM outbox WHERE seq IS NULL "
                                      "ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [Row(*r) for r in rows]

    def mark(self, seqs: dict[str, int]) -> None:
        """Record the PostgreSQL seq of forwarded events (uid → seq), durably."""
        with self._lock:
            c = self._conn
            # no fsync of its own: a mark lost in a crash only means the next forward finds
            # the events in PostgreSQL (ON CONFLICT) and marks them; the next add() syncs it
            c.execute("PRAGMA synchronous = NORMAL")
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany("UPDATE outbox SET seq = ? WHERE uid = ? AND seq IS NULL",
                              [(s, u) for u, s in seqs.items()])
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
            finally:
                c.execute("PRAGMA synchronous = FULL")

    def count_waiting(self) -> int:
        with self._lock:
            return int(self._conn.execute(
                "SELECT count(*) FROM outbox WHERE seq IS NULL").fetchone()[0])

    def seq_of(self, local_id: int) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT seq FROM outbox WHERE id = ?",
                                     (local_id,)).fetchone()
        return None if row is None else row[0]

    def incident_ids(self) -> set[str]:
        """Incidents declared from this host (known even while PostgreSQL is down)."""
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT incident_id FROM outbox WHERE type = "
                                      "'incident.declared'").fetchall()
        return {r[0] for r in rows if r[0]}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
