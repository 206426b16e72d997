"""The shared store's reads (and presence): SQL over ``opsconsole_events``, bound
parameters only. A mixin of :class:`~.store.PgStore` (``_run`` runs a query on its loop).

While PostgreSQL is unreachable every read answers from the local copy instead (the
mirror and this host's waiting events: :mod:`.localview` says how, and what the seqs
mean); presence answers with the last known and records nothing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from opsconsole import events as ev
from opsconsole.events import LOCAL_SEQ_BASE, Actor, Event, current_actor
from opsconsole.incidents.store import StoreError
from opsconsole.sharedstore.localview import LocalView, either
from opsconsole.sharedstore.mirror import ANY, Mirror

T = TypeVar("T")
COLS = "seq, incident_id, type, ts, actor_user, actor_client, actor_tty, host, data"


def row_event(r: Any) -> Event:
    return Event(type=r["type"], data=json.loads(r["data"]),
                 actor=Actor(r["actor_user"], r["actor_client"], r["actor_tty"], r["host"]),
                 ts=r["ts"], incident_id=r["incident_id"], seq=int(r["seq"]))


@dataclass(frozen=True)
class Presence:
    """One console open on an incident (a heartbeat row that expires)."""

    user: str
    host: str
    seen_at: datetime
    holder: str

    def label(self) -> str:
        return f"{self.user}@{self.host}"


class Reads:
    _run: Callable[[str, Callable[[Any], Awaitable[Any]], str], Any]
    holder_id: str
    up: bool
    local: LocalView | None
    _presence_seen: dict[str, list[Presence]]

    def _fetch(self, sql: str, *args: Any, doing: str = "reading events") -> list[Any]:
        return list(self._run("r", lambda c: c.fetch(sql, *args), doing))

    def _either(self, shared: Callable[[], T], local: Callable[[Mirror], T]) -> T:
        def fail(exc: BaseException) -> StoreError:
            where = self.local.mirror.path if self.local is not None else "?"
            return StoreError(f"shared store unreachable, and its local copy {where}: {exc}")

        return either(self.local, shared, local, fail)

    def _cursor(self, after: int, args: list[Any], where: list[str]) -> None:
        """``seq > after`` (a provisional ``after``: see LocalView.shared_cursor)."""
        skip: list[int] = []
        if after >= LOCAL_SEQ_BASE and self.local is not None:
            after, skip = self.local.shared_cursor(after)
        args.append(after)
        where.append(f"seq > ${len(args)}")
        if skip:
            args.append(skip)
            where.append(f"seq <> ALL(${len(args)}::bigint[])")

    def events(self, incident_id: str | None, after: int = 0, *, limit: int | None = None,
               newest: int | None = None, types: tuple[str, ...] | None = None) -> list[Event]:
        return self._either(
            lambda: self._pg_events(incident_id, after, limit=limit, newest=newest,
                                    types=types),
            lambda m: m.events(incident_id, after, limit=limit, newest=newest, types=types))

    def _pg_events(self, incident_id: str | None, after: int = 0, *,
                   limit: int | None = None, newest: int | None = None,
                   types: tuple[str, ...] | None = None) -> list[Event]:
        args: list[Any] = []
        where: list[str] = []
        self._cursor(after, args, where)
        if incident_id is None:
            where.append("incident_id IS NULL")
        else:
            args.append(incident_id)
            where.append(f"incident_id = ${len(args)}")
        if types:
            args.append(list(types))
            where.append(f"type = ANY(${len(args)}::text[])")
        sql = f"SELECT {COLS} FROM opsconsole_events WHERE {' AND '.join(where)}"
        if newest is not None:
            args.append(newest)
            rows = self._fetch(f"{sql} ORDER BY seq DESC LIMIT ${len(args)}", *args)
            rows.reverse()
        else:
            args.append(limit)
            rows = self._fetch(f"{sql} ORDER BY seq LIMIT ${len(args)}", *args)
        return [row_event(r) for r in rows]

    def seqs(self, incident_id: str) -> list[int]:
        def shared() -> list[int]:
            rows = self._fetch("SELECT seq FROM opsconsole_events WHERE incident_id = $1 "
                               "ORDER BY seq", incident_id)
            return [int(r["seq"]) for r in rows]

        return self._either(shared, lambda m: m.seqs(incident_id))

    def events_after(self, after: int = 0, limit: int | None = None, *,
                     types: tuple[str, ...] | None = None) -> list[Event]:
        def shared() -> list[Event]:
            args: list[Any] = []
            where: list[str] = []
            self._cursor(after, args, where)
            if types:
                args.append(list(types))
                where.append(f"type = ANY(${len(args)}::text[])")
            args.append(limit)
            rows = self._fetch(f"SELECT {COLS} FROM opsconsole_events WHERE "
                               f"{' AND '.join(where)} ORDER BY seq LIMIT ${len(args)}", *args)
            return [row_event(r) for r in rows]

        return self._either(shared, lambda m: m.events(ANY, after, limit=limit, types=types))

    def incidents(self) -> list[str]:
        def shared() -> list[str]:
            rows = self._fetch("SELECT incident_id FROM opsconsole_events WHERE type = $1 "
                               "AND incident_id IS NOT NULL ORDER BY seq", ev.DECLARED,
                               doing="listing incidents")
            seen: dict[str, None] = {}
            for r in rows:
                seen.setdefault(r["incident_id"], None)
            return list(seen)

        return self._either(shared, lambda m: m.incidents())

    def exists(self, incident_id: str) -> bool:
        return self._either(lambda: bool(self._fetch(
            "SELECT 1 FROM opsconsole_events WHERE incident_id = $1 AND type = $2 LIMIT 1",
            incident_id, ev.DECLARED, doing="looking up an incident")),
            lambda m: m.exists_incident(incident_id))

    def last_seq(self) -> int:
        return self._either(lambda: int(self._run("r", lambda c: c.fetchval(
            "SELECT coalesce(max(seq), 0) FROM opsconsole_events"), "polling")),
            lambda m: m.last_seq())

    def unattached_context(self, host: str, ts: datetime, window: float) -> list[Event]:
        """This host's unattached events of the last ``window`` seconds that no incident
        has attached yet, oldest first (at most 500, the newest)."""
        rows = self._fetch(
            f"SELECT {COLS} FROM opsconsole_events WHERE incident_id IS NULL AND host = $1 "
            "AND ts >= $2 AND ts <= $3 AND seq NOT IN (SELECT (data::jsonb->>'seq')::bigint "
            "FROM opsconsole_events WHERE type = $4 AND incident_id IS NOT NULL "
            "AND data::jsonb ? 'seq') ORDER BY seq DESC LIMIT 500",
            host, ts - timedelta(seconds=window), ts, ev.CONTEXT_ATTACHED)
        return sorted((row_event(r) for r in rows), key=lambda e: (e.ts, e.seq or 0))

    # ------------------------------------------------------------------ presence
    def here(self, incident_id: str, ttl: float = 20.0,
             actor: Actor | None = None) -> list[Presence]:
        """Heartbeat: this console has ``incident_id`` open (for ``ttl`` seconds unless
        renewed). Returns everyone present, this console included."""
        a = actor or current_actor()
        if not self.up:  # unreachable: nothing recorded, the last known shown
            return list(self._presence_seen.get(incident_id, []))

        async def go(c: Any) -> list[Any]:
            await c.execute(
                "INSERT INTO opsconsole_presence (incident_id, holder, actor_user, host, "
                "seen_at, expires_at) VALUES ($1, $2, $3, $4, now(), now() + $5 * interval "
                "'1 second') ON CONFLICT (incident_id, holder) DO UPDATE SET seen_at = now(), "
                "expires_at = excluded.expires_at, actor_user = excluded.actor_user, "
                "host = excluded.host", incident_id, self.holder_id, a.user, a.host, float(ttl))
            await c.execute("DELETE FROM opsconsole_presence WHERE expires_at < now() - "
                            "interval '1 hour'")
            return list(await c.fetch(_PRESENT, incident_id))

        return self._presence(incident_id, lambda: self._run("w", go, "recording presence"))

    def present(self, incident_id: str) -> list[Presence]:
        """Who has a console open on ``incident_id`` now (unexpired heartbeats); while the
        shared store is unreachable, who had when it was last read."""
        if not self.up:
            return list(self._presence_seen.get(incident_id, []))
        return self._presence(incident_id, lambda: self._fetch(_PRESENT, incident_id,
                                                               doing="reading presence"))

    def _presence(self, incident_id: str, read: Callable[[], list[Any]]) -> list[Presence]:
        try:
            got = [_presence(r) for r in read()]
        except StoreError:
            if self.up:
                raise
            return list(self._presence_seen.get(incident_id, []))
        self._presence_seen[incident_id] = got
        return got

    def leave(self, incident_id: str) -> None:
        self._presence_seen.pop(incident_id, None)
        if not self.up:
            return  # the heartbeat row expires by itself
        self._run("w", lambda c: c.execute(
            "DELETE FROM opsconsole_presence WHERE incident_id = $1 AND holder = $2",
            incident_id, self.holder_id), "leaving")


_PRESENT = ("SELECT actor_user, host, seen_at, holder FROM opsconsole_presence WHERE "
            "incident_id = $1 AND expires_at > now() ORDER BY host, actor_user, holder")


def _presence(r: Any) -> Presence:
    return Presence(r["actor_user"], r["host"], r["seen_at"], r["holder"])
