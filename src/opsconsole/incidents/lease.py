"""A lease in the incident store: one holder of a named role (the alert evaluator) per store.

The first process to :meth:`Lease.acquire` holds the role until its claim expires
(``ttl`` seconds after its last renewal); the holder renews well before that. A holder that
dies (``kill -9``, a dropped host) stops renewing, and the next process to ask takes over
once the claim has run out — never before, so two evaluators never overlap while the first
one is alive and renewing. Everything happens inside one ``BEGIN IMMEDIATE`` transaction,
so two processes asking at the same instant cannot both win.

A store opened read-only can never hold a lease (``--read-only`` writes nothing): such a
console only displays what the holder records.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

EVALUATOR = "alert-evaluator"


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    holder: str
    host: str
    pid: int
    acquired_at: float
    renewed_at: float
    expires_at: float

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def label(self) -> str:
        return f"pid {self.pid} on {self.host}"


class LeaseError(OSError):
    """The store could not be read or written for the lease."""


class Lease:
    """One claim on ``name`` in the store file at ``path`` (a SQLite incident store)."""

    def __init__(self, path: str | Path, name: str = EVALUATOR, *, ttl: float = 15.0,
                 clock: Callable[[], float] = time.time, busy_timeout: float = 2.0,
                 read_only: bool = False) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.path = Path(path)
        self.name = name
        self.ttl = ttl
        self.clock = clock
        self.busy_timeout = busy_timeout
        self.host = socket.gethostname()
        self.pid = os.getpid()
        # unique per claimant, even for two Lease objects in one process
        self.holder_id = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"
        self.held = False
        self.read_only = read_only  # only current(), through a read-only connection

    # ------------------------------------------------------------------ connection
    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:  # --read-only, the wall: not even a -shm file is written
                from opsconsole.incidents.sqlitefile import read_only_uri

                conn = sqlite3.connect(read_only_uri(self.path)[0], uri=True,
                                       timeout=self.busy_timeout, isolation_level=None)
            else:
                conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout,
                                       isolation_level=None)
        except sqlite3.Error as exc:
            raise LeaseError(f"{self.path}: cannot open for the lease: {exc}") from None
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return conn

    @staticmethod
    def _row(row: tuple | None) -> LeaseInfo | None:  # type: ignore[type-arg]
        return None if row is None else LeaseInfo(*row)

    _SELECT = ("SELECT name, holder, host, pid, acquired_at, renewed_at, expires_at "
               "FROM leases WHERE name = ?")

    # ------------------------------------------------------------------ the claim
    def acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours (then renew it). Returns
        whether this claimant holds it now."""
        if self.read_only:
            self.held = False
            return False
        now = self.clock()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            current = self._row(conn.execute(self._SELECT, (self.name,)).fetchone())
            if current is not None and current.holder != self.holder_id \
                    and not current.expired(now):
                conn.execute("ROLLBACK")
                self.held = False
                return False
            acquired = now if current is None or current.holder != self.holder_id \
                else current.acquired_at
            conn.execute(
                "INSERT INTO leases (name, holder, host, pid, acquired_at, renewed_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "holder = excluded.holder, host = excluded.host, pid = excluded.pid, "
                "acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at, "
                "expires_at = excluded.expires_at",
                (self.name, self.holder_id, self.host, self.pid, acquired, now,
                 now + self.ttl))
            conn.execute("COMMIT")
            self.held = True
            return True
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self.held = False
            raise LeaseError(f"{self.path}: lease {self.name!r}: {exc}") from None
        finally:
            conn.close()

    def renew(self) -> bool:
        """Renew a lease we hold (False when another claimant took it after ours expired)."""
        if not self.held:
            return False
        return self.acquire() and self.held

    def release(self) -> None:
        """Give the lease up now (on a clean exit), so the next evaluator need not wait."""
        if not self.held:
            return
        conn = self._connect()
        try:
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?",
                         (self.name, self.holder_id))
        except sqlite3.Error as exc:
            raise LeaseError(f"{self.path}: releasing lease {self.name!r}: {exc}") from None
        finally:
            conn.close()
            self.held = False

    def current(self) -> LeaseInfo | None:
        """Who holds the lease now (possibly expired: check :meth:`LeaseInfo.expired`)."""
        conn = self._connect()
        try:
            return self._row(conn.execute(self._SELECT, (self.name,)).fetchone())
        except sqlite3.Error as exc:
            raise LeaseError(f"{self.path}: reading lease {self.name!r}: {exc}") from None
        finally:
            conn.close()
