"""The incident store: an append-only event log behind a small interface.

:class:`Store` is what the console and the CLI use; :class:`SQLiteStore` is the embedded
default (one file in the data directory). A PostgreSQL-backed store for several hosts can
implement the same protocol without touching the UI: every piece of SQL lives here and in
:mod:`.migrations` (the schema). Where the console's events go (active incident, journal
fallback) is :mod:`.sink`'s business.

SQLite settings: WAL (readers never block the writer, several consoles share one file),
``synchronous=FULL`` (a commit survives power loss, not just a crash), a busy timeout,
versioned migrations via ``PRAGMA user_version`` and an ``application_id`` that marks the
file as ours. Triggers refuse UPDATE and DELETE on the log. A file that is locked,
read-only, corrupt, not ours or from a newer opsconsole raises :class:`StoreError` with a
clear message and is left exactly as it was.

Never imports Textual.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from opsconsole import events as ev
from opsconsole.events import Actor, Event, current_actor, utcnow
from opsconsole.files import FileRefused, os_reason
from opsconsole.incidents import sqlitefile
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.migrations import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    split_sql,
)

DB_NAME = "incidents.db"
ATTACH_LIMIT = 500  # at most this many earlier events are attached at a declaration


class StoreError(OSError):
    """The store cannot be used as asked (locked, read-only, corrupt, newer schema...)."""


class NoStoreYet(StoreError, FileNotFoundError):
    """Opened read-only, and there is no database file yet (nothing was ever recorded)."""


class UnknownIncident(StoreError, LookupError):
    """No incident has that id."""


class Store(Protocol):
    """What the console needs from an incident store."""

    def append(self, type: str, data: dict[str, Any], *, incident_id: str | None = None,
               actor: Actor | None = None, ts: datetime | None = None) -> Event:
        """Append one event durably (``incident_id=None``: kept unattached)."""
        ...

    def declare(self, title: str, severity: str, services: list[str] | None = None, *,
                actor: Actor | None = None, ts: datetime | None = None,
                extra: dict[str, Any] | None = None, attach_window: float = 0.0) -> Event:
        """Allocate a new incident id and append its ``incident.declared`` event.
        ``attach_window`` (seconds, 0: none): link the unattached events this host recorded
        that long before (``incident.context_attached``, one per original)."""
        ...

    def events(self, incident_id: str | None, after: int = 0, *, limit: int | None = None,
               newest: int | None = None, types: tuple[str, ...] | None = None) -> list[Event]:
        """The incident's events with seq > after, in order (None: the unattached ones).
        ``limit``: the first N of them; ``newest``: the last N; ``types``: only these types
        (e.g. ``events.LIFECYCLE``, enough to fold the state of a long timeline)."""
        ...

    def seqs(self, incident_id: str) -> list[int]:
        """Every sequence number of the incident's events, in order (cheap: an index)."""
        ...

    def events_after(self, after: int = 0, limit: int | None = None, *,
                     types: tuple[str, ...] | None = None) -> list[Event]:
        """Every event with seq > after, in order (``types``: only these types)."""
        ...

    def incidents(self) -> list[str]:
        """Incident ids, oldest first."""
        ...

    def last_seq(self) -> int:
        """The newest sequence number (0 when empty): cheap, for change polling."""
        ...

    def close(self) -> None: ...


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


_ACTORS: dict[tuple[Any, ...], Actor] = {}


def _row_event(row: tuple[Any, ...]) -> Event:
    seq, iid, typ, ts, user, client, tty, host, data = row
    key = (user, client, tty, host)
    actor = _ACTORS.get(key)
    if actor is None:
        actor = _ACTORS[key] = Actor(user, client, tty, host)
        if len(_ACTORS) > 10_000:
            _ACTORS.clear()
    return Event(type=typ, data=json.loads(data), actor=actor,
                 ts=datetime.fromisoformat(ts), incident_id=iid, seq=seq)


_COLS = "seq, incident_id, type, ts, actor_user, actor_client, actor_tty, host, data"


class SQLiteStore:
    """The default store: a SQLite file (WAL, durable commits, versioned schema)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0,
                 read_only: bool = False) -> None:
        self.path = Path(path)
        self.history_path = self.path  # the per-minute check and SLO history (schema v3)
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None  # writes (and reads when read-only)
        self._rconn: sqlite3.Connection | None = None  # reads: never wait for a write
        self._rlock = threading.RLock()
        self._immutable = False  # read-only without a writer's -wal: reopened on change
        self._signature: tuple[int, int, int, bool] = (0, 0, 0, False)
        self._open()

    # ------------------------------------------------------------------ opening
    def _fail(self, what: str) -> StoreError:
        return StoreError(f"incident store {self.path}: {what}")

    def _translate(self, exc: sqlite3.Error, doing: str) -> StoreError:
        msg = str(exc)
        low = msg.lower()
        if "locked" in low or "busy" in low:
            return self._fail(f"locked by another process; gave up {doing} after waiting "
                              f"{self.busy_timeout:g}s (is another console stuck in a "
                              f"transaction?)")
        if ("readonly" in low or "read-only" in low or "attempt to write" in low
                or ("unable to open" in low and not sqlitefile.dir_writable(self.path))):
            return self._fail(f"read-only: cannot write ({msg}); check the file's and its "
                              f"directory's permissions or use another --data-dir")
        if "malformed" in low or "not a database" in low or "corrupt" in low:
            return self._fail(f"corrupt ({msg}); the file was left untouched — move it "
                              f"aside and restore from a copy, or use another --data-dir")
        if "unable to open" in low:
            return self._fail(f"cannot open ({msg}); check the path and permissions")
        return self._fail(f"{doing} failed: {msg}")

    def _open(self) -> None:
        p = self.path
        try:
            exists = sqlitefile.prepare(p, self.read_only)
        except FileRefused as exc:
            raise self._fail(exc.reason) from None
        except OSError as exc:
            raise self._fail(f"cannot be created: {os_reason(exc)}") from None
        if not exists:
            raise NoStoreYet(f"incident store {self.path}: does not exist (nothing recorded "
                             "yet)")
        problem = sqlitefile.header_problem(p)
        if problem:
            raise self._fail(problem)
        try:
            if self.read_only:
                uri, self._immutable = sqlitefile.read_only_uri(p)
                self._signature = sqlitefile.signature(p)
                conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout,
                                       isolation_level=None, check_same_thread=False)
            else:
                conn = sqlite3.connect(str(p), timeout=self.busy_timeout,
                                       isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._translate(exc, "opening") from None
        self._conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise self._fail(f"was written by a newer opsconsole (schema version "
                                 f"{version}; this one knows up to {SCHEMA_VERSION}); upgrade "
                                 f"opsconsole — the file was left untouched")
            if version == 0 and conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
                raise self._fail("is a SQLite database of some other program (it has tables "
                                 "but no opsconsole schema version); left untouched")
            if not self.read_only:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise self._fail(f"could not switch to WAL journal mode (got {mode})")
            if not self.read_only:
                conn.execute("PRAGMA synchronous = FULL")
            if version < SCHEMA_VERSION:
                if self.read_only:
                    if version == 0:
                        raise self._fail("is empty (nothing recorded yet)")
                    raise self._fail(f"needs a schema upgrade (version {version}) and is "
                                     f"opened read-only")
                self._migrate()
            if not self.read_only:
                # A second connection for reads: in WAL mode it never waits for the writer,
                # so a long read (an export, a 10,000-event timeline) never holds up a
                # record() on the UI loop.
                self._rconn = sqlite3.connect(str(p), timeout=self.busy_timeout,
                                              isolation_level=None, check_same_thread=False)
                self._rconn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                self._rconn.execute("PRAGMA query_only = 1")
        except StoreError:
            self.close()
            raise
        except sqlite3.Error as exc:
            self.close()
            raise self._translate(exc, "opening") from None

    def _migrate(self) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
                if tables:
                    raise self._fail("is a SQLite database of some other program (it has "
                                     "tables but no opsconsole schema version); left untouched")
            for v in range(version, SCHEMA_VERSION):
                for stmt in split_sql(MIGRATIONS[v]):
                    conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _reopen(self) -> None:
        """An immutable connection's file changed (a writer came): open it again."""
        with self._lock:
            old, self._conn = self._conn, None
            if old is not None:
                old.close()
            self._open()

    def close(self) -> None:
        with self._rlock:
            if self._rconn is not None:
                try:
                    self._rconn.close()
                finally:
                    self._rconn = None
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The write connection, errors translated (a failed transaction rolled back)."""
        with self._lock:
            if self._conn is None:
                raise self._fail("is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                if self._conn is not None and self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise self._translate(exc, doing) from None

    @contextmanager
    def _reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The read connection (the write one when opened read-only)."""
        if self._immutable and sqlitefile.signature(self.path) != self._signature:
            self._reopen()
        if self._rconn is None:
            with self._guard(doing) as conn:
                yield conn
            return
        with self._rlock:
            if self._rconn is None:
                raise self._fail("is closed")
            try:
                yield self._rconn
            except sqlite3.Error as exc:
                raise self._translate(exc, doing) from None

    # ------------------------------------------------------------------ writing
    def _insert(self, conn: sqlite3.Connection, type: str, data: dict[str, Any],
                incident_id: str | None, actor: Actor, ts: datetime) -> int:
        cur = conn.execute(
            "INSERT INTO events (incident_id, type, ts, actor_user, actor_client, actor_tty, "
            "host, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (incident_id, type, _iso(ts), actor.user, actor.client, actor.tty, actor.host,
             json.dumps(data, default=str, sort_keys=True)))
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def append(self, type: str, data: dict[str, Any], *, incident_id: str | None = None,
               actor: Actor | None = None, ts: datetime | None = None) -> Event:
        if self.read_only:
            raise self._fail("is opened read-only")
        actor = actor or current_actor()
        ts = ts or utcnow()
        data = dict(data)
        with self._guard("appending an event") as conn:
            conn.execute("BEGIN IMMEDIATE")
            if incident_id is not None:
                found = conn.execute("SELECT 1 FROM incidents WHERE id = ?",
                                     (incident_id,)).fetchone()
                if not found:
                    conn.execute("ROLLBACK")
                    raise UnknownIncident(f"no incident {incident_id!r} in {self.path}")
            seq = self._insert(conn, type, data, incident_id, actor, ts)
            conn.execute("COMMIT")
        return Event(type=type, data=data, actor=actor, ts=ts, incident_id=incident_id, seq=seq)

    def declare(self, title: str, severity: str, services: list[str] | None = None, *,
                actor: Actor | None = None, ts: datetime | None = None,
                extra: dict[str, Any] | None = None, attach_window: float = 0.0) -> Event:
        if self.read_only:
            raise self._fail("is opened read-only")
        actor = actor or current_actor()
        ts = ts or utcnow()
        data: dict[str, Any] = {"title": title, "severity": severity,
                                "services": list(services or [])}
        data.update(extra or {})
        day = ts.astimezone(UTC).strftime("%Y%m%d")
        with self._guard("declaring an incident") as conn:
            conn.execute("BEGIN IMMEDIATE")  # the id is allocated inside the write lock
            n = conn.execute("SELECT coalesce(max(n), 0) + 1 FROM incidents WHERE day = ?",
                             (day,)).fetchone()[0]
            iid = f"INC-{day}-{n}"
            # The recent past first (same transaction: two declares never both take one
            # event), so the timeline reads in order: what was seen, then the declaration.
            context = self._unattached_context(conn, actor.host, ts, attach_window)
            for orig in context:
                a = orig.actor
                self._insert(conn, ev.CONTEXT_ATTACHED, {
                    "seq": orig.seq, "type": orig.type, "ts": _iso(orig.ts),
                    "actor": {"user": a.user, "client": a.client, "tty": a.tty,
                              "host": a.host},
                    "data": orig.data}, iid, actor, ts)
            if context:
                data["context_attached"] = len(context)
            seq = self._insert(conn, ev.DECLARED, data, iid, actor, ts)
            conn.execute("INSERT INTO incidents (id, day, n, declared_seq) VALUES (?, ?, ?, ?)",
                         (iid, day, n, seq))
            conn.execute("COMMIT")
        return Event(type=ev.DECLARED, data=data, actor=actor, ts=ts, incident_id=iid, seq=seq)

    def _unattached_context(self, conn: sqlite3.Connection, host: str, ts: datetime,
                            window: float) -> list[Event]:
        """Unattached events this host recorded in the ``window`` seconds up to ``ts`` that
        no incident has attached yet, oldest first (at most ATTACH_LIMIT, the newest)."""
        if window <= 0:
            return []
        since = _iso(ts - timedelta(seconds=window))
        rows = conn.execute(
            f"SELECT {_COLS} FROM events WHERE incident_id IS NULL AND host = ? "
            "AND ts >= ? AND ts <= ? AND seq NOT IN (SELECT json_extract(data, '$.seq') "
            "FROM events WHERE type = ? AND incident_id IS NOT NULL "
            "AND json_extract(data, '$.seq') IS NOT NULL) "
            "ORDER BY seq DESC LIMIT ?",
            (host, since, _iso(ts), ev.CONTEXT_ATTACHED, ATTACH_LIMIT)).fetchall()
        found = [_row_event(r) for r in rows]
        return sorted(found, key=lambda e: (e.ts, e.seq or 0))

    # ------------------------------------------------------------------ reading
    def events(self, incident_id: str | None, after: int = 0, *, limit: int | None = None,
               newest: int | None = None, types: tuple[str, ...] | None = None) -> list[Event]:
        where = ["incident_id IS NULL" if incident_id is None else "incident_id = ?", "seq > ?"]
        params: list[Any] = [] if incident_id is None else [incident_id]
        params.append(after)
        if types:
            where.append(f"type IN ({', '.join('?' * len(types))})")
            params += list(types)
        sql = f"SELECT {_COLS} FROM events WHERE {' AND '.join(where)}"
        with self._reading("reading events") as conn:
            if newest is not None:
                rows = conn.execute(sql + " ORDER BY seq DESC LIMIT ?",
                                    (*params, newest)).fetchall()
                rows.reverse()
            else:
                rows = conn.execute(sql + " ORDER BY seq LIMIT ?",
                                    (*params, -1 if limit is None else limit)).fetchall()
        return [_row_event(r) for r in rows]

    def seqs(self, incident_id: str) -> list[int]:
        with self._reading("reading events") as conn:
            rows = conn.execute("SELECT seq FROM events WHERE incident_id = ? ORDER BY seq",
                                (incident_id,)).fetchall()
        return [r[0] for r in rows]

    def events_after(self, after: int = 0, limit: int | None = None, *,
                     types: tuple[str, ...] | None = None) -> list[Event]:
        where, params = "seq > ?", [after]
        if types:
            where += f" AND type IN ({', '.join('?' * len(types))})"
            params += list(types)
        with self._reading("reading events") as conn:
            rows = conn.execute(f"SELECT {_COLS} FROM events WHERE {where} ORDER BY seq "
                                "LIMIT ?", (*params, -1 if limit is None else limit)).fetchall()
        return [_row_event(r) for r in rows]

    def incidents(self) -> list[str]:
        with self._reading("listing incidents") as conn:
            rows = conn.execute("SELECT id FROM incidents ORDER BY declared_seq").fetchall()
        return [r[0] for r in rows]

    def exists(self, incident_id: str) -> bool:
        with self._reading("looking up an incident") as conn:
            return conn.execute("SELECT 1 FROM incidents WHERE id = ?",
                                (incident_id,)).fetchone() is not None

    def last_seq(self) -> int:
        with self._reading("polling") as conn:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def conn_pragmas(self) -> dict[str, Any]:
        """The settings that make commits durable (for tests and ``doctor`` output)."""
        with self._guard("reading settings") as conn:
            return {
                "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
                "user_version": conn.execute("PRAGMA user_version").fetchone()[0],
            }

    def integrity_check(self) -> str:
        with self._reading("checking integrity") as conn:
            return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())


# ---------------------------------------------------------------------- helpers
def open_store(data_dir: str | Path, path: str | Path | None = None, *,
               read_only: bool = False) -> SQLiteStore:
    """The store for a data directory (``incidents.db`` unless ``path`` says otherwise)."""
    return SQLiteStore(store_file(data_dir, path), read_only=read_only)


def store_file(data_dir: str | Path, path: str | Path | None = None) -> Path:
    """The SQLite store's file: ``path`` (relative: in the data directory), else
    ``incidents.db`` there."""
    p = Path(path).expanduser() if path else Path(data_dir) / DB_NAME
    return p if p.is_absolute() else Path(data_dir) / p


def load_state(store: Store, incident_id: str) -> tuple[tl.IncidentState, list[Event]]:
    """Fold an incident's events (raises :class:`UnknownIncident`)."""
    evs = store.events(incident_id)
    if not evs:
        raise UnknownIncident(f"no incident {incident_id!r}")
    return tl.fold(evs, incident_id=incident_id), evs


def all_states(store: Store) -> list[tl.IncidentState]:
    """Every incident's current state, in declaration order."""
    states: dict[str, tl.IncidentState] = {}
    for iid in store.incidents():
        states[iid] = tl.IncidentState(id=iid)
    for e in store.events_after(0):
        if e.incident_id in states:
            states[e.incident_id].apply(e)
    return list(states.values())


def worst_first(states: list[tl.IncidentState],
                order: tuple[str, ...] | list[str] = tl.SEVERITIES) -> list[tl.IncidentState]:
    """Open incidents by severity (the first of ``order``, the configured names, first),
    then oldest first."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted((s for s in states if s.is_open),
                  key=lambda s: (s.rank(order), s.started_at or far, s.id))
