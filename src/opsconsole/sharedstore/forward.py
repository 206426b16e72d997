"""Outbox → PostgreSQL: a batch of waiting events inserted in order, exactly once.

One transaction per batch: the advisory append lock (so ``seq`` order is commit order and a
reader's ``WHERE seq > last_seen`` never skips a row), ``INSERT … ON CONFLICT (uid) DO
NOTHING`` (an event already there after a kill between the commit and the local mark is
not inserted again), the seqs read back by uid, one ``NOTIFY`` with the newest seq. The
local marks follow the commit; a kill in between only means the next forward finds the
rows there and marks them.

Also what the store writes with: the outbox rows of new events (:func:`event_rows`), the
incident ids allocated in PostgreSQL (:func:`reserve_id`), and which errors mean the server
is unreachable (:func:`is_outage`).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from opsconsole.events import Actor, is_provisional
from opsconsole.incidents.store import StoreError
from opsconsole.sharedstore.outbox import Row
from opsconsole.sharedstore.schema import APPEND_LOCK, CHANNEL

ID_LOCK = 0x6F7073_0003  # pg_advisory_xact_lock key serialising incident id allocation

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


def is_outage(exc: BaseException) -> bool:
    """The server is unreachable (as opposed to a query the server refused)."""
    return isinstance(exc, (OSError, TimeoutError, asyncpg.InterfaceError,
                            asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
                            asyncpg.InternalClientError))


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def host_tag(host: str) -> str:
    return (re.sub(r"[^A-Za-z0-9]+", "", host.split(".")[0]) or "host")[:16]


def event_rows(items: list[tuple[str, dict[str, Any], str | None]], actor: Actor,
               ts: datetime) -> list[tuple[Any, ...]]:
    """Outbox rows (a new uid each) for (type, data, incident id) items."""
    return [(str(uuid.uuid4()), iid, typ, iso(ts), actor.user, actor.client, actor.tty,
             actor.host, json.dumps(data, default=str, sort_keys=True))
            for typ, data, iid in items]


def no_provisional_references(data: dict[str, Any]) -> None:
    """Refuse data naming another event by a provisional seq (the local copy's, for an
    event not forwarded yet): once forwarded it has another seq, and the name would point
    at nothing (an action item's status, a corrected note)."""
    if any(is_provisional(v) for k, v in data.items()
           if k in ("action", "supersedes", "seq") and isinstance(v, int)):
        raise StoreError("that event is not in the shared store yet (it is waiting to be "
                         "forwarded): try again when the store is back")


async def reserve_id(conn: Any, day: str, host: str) -> str:
    """The next ``INC-<day>-<n>``, allocated under a transaction-scoped lock."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ID_LOCK)
        n = int(await conn.fetchval("SELECT coalesce(max(n), 0) + 1 FROM "
                                    "opsconsole_incident_ids WHERE day = $1", day))
        iid = f"INC-{day}-{n}"
        await conn.execute("INSERT INTO opsconsole_incident_ids (id, day, n, host) "
                           "VALUES ($1, $2, $3, $4)", iid, day, n, host)
    return iid
