"""One alert evaluator per store: the lease in the SQLite store (real files, real processes)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from eventually import eventually_sync
from opsconsole.incidents.lease import Lease
from opsconsole.incidents.migrations import MIGRATIONS, split_sql
from opsconsole.incidents.store import SQLiteStore


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def store_file(tmp_path: Path) -> Path:
    db = tmp_path / "incidents.db"
    SQLiteStore(db).close()
    return db


def test_one_holder_until_its_claim_runs_out(tmp_path):
    db, clock = store_file(tmp_path), Clock()
    first, second = Lease(db, ttl=15, clock=clock), Lease(db, ttl=15, clock=clock)
    assert first.acquire()
    assert not second.acquire()
    clock.t += 10
    assert first.renew()  # renewed at +10: good until +25
    clock.t += 14
    assert not second.acquire()  # +24: still first's
    info = second.current()
    assert info is not None and info.holder == first.holder_id and info.pid == first.pid
    clock.t += 2  # +26: first stopped renewing (dead) and its claim ran out
    assert second.acquire()
    assert not first.renew()  # the old holder learns it lost the lease
    assert second.current().holder == second.holder_id


def test_release_lets_the_next_one_in_at_once(tmp_path):
    db, clock = store_file(tmp_path), Clock()
    first, second = Lease(db, clock=clock), Lease(db, clock=clock)
    assert first.acquire()
    first.release()
    assert second.acquire()


def test_simultaneous_claims_have_one_winner(tmp_path):
    db = store_file(tmp_path)
    leases = [Lease(db, ttl=60) for _ in range(8)]
    barrier = threading.Barrier(len(leases))
    won: list[bool] = []

    def claim(lease: Lease) -> None:
        barrier.wait()
        won.append(lease.acquire())

    threads = [threading.Thread(target=claim, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(won) == [False] * 7 + [True]


HOLDER = """
import sys, time
from opsconsole.incidents.lease import Lease
lease = Lease(sys.argv[1], ttl=1.5)
assert lease.acquire()
print("held", flush=True)
while True:
    time.sleep(0.2)
    lease.renew()
"""


def test_a_killed_holder_is_replaced_after_its_claim_expires(tmp_path):
    db = store_file(tmp_path)
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        mine = Lease(db, ttl=1.5)
        assert not mine.acquire()  # alive and renewing: not ours
        held_by = mine.current()
        assert held_by is not None and held_by.pid == p.pid
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        last = mine.current()
        eventually_sync(mine.acquire, timeout=10, what="the dead holder's lease to expire")
        # never before the dead holder's claim had run out
        assert mine.current().acquired_at >= last.expires_at
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_a_version_1_store_gains_the_lease_table_and_keeps_its_events(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    for stmt in split_sql(MIGRATIONS[0]):
        conn.execute(stmt)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("PRAGMA application_id = 1330664259")
    conn.execute("INSERT INTO events (incident_id, type, ts, actor_user, host, data) "
                 "VALUES (NULL, 'incident.note', '2026-12-01T00:00:00+00:00', 'alice', 'h', "
                 "'{\"text\": \"kept\"}')")
    conn.close()
    store = SQLiteStore(db)
    try:
        assert [e.data for e in store.events(None)] == [{"text": "kept"}]
        assert store.conn_pragmas()["user_version"] == 3
    finally:
        store.close()
    assert Lease(db).acquire()


def test_the_lease_of_a_read_only_store_is_read_and_never_taken(tmp_path):
    """--read-only and the wall read who evaluates; they never claim, and their reads go
    through a read-only connection (not one that could write the file)."""
    from opsconsole.incidents.store import open_store
    from opsconsole.sharedstore.choose import lease_for

    db = store_file(tmp_path)
    holder = Lease(db, ttl=60)
    assert holder.acquire()
    ro = open_store(tmp_path, read_only=True)
    try:
        lease = lease_for(ro)
        assert lease.read_only
        assert lease.current().holder == holder.holder_id
        holder.release()
        assert lease.current() is None
        assert not lease.acquire() and not lease.held
        assert lease.current() is None  # it took nothing
        conn = lease._connect()
        try:  # the connection itself refuses writes
            try:
                conn.execute("DELETE FROM leases")
                raise AssertionError("a read-only lease connection wrote")
            except sqlite3.OperationalError as exc:
                assert "readonly" in str(exc).replace(" ", "")
        finally:
            conn.close()
    finally:
        ro.close()
