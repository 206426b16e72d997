"""The PostgreSQL source: one monitoring connection per pane, reconnecting by itself, and
the cheap queries behind the slow queries and blocking locks panes. Never imports Textual.

Cost rules (what keeps the watched server unburdened): one pass over ``pg_stat_activity`` for running-now;
``pg_blocking_pids()`` only for backends whose ``wait_event_type = 'Lock'`` and ``pg_locks``
only when someone waits; ``pg_stat_statements(false)`` (no text) with text fetched for the
rows on screen only; never ``pg_database_size()``; every statement under the session's
``statement_timeout`` plus a client-side timeout.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.conn import (
    APP_NAME,
    close_quietly,
    connect,
    own_pids,
    own_pids_at,
    target_key,
)
from opsconsole.postgres.model import (
    ActivitySnapshot,
    Backend,
    LocksSnapshot,
    ServerInfo,
    Statement,
    StatementsSnapshot,
    quote_ident,
)
from opsconsole.postgres.statements import Columns, Scored, score, top_of

TAG = "/* opsconsole */ "

DETECT_SQL = TAG + """
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       current_user AS usr, current_database() AS db, pg_backend_pid() AS own_pid,
       current_setting('is_superuser') = 'on' AS superuser,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
       pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal_backend,
       (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS pgss_version,
       (SELECT extnamespace::regnamespace::text FROM pg_extension
         WHERE extname = 'pg_stat_statements') AS pgss_schema,
       CASE WHEN current_setting('is_superuser') = 'on'
                 OR pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
            THEN current_setting('shared_preload_libraries') END AS preload
"""

# Backend columns shared by the activity and locks queries ($n placeholders are not used).
BACKEND_COLS = """
       a.pid, a.usename, a.datname, coalesce(a.application_name, '') AS application_name,
       host(a.client_addr) AS client, a.state, a.wait_event_type, a.wait_event,
       a.backend_start, a.query_start,
       extract(epoch FROM now() - a.query_start)::float8 AS query_age,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_age,
       extract(epoch FROM now() - a.state_change)::float8 AS state_age,
       a.backend_xid IS NOT NULL AS holds_xid, a.backend_xmin IS NOT NULL AS holds_xmin,
       left(a.query, {width}) AS query, a.backend_type"""

# Running now: every non-idle client backend (and autovacuum worker) over the minimum
# duration; idle-in-transaction sessions by their idle time (now() - state_change). Rows the
# role may not see (state NULL) are returned so they can be counted as hidden.
ACTIVITY_SQL = TAG + """
SELECT""" + BACKEND_COLS + """
  FROM pg_stat_activity a
 WHERE (a.backend_type IN ('client backend', 'autovacuum worker')
        OR (a.backend_type IS NULL AND a.usename IS NOT NULL))  -- hidden from this role
   AND a.pid <> pg_backend_pid()
   AND a.pid <> ALL($2::int[])  -- opsconsole's own connections, whatever their name
   AND a.application_name IS DISTINCT FROM '""" + APP_NAME + """'
   AND (a.state IS NULL
        OR (a.state <> 'idle'
            AND CASE WHEN a.state LIKE 'idle in transaction%' THEN a.state_change
                     ELSE a.query_start END <= now() - $1::float8 * interval '1 second'))
 ORDER BY a.state IS NULL,
          CASE WHEN a.state LIKE 'idle in transaction%' THEN a.state_change
               ELSE a.query_start END
 LIMIT 500
"""

# Every entry as parallel arrays (a handful of values to decode instead of one row per
# entry: thousands of entries are compared, 30 shown), plus the names of the roles and
# databases (an oid without one shows as the number, as coalesce(rolname, userid::text)
# did). One scan of pg_stat_statements; a CTE joined for the names only cost twice the
# server time (bench/README.md).
STATEMENTS_SQL = TAG + """
SELECT array_agg(s.dbid) AS dbid, array_agg(s.userid) AS userid,
       array_agg(s.queryid) AS queryid, array_agg({toplevel}) AS toplevel,
       array_agg(s.calls) AS calls, array_agg(s.{total}::float8) AS total_ms,
       array_agg(s.rows) AS rows,
       (SELECT array_agg(oid ORDER BY oid) FROM pg_roles) AS role_oids,
       (SELECT array_agg(rolname::text ORDER BY oid) FROM pg_roles) AS role_names,
       (SELECT array_agg(oid ORDER BY oid) FROM pg_database) AS db_oids,
       (SELECT array_agg(datname::text ORDER BY oid) FROM pg_database) AS db_names
  FROM {schema}.pg_stat_statements(false) s
 WHERE s.queryid IS NOT NULL
"""

STATEMENT_TEXT_SQL = TAG + """
SELECT s.dbid, s.userid, s.queryid, {toplevel} AS toplevel, left(s.query, {width}) AS query
  FROM {schema}.pg_stat_statements(true) s
 WHERE s.queryid = ANY($1::bigint[])
"""

LOST = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.CrashShutdownError, ConnectionError, OSError, TimeoutError,
        asyncio.TimeoutError)


def _backend(r: Any) -> Backend:
    return Backend(
        pid=r["pid"], user=r["usename"], database=r["datname"],
        application=r["application_name"] or "", client=r["client"], state=r["state"],
        wait_event_type=r["wait_event_type"], wait_event=r["wait_event"],
        backend_start=r["backend_start"], query_start=r["query_start"],
        query_age=r["query_age"], xact_age=r["xact_age"], state_age=r["state_age"],
        holds_xid=bool(r["holds_xid"]), holds_xmin=bool(r["holds_xmin"]),
        query=r["query"] or "", backend_type=r["backend_type"] or "",
    )


def prepared_xact_backend() -> Backend:
    """pid 0 in pg_blocking_pids(): a prepared transaction holds the lock."""
    return Backend(pid=0, user=None, database=None, application="", client=None,
                   state="prepared transaction", wait_event_type=None, wait_event=None,
                   backend_start=None, query_start=None, query_age=None, xact_age=None,
                   state_age=None, holds_xid=True, holds_xmin=False,
                   query="(a prepared transaction: COMMIT PREPARED / ROLLBACK PREPARED it)",
                   backend_type="prepared transaction")


class PgSource:
    """A monitoring connection to one target. Not thread-safe: one asyncio task at a time
    (an internal lock serialises callers). Reconnects on the next call after a failure."""

    def __init__(self, target: DatabaseTarget, options: PostgresOptions) -> None:
        self.target = target
        self.options = options
        self.conn: asyncpg.Connection | None = None
        self.server: ServerInfo | None = None
        self.pgss_schema: str | None = None
        self._lock = asyncio.Lock()
        self._sample: Columns | None = None
        self._texts: dict[tuple[int, int, int, bool], str] = {}
        self._own_keys: set[tuple[int, int, int, bool]] = set()
        self.connects = 0
        self._own_key: str | None = None

    # ------------------------------------------------------------------ connection
    @property
    def timeout(self) -> float:
        return float(self.options.statement_timeout) + 1.0

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await close_quietly(conn, 2.0)

    async def _ensure(self) -> asyncpg.Connection:
        if self.conn is not None and not self.conn.is_closed():
            return self.conn
        self.conn = None
        conn = await asyncio.wait_for(connect(self.target, self.options),
                                      float(self.options.connect_timeout) + 1.0)
        try:
            self.server = await self._detect(conn)
        except BaseException:
            conn.terminate()
            raise
        self.conn = conn
        self.connects += 1
        try:  # which server the connection reached, for own_pids() without re-resolving
            self._own_key = target_key(self.target, self.options)
        except Exception:
            self._own_key = None
        return conn

    def own_pids(self) -> list[int]:
        """opsconsole's own backends on this target's server (excluded from the panes)."""
        key = self._own_key
        return own_pids_at(key) if key is not None else own_pids(self.target)

    async def _detect(self, conn: asyncpg.Connection) -> ServerInfo:
        r = await conn.fetchrow(DETECT_SQL, timeout=self.timeout)
        assert r is not None
        preload = r["preload"]
        loaded = None if preload is None else "pg_stat_statements" in preload.replace(" ", "").split(",")
        superuser = bool(r["superuser"])
        self.pgss_schema = r["pgss_schema"]
        return ServerInfo(
            version_num=r["version_num"], version=r["version"].split()[0], user=r["usr"],
            database=r["db"], superuser=superuser,
            read_all_stats=superuser or bool(r["read_all_stats"]),
            signal_backend=superuser or bool(r["signal_backend"]),
            pgss_version=r["pgss_version"], pgss_loaded=loaded, own_pid=r["own_pid"],
        )

    async def run(self, fn: Any) -> Any:
        """Run ``await fn(conn)`` on the monitoring connection, serialised; a lost connection
        is dropped so the next call reconnects."""
        async with self._lock:
            conn = await self._ensure()
            try:
                return await fn(conn)
            except (*LOST, asyncio.CancelledError):  # a cancelled query leaves the session unsure
                await self._drop()
                raise
            except asyncpg.PostgresError:
                if conn.is_closed():
                    await self._drop()
                raise

    async def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.terminate()

    # ------------------------------------------------------------------ running now
    async def activity(self, min_duration: float | None = None) -> ActivitySnapshot:
        md = float(self.options.min_duration if min_duration is None else min_duration)
        sql = ACTIVITY_SQL.format(width=int(self.options.query_text_width))

        async def q(conn: asyncpg.Connection) -> list[Any]:
            return await conn.fetch(sql, md, self.own_pids(), timeout=self.timeout)

        rows = await self.run(q)
        assert self.server is not None
        backends = tuple(_backend(r) for r in rows)
        return ActivitySnapshot(server=self.server, backends=backends,
                                taken_at=datetime.now(UTC), min_duration=md)

    # ------------------------------------------------------------------ locks
    async def locks(self) -> LocksSnapshot:
        """The blocking tree (see :mod:`opsconsole.postgres.locksource`)."""
        from opsconsole.postgres.locksource import locks

        return await locks(self)

    # ------------------------------------------------------------------ statements
    def _pgss_sql(self, template: str) -> str:
        assert self.server is not None
        ver = self.server.pgss_tuple()
        schema = '"' + (self.pgss_schema or "public").replace('"', '""') + '"'
        return template.format(
            schema=schema,
            total="total_exec_time" if ver >= (1, 8) else "total_time",
            toplevel="s.toplevel" if ver >= (1, 9) else "true",
            width=int(self.options.query_text_width),
        )

    async def statements(self, sort: str = "total", top: int | None = None) -> StatementsSnapshot:
        """Every entry with its deltas since the last call; text for the top rows only."""
        top = int(top or self.options.top_statements)

        async def q(conn: asyncpg.Connection) -> tuple[Any, datetime | None, float]:
            assert self.server is not None
            reset = None
            if self.server.pgss_tuple() >= (1, 9):
                schema = '"' + (self.pgss_schema or "public").replace('"', '""') + '"'
                reset = await conn.fetchval(
                    TAG + f"SELECT stats_reset FROM {schema}.pg_stat_statements_info",
                    timeout=self.timeout)
            row = await conn.fetchrow(self._pgss_sql(STATEMENTS_SQL), timeout=self.timeout)
            return row, reset, time.monotonic()

        async def detect_only(conn: asyncpg.Connection) -> None:
            return None

        await self.run(detect_only)
        assert self.server is not None
        hint = self.server.statements_hint()
        if self.server.pgss_version is None:
            return StatementsSnapshot(server=self.server, statements=(),
                                      taken_at=datetime.now(UTC), hint=hint,
                                      note="top statements need pg_stat_statements")
        row, reset, now = await self.run(q)
        cols = Columns.build(now, reset, *(row[c] or [] for c in (
            "dbid", "userid", "queryid", "toplevel", "calls", "total_ms", "rows")))
        names = (dict(zip(row["role_oids"] or [], row["role_names"] or [], strict=True)),
                 dict(zip(row["db_oids"] or [], row["db_names"] or [], strict=True)))
        # every entry compared on plain columns; Statement objects for the shown rows only
        scored, note = score(cols, self._sample, sort, names)
        self._sample = cols
        if not self.server.read_all_stats and hint is None:
            hint = (f"other users' statement text is hidden: GRANT pg_read_all_stats TO "
                    f"{quote_ident(self.server.user)};")
        prev_has = note == ""
        shown = await self._with_texts(scored, top)
        return StatementsSnapshot(server=self.server, statements=tuple(shown),
                                  taken_at=datetime.now(UTC), stats_reset=reset, note=note,
                                  has_deltas=prev_has, hint=hint)

    async def _with_texts(self, scored: Scored, top: int) -> list[Statement]:
        from dataclasses import replace

        for _ in range(4):
            ranked = top_of(scored, top, self._own_keys)
            missing = [s for s in ranked if s.key not in self._texts]
            if not missing:
                break
            ids = sorted({s.key[2] for s in missing})

            async def q(conn: asyncpg.Connection, ids: list[int] = ids) -> list[Any]:
                return await conn.fetch(self._pgss_sql(STATEMENT_TEXT_SQL), ids,
                                        timeout=self.timeout)

            for r in await self.run(q):
                key = (r["dbid"], r["userid"], r["queryid"], bool(r["toplevel"]))
                text = r["query"] or ""
                self._texts[key] = text
                if text.startswith(TAG.strip()):
                    self._own_keys.add(key)
            for s in missing:  # texts that vanished between the two queries
                self._texts.setdefault(s.key, "")
        if len(self._texts) > 20 * top:
            find = scored.cols.find
            self._texts = {k: v for k, v in self._texts.items() if find(*k) is not None}
        ranked = top_of(scored, top, self._own_keys)
        return [replace(s, query=self._texts.get(s.key, "")) for s in ranked]

    # ------------------------------------------------------------------ explain
    async def explain(self, query: str, database: str | None, generic: bool,
                      analyze: bool = False, *, role: str | None = None,
                      confirmed: bool = False) -> str:
        """EXPLAIN a query in its own database on a fresh connection, under the guards of
        :mod:`opsconsole.postgres.explain` (read-only transaction rolled back, as ``role``,
        the statement's user, pinned search_path, non-built-in functions refused unless
        ``confirmed``). ``generic`` plans a statement with ``$n`` parameters as a generic plan."""
        from opsconsole.postgres.explain import explain_text

        return await explain_text(self.target, self.options, query, database, generic, analyze,
                                  role=role, confirmed=confirmed)

    async def signal(self, backend: Backend, mode: str, *, sink: Any, read_only: bool,
                     redact: bool, context: dict[str, Any] | None = None) -> Any:
        """Cancel/terminate ``backend`` after re-checking it is still the same session;
        ``context`` (what the operator was shown: stale, blocks) is recorded with it."""
        return await signal_with_fresh_connection(self, backend, mode, sink=sink,
                                                  read_only=read_only, redact=redact,
                                                  context=context)


async def signal_with_fresh_connection(source: PgSource, backend: Any, mode: Any, *,
                                       sink: Any, read_only: bool, redact: bool,
                                       context: dict[str, Any] | None = None) -> Any:
    """Open a short monitoring-safe connection (the poll keeps its own), re-check and signal
    through :func:`opsconsole.postgres.actions.signal_backend`, close."""
    from opsconsole.postgres.actions import signal_backend

    if read_only:
        return await signal_backend(None, backend.pid, backend.backend_start,  # type: ignore[arg-type]
                                    backend.query_start, mode, read_only=True)
    from dataclasses import replace

    from opsconsole.schema import Duration

    # long enough for pg_terminate_backend(pid, 3000) to wait for the session to exit
    opts = replace(source.options,
                   statement_timeout=Duration(max(float(source.options.statement_timeout), 6.0)))
    conn = await asyncio.wait_for(connect(source.target, opts),
                                  float(source.options.connect_timeout) + 1.0)
    try:
        return await signal_backend(conn, backend.pid, backend.backend_start, backend.query_start,
                                    mode, sink=sink, read_only=read_only, redact=redact,
                                    target=source.target.name, context=context)
    finally:
        await conn.close(timeout=2)
