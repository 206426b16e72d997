"""Outbox → PostgreSQL: a batch of waiting events inserted in order, exactly once.

One transaction per batch: the advisory append lock (so ``seq`` order is commit order and a
reader's ``WHERE seq > last_seen`` never skips a row), ``INSERT … ON CONFLICT (uid) DO
NOTHING`` (an event already there after a kill between the commit and the local mark is
not inserted again), the seqs read back by uid, one ``NOTIFY`` with the newest seq. The
local marks follow the commit; a kill in between only means the next forward finds the
rows there and marks them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsconsole.sharedstore.outbox import Row
from opsconsole.sharedstore.schema import APPEND_LOCK, CHANNEL

INSERT = (
    "INSERT INTO opsconsole_events (uid, incident_id, type, ts, actor_user, actor_client, "
    "actor_tty, host, data) "
    "SELECT u, i, t, ts, au, ac, att, h, d FROM unnest($1::uuid[], $2::text[], $3::text[], "
    "$4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) "
    "WITH ORDINALITY AS x(u, i, t, ts, au, ac, att, h, d, o) ORDER BY o "
    "ON CONFLICT (uid) DO NOTHING")


# the insert, its seqs and the NOTIFY of the newest seq in one round trip
INSERT_RETURNING = (
    "WITH ins AS (" + INSERT + " RETURNING uid::text AS uid, seq), "
    "top AS (SELECT pg_notify($10, max(seq)::text) FROM ins HAVING count(*) > 0) "
    "SELECT uid, seq, (SELECT count(*) FROM top) AS notified FROM ins")


def columns(rows: list[Row]) -> list[list[Any]]:
    return [[r.uid for r in rows], [r.incident_id for r in rows], [r.type for r in rows],
            [datetime.fromisoformat(r.ts) for r in rows], [r.actor_user for r in rows],
            [r.actor_client for r in rows], [r.actor_tty for r in rows],
            [r.host for r in rows], [r.data for r in rows]]


async def insert_batch(conn: Any, rows: list[Row]) -> tuple[dict[str, int], int]:
    """Insert ``rows`` (in order, skipping uids already there); returns uid → seq for every
    row and how many were new. The caller holds the connection alone."""
    if not rows:
        return {}, 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
        got = await conn.fetch(INSERT_RETURNING, *columns(rows), CHANNEL)
        seqs = {r["uid"]: int(r["seq"]) for r in got}
        inserted = len(seqs)
        if len(seqs) < len(rows):  # some were there already (a retry after a kill)
            missing = [r.uid for r in rows if r.uid not in seqs]
            for r in await conn.fetch("SELECT uid::text AS uid, seq FROM opsconsole_events "
                                      "WHERE uid = ANY($1::uuid[])", missing):
                seqs[r["uid"]] = int(r["seq"])
            if not inserted and seqs:
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(max(seqs.values())))
    return seqs, inserted
