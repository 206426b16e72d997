"""The blocking locks pane's queries (PgSource.locks()): one statement reduced on the server
(:data:`LOCKS_SQL`), and the full ``pg_blocking_pids()`` lists for a cycle. Never imports
Textual."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from opsconsole.postgres.conn import APP_NAME
from opsconsole.postgres.locktree import NeedsFullGraph, WaitInfo, build_tree
from opsconsole.postgres.model import Backend, LocksSnapshot
from opsconsole.postgres.source import BACKEND_COLS, TAG, _backend, prepared_xact_backend

if TYPE_CHECKING:
    from opsconsole.postgres.source import PgSource

WAITERS_SQL = TAG + """
SELECT a.pid, pg_blocking_pids(a.pid) AS blocked_by
  FROM pg_stat_activity a
 WHERE a.wait_event_type = 'Lock'
   AND a.pid <> pg_backend_pid()
   AND a.pid <> ALL($1::int[])  -- opsconsole's own connections, whatever their name
   AND a.application_name IS DISTINCT FROM '""" + APP_NAME + """'
"""

LOCK_DETAIL_SQL = TAG + """
SELECT""" + BACKEND_COLS + """,
       l.locktype, l.mode,
       CASE WHEN l.relation IS NULL THEN NULL
            WHEN l.database IN (0, (SELECT oid FROM pg_database
                                     WHERE datname = current_database()))
            THEN l.relation::regclass::text
            ELSE 'relation ' || l.relation::text END AS relation,
       {waitstart} AS wait_age
  FROM pg_stat_activity a
  LEFT JOIN (SELECT DISTINCT ON (pid) pid, locktype, mode, database, relation{waitcol}
               FROM pg_locks WHERE NOT granted AND pid = ANY($1::int[])
              ORDER BY pid) l ON l.pid = a.pid
 WHERE a.pid = ANY($2::int[])
"""

# One statement for the locks pane, reduced on the server (modelled by locktree.reduce_waits):
# pg_blocking_pids() names the holders, then the queue ahead in order, so in a queue a
# waiter's list is the list of the waiter just ahead (its last pid) plus that one. Such a list
# is sent as the pids after that start, with via = the one ahead; other lists whole. A queue of
# N names O(N^2) pids; this sends O(N), with O(N^2) only in C (array slice comparisons).
LOCKS_SQL = TAG + """
WITH w AS (  -- (an inner pass not filtered by wait_event_type: the planner would think one
             -- row and nest loops; OFFSET 0 keeps pg_blocking_pids() evaluated once a row)
  SELECT pid, bb FROM (
    SELECT a.pid,
           CASE WHEN a.wait_event_type = 'Lock'
                 AND a.pid <> pg_backend_pid()
                 AND a.pid <> ALL($1::int[])  -- opsconsole's own connections, whatever their name
                 AND a.application_name IS DISTINCT FROM '""" + APP_NAME + """'
                THEN pg_blocking_pids(a.pid) END AS bb
      FROM pg_stat_activity a OFFSET 0) s
   WHERE bb IS NOT NULL
), k AS (
  SELECT w.pid, cardinality(w.bb) AS n, c.pid AS via,
         CASE WHEN c.pid IS NULL THEN w.bb
              ELSE w.bb[cardinality(c.bb) + 1:cardinality(w.bb)] END AS kept
    FROM w LEFT JOIN w c
      ON c.pid = w.bb[cardinality(w.bb)]
     AND cardinality(c.bb) < cardinality(w.bb)
     AND w.bb[1:cardinality(c.bb)] = c.bb
), act AS (
  SELECT * FROM pg_stat_activity
   WHERE pid IN (SELECT pid FROM k UNION SELECT unnest(kept) FROM k)
)
SELECT""" + BACKEND_COLS + """,
       l.locktype, l.mode,
       CASE WHEN l.relation IS NULL THEN NULL
            WHEN l.database IN (0, (SELECT oid FROM pg_database
                                     WHERE datname = current_database()))
            THEN l.relation::regclass::text
            ELSE 'relation ' || l.relation::text END AS relation,
       {waitstart} AS wait_age,
       k.pid IS NOT NULL AS waits, k.kept, k.n AS n_blocked_by, k.via,
       (SELECT count(*) FROM k)::int AS n_waiting,
       (SELECT count(*) FROM k WHERE 0 = ANY(k.kept))::int AS zero_named
  FROM act a
  LEFT JOIN k ON k.pid = a.pid
  LEFT JOIN (SELECT DISTINCT ON (pid) pid, locktype, mode, database, relation{waitcol}
               FROM pg_locks WHERE NOT granted AND pid IN (SELECT pid FROM w)
              ORDER BY pid) l ON l.pid = a.pid
"""


def lock_sql(src: PgSource, template: str) -> str:
    assert src.server is not None
    pg14 = src.server.version_num >= 140000
    return template.format(
        width=int(src.options.query_text_width),
        waitstart="extract(epoch FROM now() - l.waitstart)::float8" if pg14 else "NULL::float8",
        waitcol=", waitstart" if pg14 else "",
    )

async def locks(src: PgSource) -> LocksSnapshot:
    """The blocking tree, from one reduced statement; a cycle in it (a deadlock the
    server is about to break) is drawn from the full pg_blocking_pids() lists."""
    async def q(conn: asyncpg.Connection) -> list[Any]:
        return await conn.fetch(lock_sql(src, LOCKS_SQL), src.own_pids(),
                                timeout=src.timeout)

    rows = await src.run(q)
    assert src.server is not None
    if not rows:
        return LocksSnapshot(server=src.server, nodes=(), taken_at=datetime.now(UTC),
                             waiting=0)
    backends = {r["pid"]: _backend(r) for r in rows}
    if rows[0]["zero_named"]:
        backends[0] = prepared_xact_backend()
    waits = {r["pid"]: WaitInfo(
        blocked_by=tuple(r["kept"] or ()), locktype=r["locktype"], mode=r["mode"],
        relation=r["relation"], wait_age=r["wait_age"], n_blocked_by=r["n_blocked_by"],
        via=r["via"],
    ) for r in rows if r["waits"]}
    try:
        nodes = build_tree(backends, waits, reduced=True)
    except NeedsFullGraph:
        return await locks_full(src)
    return LocksSnapshot(server=src.server, nodes=tuple(nodes), taken_at=datetime.now(UTC),
                         waiting=rows[0]["n_waiting"])

async def locks_full(src: PgSource) -> LocksSnapshot:
    backends, waits, waiting = await full_wait_graph(src)
    assert src.server is not None
    return LocksSnapshot(server=src.server, nodes=tuple(build_tree(backends, waits)),
                         taken_at=datetime.now(UTC), waiting=waiting)

async def full_wait_graph(src: PgSource) -> tuple[dict[int, Backend], dict[int, WaitInfo], int]:
    """Every waiter with all the pids pg_blocking_pids() names (O(N^2) for a queue of
    N): the input of the original tree search, for cycles (and tests)."""
    async def q(conn: asyncpg.Connection) -> tuple[list[Any], list[Any]]:
        waiters = await conn.fetch(WAITERS_SQL, src.own_pids(),
                                  timeout=src.timeout)
        if not waiters:
            return [], []
        wait_pids = [r["pid"] for r in waiters]
        involved = sorted({*wait_pids, *(b for r in waiters for b in r["blocked_by"])})
        detail = await conn.fetch(lock_sql(src, LOCK_DETAIL_SQL), wait_pids, involved,
                                  timeout=src.timeout)
        return list(waiters), list(detail)

    waiters, detail = await src.run(q)
    backends = {r["pid"]: _backend(r) for r in detail}
    if any(0 in r["blocked_by"] for r in waiters):
        backends[0] = prepared_xact_backend()
    waits: dict[int, WaitInfo] = {}
    by_pid = {r["pid"]: r for r in detail}
    for w in waiters:
        d = by_pid.get(w["pid"])
        waits[w["pid"]] = WaitInfo(
            blocked_by=tuple(w["blocked_by"]),
            locktype=d["locktype"] if d else None, mode=d["mode"] if d else None,
            relation=d["relation"] if d else None, wait_age=d["wait_age"] if d else None,
        )
    return backends, waits, len(waiters)
