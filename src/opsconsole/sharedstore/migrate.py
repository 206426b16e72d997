"""``opsconsole store migrate --to postgresql://…``: a host's SQLite history into the shared
store, idempotent.

Each SQLite event gets a uid derived from the file's history (its first event) and its seq
(uuid5), so re-running inserts nothing twice (``ON CONFLICT (uid) DO NOTHING``). An incident
id keeps its name when the shared store does not have it yet; one another host already took
is renamed to the next free ``INC-<day>-<n>`` (the declaration's data says
``original_id``), and the mapping is kept in ``opsconsole_incident_ids`` (origin, origin_id)
so a re-run maps it the same way.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from opsconsole import events as ev
from opsconsole.incidents.store import SQLiteStore
from opsconsole.sharedstore.forward import ID_LOCK, insert_batch
from opsconsole.sharedstore.forward import iso as _iso
from opsconsole.sharedstore.outbox import Row
from opsconsole.sharedstore.store import PgStore

NAMESPACE = uuid.UUID("4f7073c0-6e73-6f6c-6517-000000000017")


@dataclass
class Migrated:
    read: int = 0
    copied: int = 0
    renamed: dict[str, str] = field(default_factory=dict)


def origin_of(store: SQLiteStore) -> str | None:
    first = store.events_after(0, limit=1)
    if not first:
        return None
    e = first[0]
    return f"sqlite:{e.actor.host}:{_iso(e.ts)}:{e.type}"


async def _map_id(c: Any, origin: str, iid: str, host: str) -> str:
    async with c.transaction():
        await c.execute("SELECT pg_advisory_xact_lock($1)", ID_LOCK)
        found = await c.fetchval("SELECT id FROM opsconsole_incident_ids WHERE origin = $1 "
                                 "AND origin_id = $2", origin, iid)
        if found:
            return str(found)
        parts = iid.split("-")
        day = parts[1] if len(parts) >= 3 and parts[1].isdigit() else "00000000"
        n = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else None
        taken = await c.fetchval("SELECT 1 FROM opsconsole_incident_ids WHERE id = $1 OR "
                                 "(day = $2 AND n = $3)", iid, day, n)
        new = iid
        if taken:
            n = int(await c.fetchval("SELECT coalesce(max(n), 0) + 1 FROM "
                                     "opsconsole_incident_ids WHERE day = $1", day))
            new = f"INC-{day}-{n}"
        await c.execute("INSERT INTO opsconsole_incident_ids (id, day, n, host, origin, "
                        "origin_id) VALUES ($1, $2, $3, $4, $5, $6)", new, day, n, host,
                        origin, iid)
        return new


def migrate(source: SQLiteStore, dest: PgStore, *, batch: int = 2000) -> Migrated:
    """Copy every event of ``source`` into ``dest`` (in seq order); see the module doc."""
    out = Migrated()
    origin = origin_of(source)
    if origin is None:
        return out
    ids: dict[str, str] = {}
    after = 0
    while True:
        evs = source.events_after(after, limit=batch)
        if not evs:
            break
        rows: list[Row] = []
        for e in evs:
            iid = e.incident_id
            if iid is not None and iid not in ids:
                ids[iid] = dest._run("w", lambda c, i=iid, h=e.actor.host: _map_id(c, origin, i, h),
                                     "mapping an incident id")
                if ids[iid] != iid:
                    out.renamed[iid] = ids[iid]
            data = dict(e.data)
            if e.type == ev.DECLARED and iid is not None and ids[iid] != iid:
                data["original_id"] = iid
            rows.append(Row(0, str(uuid.uuid5(NAMESPACE, f"{origin}:{e.seq}")),
                            ids[iid] if iid is not None else None, e.type, _iso(e.ts),
                            e.actor.user, e.actor.client, e.actor.tty, e.actor.host,
                            json.dumps(data, default=str, sort_keys=True)))
        _seqs, n = dest._run("w", lambda c, r=rows: insert_batch(c, r), "copying events")
        out.read += len(evs)
        out.copied += n
        after = evs[-1].seq or after
    return out
