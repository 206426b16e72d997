"""Where the console's events go: the sinks behind :class:`~opsconsole.events.EventSink`.

:class:`IncidentSink` is the routing policy the console and the CLIs use: an event lands on
the incident it names, else on the active incident, else unattached in the store; when the
store cannot take it, in the operator journal (:class:`JournalSink`, JSON lines with an
fsync per event) so nothing is lost. :class:`MemorySink` keeps events in memory only (tests,
benchmarks). Never imports Textual.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsconsole.events import Actor, Event, current_actor, utcnow
from opsconsole.incidents.store import Store, StoreError


@dataclass
class JournalSink:
    """Append-only JSON-lines journal with an fsync per event."""

    path: Path
    actor: Actor = field(default_factory=current_actor)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None) -> Event:
        event = Event(type=type, data=data, actor=self.actor, ts=utcnow(), incident_id=incident_id)
        line = json.dumps(event.to_json(), default=str, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
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

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None) -> Event:
        iid = incident_id if incident_id is not None else self.active
        try:
            if self.store is None:
                raise StoreError("the incident store is not open (yet)")
            event = self.store.append(type, data, incident_id=iid, actor=self.actor)
        except StoreError as exc:
            self.last_error = str(exc)
            if self.fallback is None:
                raise
            return self.fallback.record(type, {**data, "store_error": str(exc)},
                                        incident_id=iid)
        self.last_error = None
        return event

    def declare(self, title: str, severity: str, services: list[str] | None = None,
                **extra: Any) -> Event:
        if self.store is None:
            raise StoreError("the incident store is not open; cannot declare an incident")
        event = self.store.declare(title, severity, services, actor=self.actor,
                                   extra=extra or None, attach_window=self.attach_window)
        self.active = event.incident_id
        return event
