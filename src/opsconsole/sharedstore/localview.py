"""Reads while PostgreSQL is unreachable: the shared store answers from what this host has.

**The local copy** is the :mod:`.mirror` (the shared events this host has copied) and the
outbox rows not yet forwarded (``seq IS NULL``: what this host recorded since), read as one
list, in the order: the mirror's events by their real seq, then this host's waiting events
in the order they were recorded. The same :class:`~opsconsole.events.Event` model.

**Seqs in the local copy.** A mirrored event keeps its real (shared) seq. A waiting event
has no shared seq yet; it gets a *provisional* one, ``LOCAL_SEQ_BASE + its outbox id``
(:func:`opsconsole.events.is_provisional`): above every shared seq and increasing in the
order recorded, so a follower's ``events_after(last_seen)`` and the incident screen's
``events(id, after=last_seq)`` keep giving each event once while the outage lasts, and a
follower that was following PostgreSQL goes on from its last real seq without a restart
(everything it has read stays; what it gets is newer).

**When PostgreSQL is back** the store goes on answering from the local copy until this
host's waiting events are forwarded (or :data:`GRACE` seconds after the reconnection if they
cannot be), so nothing shown disappears meanwhile. Then it switches to PostgreSQL and
``generation`` changes (:func:`opsconsole.events.view_generation`). The events shown
provisionally now have their real seqs, higher than the other hosts' events of the outage,
which a follower of the local copy has not seen and which sort before them: a follower
that sees the generation change drops what it folded and reads again from seq 0 (the
incident screen, the incidents pane, the wall, the alerts view and the silences do), so
it shows every event exactly once, with real seqs, in the shared order. Entering the local
copy does not change the generation (nothing read before was provisional).

A follower that does not look at the generation and asks PostgreSQL for events after a
provisional seq gets (best effort) every event after the newest real seq the local copy
had, less this host's events it has already been given provisionally: each event once,
but its folding order is the one it saw.

A store without a local copy (``journal=False``; a read-only store on a host with no
mirror file) raises :class:`StoreError` while PostgreSQL is unreachable, as before.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from opsconsole.events import LOCAL_SEQ_BASE
from opsconsole.sharedstore.mirror import Mirror, attached

if TYPE_CHECKING:
    from opsconsole.sharedstore.store import PgStore

GRACE = 10.0  # seconds after a reconnection: the local copy's waiting events get forwarded

T = TypeVar("T")


class LocalView:
    """Whether reads answer from the local copy, and the store's ``generation``."""

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror
        self.active = False
        self.generation = 0
        self.horizon = 0  # the newest real seq the local copy had when it was entered
        self.first_id = 0  # the oldest outbox row that was waiting then
        self._lock = threading.Lock()

    def enter(self) -> bool:
        """(any thread) PostgreSQL is unreachable: answer locally, when there is a copy."""
        with self._lock:
            if self.active:
                return True
            try:
                if not self.mirror.exists():
                    return False
                self.horizon = self.mirror.max_shared_seq()
                self.first_id = self._first_waiting()
            except Exception:  # an unreadable mirror: no local copy (reads fail as before)
                return False
            self.active = True
            return True

    def leave(self) -> None:
        """PostgreSQL answers again, and has this host's events: a new generation."""
        with self._lock:
            if self.active:
                self.active = False
                self.generation += 1

    def _first_waiting(self) -> int:
        with self.mirror._using() as c:
            if c is None or not attached(c):
                return 0
            row = c.execute("SELECT min(id) FROM ob.outbox WHERE seq IS NULL").fetchone()
            if row[0] is not None:
                return int(row[0])
            return int(c.execute("SELECT coalesce(max(id), 0) + 1 FROM ob.outbox")
                       .fetchone()[0])

    def waiting(self) -> int:
        """This host's events not yet forwarded, as the outbox file says (read-only stores
        have no outbox object of their own)."""
        with self.mirror._using() as c:
            if c is None or not attached(c):
                return 0
            return int(c.execute("SELECT count(*) FROM ob.outbox WHERE seq IS NULL")
                       .fetchone()[0])

    def shared_cursor(self, after: int) -> tuple[int, list[int]]:
        """A cursor for PostgreSQL: ``after`` itself when it is a real seq; for a
        provisional one (a follower that did not start again), the newest real seq the
        local copy had, and the seqs of this host's events it was already given."""
        if after < LOCAL_SEQ_BASE:
            return after, []
        upto_id = after - LOCAL_SEQ_BASE
        try:
            with self.mirror._using() as c:
                if c is None or not attached(c):
                    return self.horizon, []
                rows = c.execute("SELECT seq FROM ob.outbox WHERE id >= ? AND id <= ? AND "
                                 "seq > ?", (self.first_id, upto_id, self.horizon)).fetchall()
        except sqlite3.Error:
            return self.horizon, []
        return self.horizon, [int(r[0]) for r in rows]


def reads_locally(view: LocalView | None) -> bool:
    return view is not None and view.active


def either(view: LocalView | None, shared: Callable[[], T], local: Callable[[Mirror], T],
           fail: Callable[[BaseException], BaseException]) -> T:
    """``shared()`` while PostgreSQL answers, ``local(mirror)`` while the local copy does
    (also when the shared read just found the server gone). ``fail`` turns a local read's
    error into the store's."""
    if not reads_locally(view):
        try:
            return shared()
        except OSError:
            if not reads_locally(view):
                raise
    assert view is not None
    try:
        return local(view.mirror)
    except Exception as exc:
        raise fail(exc) from None


def maybe_leave(store: PgStore) -> None:
    """(the store's loop) Back to PostgreSQL's answers once it has this host's waiting
    events (or :data:`GRACE` seconds after the reconnection): a new generation."""
    lv = store.local
    if lv is None or not lv.active or not store.up:
        return
    if time.monotonic() - store._back_at < GRACE:
        try:
            if store._waiting if store.outbox is not None else lv.waiting():
                return
        except (OSError, sqlite3.Error):
            pass
    lv.leave()
    store._mkick.set()
    store._fire()  # every follower starts again from seq 0 (a new generation)
