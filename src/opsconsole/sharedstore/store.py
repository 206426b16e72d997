"""The shared PostgreSQL store: the ``Store`` protocol over a database several hosts share.

Every event is first written to the local :class:`~.outbox.Outbox` (durable, as the SQLite
store), then forwarded in order by the store's own loop; while PostgreSQL is reachable an
append waits (bounded) for its forward and returns the event with its shared ``seq``; while
it is not, the append returns at once (``seq=None``), :attr:`PgStore.up` is False and
:meth:`PgStore.status_line` says "shared store unreachable — recording locally (N waiting)".
The forwarder sends everything in order once the server is back, exactly once (the
source-chosen ``uid``, ``ON CONFLICT DO NOTHING``).

Live: one connection ``LISTEN``s on :data:`~.schema.CHANNEL`; a NOTIFY (the newest seq)
or a reconnection calls every :meth:`PgStore.subscribe` callback, and the reader reads
``WHERE seq > last_seen`` itself — a reconnected console catches up from its last seq.

Every PostgreSQL call has a timeout and runs on the store's loop (:mod:`.loop`), never on
the caller's. While the server is unreachable, reads answer at once from this host's local
copy (:mod:`.mirror`, kept by :func:`.mirror.keep_mirror`; :mod:`.localview` says what the
seqs mean and when ``generation`` changes), or raise :class:`StoreError` without one.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from opsconsole import events as ev
from opsconsole.events import Actor, Event, current_actor, utcnow
from opsconsole.incidents.store import StoreError, UnknownIncident, store_file
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.conn import DsnError, connect
from opsconsole.schema import Duration
from opsconsole.secrets import safe_dsn
from opsconsole.sharedstore import forward, reads
from opsconsole.sharedstore.forward import insert_batch, is_outage
from opsconsole.sharedstore.localview import LocalView, maybe_leave
from opsconsole.sharedstore.loop import StoreLoop
from opsconsole.sharedstore.mirror import KEEP_UNATTACHED, MIRROR_NAME, Mirror, keep_mirror
from opsconsole.sharedstore.outbox import OUTBOX_NAME, Outbox
from opsconsole.sharedstore.schema import CHANNEL, SchemaError, SchemaRefused, ensure_schema

APP_NAME = "opsconsole-store"
STORE_OPTIONS = PostgresOptions(statement_timeout=Duration(10.0), lock_timeout=Duration(5.0),
                                connect_timeout=Duration(3.0))


class SharedStoreRefused(StoreError):
    """The role may not create or use the schema; ``statements`` say what to GRANT."""

    def __init__(self, message: str, statements: list[str]) -> None:
        super().__init__(message)
        self.statements = statements


class PgStore(reads.Reads):
    """The shared store (see the module docstring)."""

    kind = "postgresql"

    def __init__(self, target: DatabaseTarget, data_dir: str | Path, *,
                 options: PostgresOptions = STORE_OPTIONS, read_only: bool = False,
                 op_timeout: float = 5.0, sync_wait: float = 3.0, listen: bool = True,
                 batch: int = 2000, outbox_path: str | Path | None = None,
                 journal: bool = True, mirror_keep: int = KEEP_UNATTACHED,
                 history_path: str | Path | None = None) -> None:
        self.target = target
        self.options = options
        self.read_only = read_only
        self.op_timeout = op_timeout
        self.sync_wait = sync_wait
        self.batch = batch
        self.listen = listen
        self.label = safe_dsn(target.dsn) if target.dsn else target.name
        self.path = Path(outbox_path) if outbox_path else Path(data_dir) / OUTBOX_NAME
        # the per-minute check and SLO history: per host, in the SQLite store's file
        self.history_path = Path(history_path) if history_path else store_file(data_dir)
        # journal=False: no local journal (``store status``/``migrate`` only read and copy)
        self.outbox: Outbox | None = Outbox(self.path) if journal and not read_only else None
        self.holder_id = f"{current_actor().host}:{os.getpid()}:{secrets.token_hex(4)}"
        self.up = False
        self.error: str | None = None
        self.notified_seq = 0
        self._closed = False
        self._schema_ok = read_only
        self._conns: dict[str, Any] = {}
        self._subscribers: list[Callable[[], None]] = []
        self._known: set[str] = self.outbox.incident_ids() if self.outbox else set()
        self._waiting = self.outbox.count_waiting() if self.outbox else 0
        self._cond = threading.Condition()
        self._awaited: set[str] = set()
        self._done: dict[str, int] = {}
        self._presence_seen: dict[str, list[reads.Presence]] = {}
        # the local copy (a store with a journal keeps it; a read-only one reads it)
        self.local: LocalView | None = None
        self.mirror_error: str | None = None
        if journal and (self.outbox is not None or read_only):
            try:
                self.local = LocalView(Mirror(self.path.with_name(MIRROR_NAME),
                                              outbox_path=self.path, read_only=read_only,
                                              keep=mirror_keep))
            except (OSError, sqlite3.Error) as exc:
                self.mirror_error = f"local copy: {exc}"
        self._back_at = 0.0
        self._loop = StoreLoop()
        self._loop.call(self._setup(), 5.0)
        try:
            self._loop.call(self._connect_all(), op_timeout * 2)
            self.up = True
        except SchemaRefused as exc:
            self.close()
            raise SharedStoreRefused(f"shared store {self.label}: {exc}", exc.statements) \
                from None
        except (SchemaError, DsnError) as exc:
            self.close()
            raise StoreError(f"shared store {self.label}: {exc}") from None
        except Exception as exc:
            if not is_outage(exc):
                self.close()
                raise StoreError(f"shared store {self.label}: {exc}") from None
            self.error = self._why(exc)
            if self.local is not None:
                self.local.enter()
        self._tasks = [self._loop.spawn(self._supervise()),
                       self._loop.spawn(self._forward_loop())]
        if self.local is not None and not read_only:
            self._tasks.append(self._loop.spawn(keep_mirror(self)))

    # ------------------------------------------------------------------ loop side
    async def _setup(self) -> None:
        self._wlock = asyncio.Lock()
        self._rlock = asyncio.Lock()
        self._kick = asyncio.Event()
        self._wake = asyncio.Event()
        self._mkick = asyncio.Event()
        self._mkick.set()  # a first catch-up once connected

    @staticmethod
    def _why(exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return text.splitlines()[0][:200]

    async def _connect(self) -> Any:
        return await connect(self.target, self.options, application_name=APP_NAME)

    async def _shutdown(self) -> None:
        tasks = getattr(self, "_tasks", [])
        for t in tasks:
            t.cancel()
        for _ in range(100):  # until they have seen the cancellation (bounded)
            await asyncio.sleep(0.002 if _ else 0)
            if all(t.done() for t in tasks):
                break
        await self._close_conns()

    async def _close_conns(self) -> None:
        conns, self._conns = self._conns, {}
        for c in conns.values():
            try:
                c.terminate()
            except Exception:
                pass

    async def _connect_all(self) -> None:
        await self._close_conns()
        opened: dict[str, Any] = {}
        try:
            opened["w"] = await self._connect()
            if not self._schema_ok:
                await ensure_schema(opened["w"])
                self._schema_ok = True
            opened["r"] = await self._connect()
            if self.listen:
                opened["l"] = await self._connect()
                await opened["l"].add_listener(CHANNEL, self._on_notify)
                opened["l"].add_termination_listener(lambda _c: self._wake.set())
        except BaseException:
            for c in opened.values():
                c.terminate()
            raise
        self._conns = opened

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.notified_seq = max(self.notified_seq, int(payload))
        except ValueError:
            pass
        self._mkick.set()
        self._fire()

    def _fire(self) -> None:
        for cb in list(self._subscribers):
            try:
                cb()
            except Exception:
                pass

    def _set_down(self, exc: BaseException) -> None:
        """(any thread) The server is unreachable: say so, let the supervisor reconnect."""
        was = self.up
        self.up = False
        self.error = self._why(exc)
        if self.local is not None:
            self.local.enter()  # reads answer from this host's copy from now on
        try:
            self._loop.loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:
            pass
        with self._cond:
            self._cond.notify_all()
        if was:
            self._fire()

    async def _supervise(self) -> None:
        delay = 0.2
        while not self._closed:
            if not self.up:
                try:
                    await asyncio.wait_for(self._connect_all(), self.op_timeout)
                except Exception as exc:
                    self.error = self._why(exc)
                    await asyncio.sleep(delay if not isinstance(exc, SchemaError) else 5.0)
                    delay = min(delay * 2, 2.0)
                    continue
                delay = 0.2
                self._back_at = time.monotonic()
                self.up, self.error = True, None
                self._kick.set()
                self._mkick.set()
                self._fire()  # reconnected: every reader reads WHERE seq > its last seen
            maybe_leave(self)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), 1.0)
            except TimeoutError:
                pass
            if self.up and (len(self._conns) < (3 if self.listen else 2)
                            or any(c.is_closed() for c in self._conns.values())):
                self._set_down(ConnectionError("connection to the shared store lost"))

    async def _forward_loop(self) -> None:
        while not self._closed:
            try:
                await asyncio.wait_for(self._kick.wait(), 1.0)
            except TimeoutError:
                pass
            self._kick.clear()
            if self.outbox is not None:
                await self.forward_waiting()

    async def forward_waiting(self) -> int:
        """(loop) Forward every waiting event, oldest first; returns how many went."""
        sent = 0
        while self.up and not self._closed and self.outbox is not None:
            # the local journal is read and marked on this loop (the store's own thread,
            # never the UI's): a hop to another thread per batch cost more than the fsync
            rows = self.outbox.waiting(self.batch)
            if not rows:
                break
            try:
                seqs, _n = await self._on_conn("w", lambda c, rows=rows: insert_batch(c, rows),
                                               self.op_timeout)
            except Exception as exc:
                if is_outage(exc):
                    self._set_down(exc)
                else:
                    self.error = f"forwarding: {self._why(exc)}"
                    await asyncio.sleep(1.0)
                break
            self.outbox.mark(seqs)
            if self.local is not None:
                try:
                    self.local.mirror.add_forwarded(rows, seqs)
                except (OSError, sqlite3.Error) as exc:
                    self.mirror_error = f"local copy: {exc}"
            sent += len(rows)
            self._waiting = max(self._waiting - len(rows), 0)
            if len(rows) < self.batch:
                self._waiting = self.outbox.count_waiting()
            with self._cond:
                for u, s in seqs.items():
                    if u in self._awaited:
                        self._done[u] = s
                self._cond.notify_all()
            if not self._waiting:
                self._fire()  # the header's "N waiting" went away
                maybe_leave(self)
        return sent

    # ------------------------------------------------------------------ calling the loop
    async def _on_conn(self, which: str, fn: Callable[[Any], Awaitable[Any]],
                       timeout: float | None = None) -> Any:
        """(the store's loop) ``fn(conn)`` on the read (``r``) or write (``w``) connection,
        holding its lock; ConnectionError when it is not connected."""
        async with self._rlock if which == "r" else self._wlock:
            conn = self._conns.get(which)
            if conn is None or conn.is_closed():
                raise ConnectionError("not connected")
            return await asyncio.wait_for(fn(conn), timeout)

    def _run(self, which: str, fn: Callable[[Any], Awaitable[Any]], doing: str) -> Any:
        """Run ``fn(conn)`` on the read (``r``) or write (``w``) connection, bounded."""
        if self._closed:
            raise StoreError(f"shared store {self.label}: is closed")
        if not self.up:
            raise StoreError(f"shared store {self.label} unreachable ({self.error}); "
                             f"{doing} is not possible now")

        try:
            return self._loop.call(self._on_conn(which, fn), self.op_timeout)
        except Exception as exc:
            if is_outage(exc):
                self._set_down(exc)
                raise StoreError(f"shared store {self.label} unreachable "
                                 f"({self._why(exc)}); {doing} failed") from None
            if isinstance(exc, asyncpg.PostgresError):
                raise StoreError(f"shared store {self.label}: {doing}: {exc}") from None
            raise

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from the store's thread) when another event may be there (a
        NOTIFY, a reconnection) or the store's status changed. Returns the unsubscriber."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers \
            else None

    # ------------------------------------------------------------------ writing
    def _write(self, rows: list[tuple[Any, ...]]) -> int | None:
        """Into the outbox (durable), then wait (bounded) for the forward of the last one:
        its shared seq, or None while the shared store is unreachable."""
        if self.outbox is None:
            raise StoreError(f"shared store {self.label}: is opened read-only")
        last = rows[-1][0]
        with self._cond:
            self._awaited.add(last)
        try:
            try:
                self.outbox.add(rows)
            except OSError as exc:
                raise StoreError(f"local journal {self.path}: {exc}") from None
            except Exception as exc:  # sqlite3.Error
                raise StoreError(f"local journal {self.path}: {exc}") from None
            self._waiting += len(rows)
            self._loop.loop.call_soon_threadsafe(self._kick.set)
            deadline = time.monotonic() + self.sync_wait
            with self._cond:
                while last not in self._done and self.up and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                return self._done.pop(last, None)
        finally:
            with self._cond:
                self._awaited.discard(last)
                self._done.pop(last, None)
            if not self.up:
                self._fire()  # "N waiting" changed

    def _check_incident(self, incident_id: str) -> None:
        if incident_id in self._known:
            return
        if not self.up:
            return  # cannot tell now; recorded anyway (nothing is refused offline)
        try:
            found = self._run("r", lambda c: c.fetchval(
                "SELECT 1 FROM opsconsole_events WHERE incident_id = $1 AND type = $2 LIMIT 1",
                incident_id, ev.DECLARED), "looking up an incident")
        except StoreError:
            return
        if not found:
            raise UnknownIncident(f"no incident {incident_id!r} in {self.label}")
        self._known.add(incident_id)

    def append(self, type: str, data: dict[str, Any], *, incident_id: str | None = None,
               actor: Actor | None = None, ts: datetime | None = None) -> Event:
        actor = actor or current_actor()
        ts = ts or utcnow()
        data = dict(data)
        forward.no_provisional_references(data)
        if incident_id is not None:
            self._check_incident(incident_id)
        seq = self._write(forward.event_rows([(type, data, incident_id)], actor, ts))
        return Event(type=type, data=data, actor=actor, ts=ts, incident_id=incident_id, seq=seq)

    def declare(self, title: str, severity: str, services: list[str] | None = None, *,
                actor: Actor | None = None, ts: datetime | None = None,
                extra: dict[str, Any] | None = None, attach_window: float = 0.0) -> Event:
        """A new incident: ``INC-<day>-<n>`` allocated in PostgreSQL under a lock (two hosts
        declaring in the same second get different n); while the shared store is
        unreachable ``INC-<day>-<host>-<4 hex>`` (unique without asking anyone)."""
        if self.outbox is None:
            raise StoreError(f"shared store {self.label}: is opened read-only")
        actor = actor or current_actor()
        ts = ts or utcnow()
        data: dict[str, Any] = {"title": title, "severity": severity,
                                "services": list(services or [])}
        data.update(extra or {})
        day = ts.astimezone(UTC).strftime("%Y%m%d")
        iid = None
        if self.up:
            try:
                iid = self._run("w", lambda c: forward.reserve_id(c, day, actor.host),
                                "allocating an incident id")
            except StoreError:
                iid = None
        if iid is None:
            iid = f"INC-{day}-{forward.host_tag(actor.host)}-{secrets.token_hex(2)}"
        context: list[Event] = []
        if attach_window > 0 and self.up:
            try:
                context = self.unattached_context(actor.host, ts, attach_window)
            except StoreError:
                context = []
        items: list[tuple[str, dict[str, Any], str | None]] = []
        for orig in context:
            a = orig.actor
            items.append((ev.CONTEXT_ATTACHED, {
                "seq": orig.seq, "type": orig.type, "ts": forward.iso(orig.ts),
                "actor": {"user": a.user, "client": a.client, "tty": a.tty, "host": a.host},
                "data": orig.data}, iid))
        if context:
            data["context_attached"] = len(context)
        items.append((ev.DECLARED, data, iid))
        self._known.add(iid)
        seq = self._write(forward.event_rows(items, actor, ts))
        return Event(type=ev.DECLARED, data=data, actor=actor, ts=ts, incident_id=iid, seq=seq)

    # ------------------------------------------------------------------ status
    @property
    def waiting(self) -> int:
        """Events in the local journal not yet in the shared store (no I/O: a counter)."""
        return self._waiting

    @property
    def generation(self) -> int:
        """Changes when PostgreSQL's answers replace the local copy's (see localview)."""
        return self.local.generation if self.local is not None else 0

    @property
    def showing_local(self) -> bool:
        """Reads answer from this host's local copy (PostgreSQL unreachable)."""
        return self.local is not None and self.local.active

    def status_line(self) -> str | None:
        """For the console's header: None while PostgreSQL answers."""
        local = " · showing local copy" if self.showing_local else ""
        if self.up:
            return f"shared store back — forwarding ({self._waiting} waiting){local}" \
                if local else None
        if self.outbox is None:
            return f"shared store unreachable{local}"
        return f"shared store unreachable — recording locally ({self._waiting} waiting){local}"

    def flush(self, timeout: float = 10.0) -> int:
        """Forward what waits now (bounded); returns how many are still waiting."""
        if self.outbox is None or not self.up:
            return self._waiting
        try:
            self._loop.call(self.forward_waiting(), timeout)
        except (TimeoutError, OSError):
            pass
        return self._waiting

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self.up and self._waiting and hasattr(self, "_kick"):
                self.flush(min(self.op_timeout, 5.0))
        finally:
            self._closed = True
            try:
                self._loop.call(self._shutdown(), 5.0)
            except Exception:
                pass
            self._loop.stop()
            if self.outbox is not None:
                self.outbox.close()
            if self.local is not None:
                self.local.mirror.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
