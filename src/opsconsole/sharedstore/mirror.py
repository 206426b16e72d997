"""The shared store's local mirror: a copy of the shared events in a SQLite file next to the
outbox (``shared-mirror.db``), so that this host can still show them while PostgreSQL is
unreachable (see :mod:`.localview` for when and how reads use it).

Filled in order by the store's loop (:func:`catch_up`, woken by every NOTIFY, every
reconnection and at start, at most once a second), and by the forwarder with this host's
own events the moment PostgreSQL gave them a seq. A cache: its own file and schema
(``PRAGMA user_version``), deleted and rebuilt freely, never the outbox's.

What it holds — ``upto`` is the newest seq the catch-up reached:

- every incident's events with ``seq <= upto`` (people write them: they are few, and a
  timeline missing its first half would mislead);
- the unattached events (alert transitions and states, check history: the bulk) among the
  newest ``keep`` seqs (default 50,000): older ones are pruned, never copied on a first fill;
- this host's forwarded events, as they are marked (possibly above ``upto``).

The first fill also copies this host's already forwarded outbox rows (a host upgraded in an
outage still shows its own incidents). A mirror of another database (the schema's
creation time and database name differ) is emptied at the first catch-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.events import LOCAL_SEQ_BASE, Actor, Event
from opsconsole.incidents import sqlitefile
from opsconsole.sharedstore.forward import iso as _iso
from opsconsole.sharedstore.outbox import Row

if TYPE_CHECKING:
    from opsconsole.sharedstore.store import PgStore

MIRROR_NAME = "shared-mirror.db"
MIRROR_VERSION = 1
KEEP_UNATTACHED = 50_000
PAGE = 2000
ANY = object()  # an events filter: every incident and the unattached ones
_SCHEMA = [
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, incident_id TEXT,"
    " type TEXT NOT NULL, ts TEXT NOT NULL, actor_user TEXT NOT NULL, actor_client TEXT,"
    " actor_tty TEXT, host TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX events_incident ON events (incident_id, seq)",
    "CREATE INDEX events_type ON events (type, seq)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]
COLS = "incident_id, type, ts, actor_user, actor_client, actor_tty, host, data"
_INSERT = (f"INSERT OR IGNORE INTO events (seq, uid, {COLS}) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# PostgreSQL: the identity of the database (a mirror of another one is emptied)
IDENTITY_SQL = ("SELECT current_database() || '/' || coalesce((SELECT min(applied_at) "
                "FROM opsconsole_schema)::text, '')")
PG_ROWS = (f"SELECT seq, uid::text AS uid, {COLS} FROM opsconsole_events WHERE seq > $1 "
           "AND seq <= $2 AND (incident_id IS NOT NULL OR seq > $3) ORDER BY seq LIMIT $4")


def _event(r: tuple[Any, ...]) -> Event:
    seq, _uid, iid, typ, ts, user, client, tty, host, data = r
    return Event(type=typ, data=json.loads(data), actor=Actor(user, client, tty, host),
                 ts=datetime.fromisoformat(ts), incident_id=iid, seq=int(seq))


def attached(c: sqlite3.Connection) -> bool:
    """The outbox is attached (as ``ob``) to this mirror connection."""
    return any(r[1] == "ob" for r in c.execute("PRAGMA database_list"))


def _filters(seq: str, after: int, incident: object, types: tuple[str, ...] | None
             ) -> tuple[str, list[Any]]:
    where, params = [f"{seq} > ?"], [after]
    if incident is None:
        where.append("incident_id IS NULL")
    elif incident is not ANY:
        where.append("incident_id = ?")
        params.append(incident)
    if types:
        where.append(f"type IN ({', '.join('?' * len(types))})")
        params += list(types)
    return " AND ".join(where), params


class Mirror:
    """The mirror file: written by a store with a journal (one connection behind a lock),
    read through a fresh read-only connection by a read-only store (``--read-only``, the
    wall), which never creates it."""

    def __init__(self, path: str | Path, *, outbox_path: str | Path | None = None,
                 read_only: bool = False, keep: int = KEEP_UNATTACHED,
                 busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.outbox_path = Path(outbox_path) if outbox_path else None
        self.read_only = read_only
        self.keep = keep
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        if not read_only:
            self._open()

    def _open(self) -> None:
        sqlitefile.prepare(self.path, False)  # private, ours, not a symlink
        c = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None,
                            check_same_thread=False)
        try:
            c.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")  # a cache: a lost tail is caught up
            c.execute("BEGIN IMMEDIATE")
            v = c.execute("PRAGMA user_version").fetchone()[0]
            if v > MIRROR_VERSION:
                c.execute("ROLLBACK")
                raise OSError(f"{self.path}: written by a newer opsconsole (version {v})")
            if v == 0:
                for stmt in _SCHEMA:
                    c.execute(stmt)
                c.execute(f"PRAGMA user_version = {MIRROR_VERSION}")
            c.execute("COMMIT")
            if self.outbox_path is not None and self.outbox_path.exists():
                c.execute("ATTACH DATABASE ? AS ob", (str(self.outbox_path),))
                if v == 0:  # a first fill: this host's forwarded events at once
                    c.execute(f"INSERT OR IGNORE INTO events (seq, uid, {COLS}) SELECT seq, "
                              f"uid, {COLS} FROM ob.outbox WHERE seq IS NOT NULL")
        except BaseException:
            c.close()
            raise
        self._conn = c

    @contextlib.contextmanager
    def _using(self) -> Iterator[sqlite3.Connection | None]:
        """The connection (None: a read-only store and no mirror file)."""
        if not self.read_only:
            with self._lock:
                if self._conn is None:
                    raise sqlite3.ProgrammingError("the mirror is closed")
                yield self._conn
            return
        if not self.path.exists():
            yield None
            return
        uri, _immutable = sqlitefile.read_only_uri(self.path)
        c = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, check_same_thread=False)
        try:
            if self.outbox_path is not None and self.outbox_path.exists():
                ob, _ = sqlitefile.read_only_uri(self.outbox_path)
                c.execute("ATTACH DATABASE ? AS ob", (ob,))
            yield c
        finally:
            c.close()

    def exists(self) -> bool:
        return not self.read_only or self.path.exists()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ------------------------------------------------------------------ filling
    def _meta(self, c: sqlite3.Connection, key: str) -> str | None:
        row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def upto(self) -> int:
        with self._using() as c:
            return 0 if c is None else int(self._meta(c, "upto") or 0)

    def same_source(self, identity: str) -> bool:
        """Is this a mirror of the database ``identity`` names? Emptied (and adopted) when
        it was another's; True when it was (or was new)."""
        with self._using() as c:
            assert c is not None
            known = self._meta(c, "source")
            if known == identity:
                return True
            c.execute("BEGIN IMMEDIATE")
            try:
                if known is not None:
                    c.execute("DELETE FROM events")
                    c.execute("DELETE FROM meta")
                c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('source', ?)",
                          (identity,))
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
            return known is None

    def add_shared(self, rows: list[Any], upto: int, floor: int) -> None:
        """Rows read from PostgreSQL (``seq, uid, incident_id, type, ts, …``), everything
        up to ``upto`` now in; unattached events at or below ``floor`` pruned."""
        vals = [(int(r["seq"]), r["uid"], r["incident_id"], r["type"], _iso(r["ts"]),
                 r["actor_user"], r["actor_client"], r["actor_tty"], r["host"], r["data"])
                for r in rows]
        with self._using() as c:
            assert c is not None
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany(_INSERT, vals)
                c.execute("INSERT INTO meta (key, value) VALUES ('upto', ?) ON CONFLICT (key) "
                          "DO UPDATE SET value = max(CAST(value AS INTEGER), "
                          "CAST(excluded.value AS INTEGER))", (str(upto),))
                c.execute("DELETE FROM events WHERE incident_id IS NULL AND seq <= ?", (floor,))
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    def add_forwarded(self, rows: list[Row], seqs: dict[str, int]) -> None:
        """This host's events, just given their seq by PostgreSQL."""
        vals = [(seqs[r.uid], r.uid, r.incident_id, r.type, r.ts, r.actor_user,
                 r.actor_client, r.actor_tty, r.host, r.data) for r in rows if r.uid in seqs]
        with self._using() as c:
            assert c is not None
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany(_INSERT, vals)
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ reading
    def _query(self, cols: str, after: int, incident: object,
               types: tuple[str, ...] | None, tail: str, tail_params: list[Any]
               ) -> list[tuple[Any, ...]]:
        """The mirror's events and this host's events not yet forwarded (provisional seq
        ``LOCAL_SEQ_BASE + id``; one already in the mirror is left out), as one list."""
        with self._using() as c:
            if c is None:
                return []
            m_where, m_params = _filters("seq", after, incident, types)
            sql = f"SELECT seq, uid, {COLS} FROM main.events WHERE {m_where}"
            params = m_params
            if attached(c):
                w_where, w_params = _filters(f"({LOCAL_SEQ_BASE} + o.id)", after, incident,
                                             types)
                sql += (f" UNION ALL SELECT {LOCAL_SEQ_BASE} + o.id, o.uid, {COLS} FROM "
                        f"ob.outbox AS o WHERE o.seq IS NULL AND {w_where} AND NOT EXISTS "
                        "(SELECT 1 FROM main.events AS m WHERE m.uid = o.uid)")
                params = m_params + w_params
            return c.execute(f"SELECT {cols} FROM ({sql}) {tail}",
                             (*params, *tail_params)).fetchall()

    def events(self, incident: object, after: int = 0, *, limit: int | None = None,
               newest: int | None = None, types: tuple[str, ...] | None = None
               ) -> list[Event]:
        if newest is not None:
            rows = self._query("*", after, incident, types, "ORDER BY seq DESC LIMIT ?",
                               [newest])
            rows.reverse()
        else:
            rows = self._query("*", after, incident, types, "ORDER BY seq LIMIT ?",
                               [-1 if limit is None else limit])
        return [_event(r) for r in rows]

    def seqs(self, incident_id: str) -> list[int]:
        return [int(r[0]) for r in self._query("seq", 0, incident_id, None, "ORDER BY seq", [])]

    def incidents(self) -> list[str]:
        seen: dict[str, None] = {}
        for (iid,) in self._query("incident_id", 0, ANY, ("incident.declared",),
                                  "ORDER BY seq", []):
            if iid is not None:
                seen.setdefault(iid, None)
        return list(seen)

    def exists_incident(self, incident_id: str) -> bool:
        return bool(self._query("1", 0, incident_id, ("incident.declared",), "LIMIT 1", []))

    def last_seq(self) -> int:
        rows = self._query("coalesce(max(seq), 0)", 0, ANY, None, "", [])
        return int(rows[0][0]) if rows else 0

    def max_shared_seq(self) -> int:
        """The newest real seq here (what a follower of the local copy has seen at most)."""
        with self._using() as c:
            if c is None:
                return 0
            return int(c.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def count(self) -> int:
        with self._using() as c:
            return 0 if c is None else int(c.execute("SELECT count(*) FROM events").fetchone()[0])


async def catch_up(conn: Any, mirror: Mirror, identity: str | None = None,
                   page: int = PAGE) -> tuple[bool, str]:
    """(the store's loop; ``conn`` held alone) Copy one page of new shared events into
    ``mirror``. Returns (more to copy, the database's identity, read once per connection:
    pass it back)."""
    if identity is None:
        identity = str(await conn.fetchval(IDENTITY_SQL))
        mirror.same_source(identity)
    top = int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM opsconsole_events"))
    upto = mirror.upto()
    if top <= upto:
        return False, identity
    floor = top - mirror.keep
    rows = await conn.fetch(PG_ROWS, upto, top, floor, page)
    more = len(rows) >= page
    mirror.add_shared(list(rows), int(rows[-1]["seq"]) if more else top, floor)
    return more, identity


async def keep_mirror(store: PgStore) -> None:
    """(the store's loop) Keep ``store``'s mirror caught up, a page at a time: woken by a
    NOTIFY, a reconnection or every 5 s, at most once a second once caught up; never while
    the store answers from its local copy."""
    from opsconsole.sharedstore.store import is_outage

    assert store.local is not None
    identity: str | None = None
    seen: Any = None
    while not store._closed:
        try:
            await asyncio.wait_for(store._mkick.wait(), 5.0)
        except TimeoutError:
            pass
        store._mkick.clear()
        if not store.up or store.local.active:
            continue
        async def step(conn: Any) -> tuple[bool, str]:
            nonlocal identity, seen
            if conn is not seen:  # a new connection: is it the same database?
                identity, seen = None, conn
            return await catch_up(conn, store.local.mirror, identity)

        try:
            more, identity = await store._on_conn("r", step, store.op_timeout)
            store.mirror_error = None
        except Exception as exc:
            if is_outage(exc):
                store._set_down(exc)
            else:
                store.mirror_error = f"local copy: {store._why(exc)}"
            await asyncio.sleep(1.0)
            continue
        if more:
            store._mkick.set()
        else:
            await asyncio.sleep(1.0)
