"""Where the console's events go: the sinks behind :class:`~opsconsole.events.EventSink`.

:class:`IncidentSink` is the routing policy the console and the CLIs use: an event lands on
the incident it names, else on the active incident, else unattached in the store; when the
store cannot take it, in the operator journal (:class:`JournalSink`, JSON lines with an
fsync per event) so nothing is lost. When neither can be written (a full disk, a read-only
data directory) the event is kept in memory, in order, and a worker thread retries with
bounded backoff; once space is back the pending events are written in the order they
happened (``pending``/``failure`` tell the header what is going on). :class:`MemorySink`
keeps events in memory only (tests, benchmarks); :class:`ReadOnlySink` records nothing
(``--read-only``). Never imports Textual.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opsconsole.events import Actor, Event, current_actor, utcnow
from opsconsole.files import ensure_private_dir, open_private_append, os_reason
from opsconsole.incidents.store import Store, StoreError

RETRY_FIRST = 0.5  # seconds before the first retry of events kept in memory
RETRY_MAX = 30.0  # the backoff doubles up to this


@dataclass
class JournalSink:
    """Append-only JSON-lines journal with an fsync per event."""

    path: Path
    actor: Actor = field(default_factory=current_actor)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None,
               ts: datetime | None = None, actor: Actor | None = None) -> Event:
        event = Event(type=type, data=data, actor=actor or self.actor, ts=ts or utcnow(),
                      incident_id=incident_id)
        line = (json.dumps(event.to_json(), default=str, sort_keys=True) + "\n").encode()
        with self._lock:
            ensure_private_dir(self.path.parent)
            # 0600, never through a planted symlink, never a file of another user
            with open_private_append(self.path, "ab") as fh:
                start = fh.tell()
                try:
                    fh.write(line)
                    fh.flush()
                    os.fsync(fh.fileno())
                except OSError:
                    # half a line would corrupt the next one: cut it off again
                    try:
                        fh.truncate(start)
                    except OSError:
                        pass
                    raise
        return event

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


@dataclass
class MemorySink:
    """Keeps events in memory only (tests and benchmarks)."""

    actor: Actor = field(default_factory=current_actor)
    events: list[Event] = field(default_factory=list)

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None) -> Event:
        event = Event(type=type, data=data, actor=self.actor, ts=utcnow(), incident_id=incident_id,
                      seq=len(self.events) + 1)
        self.events.append(event)
        return event


@dataclass
class ReadOnlySink:
    """``--read-only``: nothing is recorded anywhere (no store write, no journal file)."""

    actor: Actor = field(default_factory=current_actor)
    pending: int = 0
    failure: str | None = None

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None) -> Event:
        return Event(type=type, data=data, actor=self.actor, ts=utcnow(), incident_id=incident_id)


@dataclass(frozen=True)
class _Pending:
    type: str
    data: dict[str, Any]
    incident_id: str | None
    ts: datetime


@dataclass
class IncidentSink:
    """The console's :class:`~opsconsole.events.EventSink`: events go to the incident store.

    An event without ``incident_id`` lands on the ACTIVE incident (the one most recently
    opened in this console); with no active incident it is still kept durably in the store,
    unattached. If the store cannot take it, the event goes to the operator journal in the
    data directory so nothing is lost (and the error is remembered in ``last_error``).
    """

    store: Store | None
    actor: Actor = field(default_factory=current_actor)
    fallback: JournalSink | None = None
    active: str | None = None
    last_error: str | None = None
    attach_window: float = 0.0  # seconds of unattached events a declaration links (0: none)
    on_change: Callable[[], None] | None = None  # pending/failure changed (any thread)
    retry_first: float = RETRY_FIRST
    retry_max: float = RETRY_MAX
    failure: str | None = None  # why events are kept in memory ("disk full (ENOSPC)")
    _pending: deque[_Pending] = field(default_factory=deque, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _wake: threading.Event = field(default_factory=threading.Event, repr=False)
    _retrier: threading.Thread | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def pending(self) -> int:
        """Events kept in memory, not yet written anywhere."""
        return len(self._pending)

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None) -> Event:
        """Write the event to the store (else the journal); when neither can take it, keep it
        in memory for the retry worker. Events are written in the order recorded."""
        iid = incident_id if incident_id is not None else self.active
        item = _Pending(type, dict(data), iid, utcnow())
        with self._lock:
            if not self._pending:
                try:
                    return self._write(item)
                except OSError as exc:
                    if self.fallback is None and isinstance(exc, StoreError):
                        raise
                    self._keep(item, exc)
            else:
                self._pending.append(item)  # behind the older ones: order is kept
        self._changed()
        return Event(type=type, data=item.data, actor=self.actor, ts=item.ts, incident_id=iid)

    def _write(self, item: _Pending) -> Event:
        """One event to the store, else the journal (raises OSError when neither works)."""
        try:
            if self.store is None:
                raise StoreError("the incident store is not open (yet)")
            event = self.store.append(item.type, item.data, incident_id=item.incident_id,
                                      actor=self.actor, ts=item.ts)
        except StoreError as exc:
            self.last_error = str(exc)
            if self.fallback is None:
                raise
            return self.fallback.record(item.type, {**item.data, "store_error": str(exc)},
                                        incident_id=item.incident_id, ts=item.ts,
                                        actor=self.actor)
        self.last_error = None
        return event

    def _keep(self, item: _Pending, exc: OSError) -> None:
        self._pending.append(item)
        self.failure = os_reason(exc)
        self.last_error = str(exc)
        if self._retrier is None and not self._closed:
            self._retrier = threading.Thread(target=self._retry_loop, daemon=True,
                                             name="opsconsole-record-retry")
            self._retrier.start()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # a closed app: the status is still readable
                pass

    def flush(self) -> bool:
        """Try once to write the pending events, oldest first; True when none are left."""
        wrote = False
        with self._lock:
            while self._pending:
                try:
                    self._write(self._pending[0])
                except OSError as exc:
                    self.failure = os_reason(exc)
                    self.last_error = str(exc)
                    break
                self._pending.popleft()
                wrote = True
            done = not self._pending
            if done:
                self.failure = None
        if wrote or done:
            self._changed()
        return done

    def pending_events(self) -> list[Event]:
        """The events still kept in memory, oldest first (to print them when giving up)."""
        with self._lock:
            return [Event(type=p.type, data=p.data, actor=self.actor, ts=p.ts,
                          incident_id=p.incident_id) for p in self._pending]

    def retry_now(self) -> None:
        """Wake the retry worker (e.g. the operator freed space)."""
        self._wake.set()

    def _retry_loop(self) -> None:
        """(thread) Retry with bounded backoff until every pending event is written."""
        delay = self.retry_first
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            if self.flush() or self._closed:
                with self._lock:
                    if not self._pending or self._closed:
                        self._retrier = None
                        return
            delay = min(delay * 2, self.retry_max)

    def close(self) -> int:
        """Stop retrying after one last try; returns how many events could not be written."""
        self.flush()
        self._closed = True
        self._wake.set()
        return self.pending

    def declare(self, title: str, severity: str, services: list[str] | None = None,
                **extra: Any) -> Event:
        if self.store is None:
            raise StoreError("the incident store is not open; cannot declare an incident")
        event = self.store.declare(title, severity, services, actor=self.actor,
                                   extra=extra or None, attach_window=self.attach_window)
        self.active = event.incident_id
        return event
