"""The evaluator lease in the shared store: one alert evaluator per *store*, whichever host
it runs on. The same claim as :class:`opsconsole.incidents.lease.Lease` (take it when free,
expired or ours; renew; release on a clean exit), in one PostgreSQL transaction with the
row locked (``FOR UPDATE``), so two hosts asking at once cannot both win."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsconsole.events import host_name
from opsconsole.incidents.lease import EVALUATOR, LeaseError, LeaseInfo
from opsconsole.incidents.store import StoreError

if TYPE_CHECKING:
    from opsconsole.sharedstore.store import PgStore

_SELECT = ("SELECT name, holder, host, pid, acquired_at, renewed_at, expires_at "
           "FROM opsconsole_leases WHERE name = $1")


def _info(row: Any) -> LeaseInfo | None:
    return None if row is None else LeaseInfo(*tuple(row))


class PgLease:
    """One claim on ``name`` in a :class:`~.store.PgStore`."""

    def __init__(self, store: PgStore, name: str = EVALUATOR, *, ttl: float = 15.0,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.store = store
        self.name = name
        self.ttl = ttl
        self.clock = clock
        self.host = host_name()
        self.pid = os.getpid()
        self.holder_id = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"
        self.held = False

    def _run(self, fn: Callable[[Any], Any], doing: str) -> Any:
        try:
            return self.store._run("w", fn, doing)
        except StoreError as exc:
            raise LeaseError(f"lease {self.name!r}: {exc}") from None

    def acquire(self) -> bool:
        now = self.clock()

        async def go(c: Any) -> bool:
            async with c.transaction():
                await c.execute("INSERT INTO opsconsole_leases (name, holder, host, pid, "
                                "acquired_at, renewed_at, expires_at) VALUES ($1, '', '', 0, "
                                "0, 0, 0) ON CONFLICT (name) DO NOTHING", self.name)
                cur = _info(await c.fetchrow(_SELECT + " FOR UPDATE", self.name))
                assert cur is not None
                mine = cur.holder == self.holder_id
                if cur.holder and not mine and not cur.expired(now):
                    return False
                acquired = cur.acquired_at if mine else now
                await c.execute("UPDATE opsconsole_leases SET holder = $2, host = $3, pid = $4, "
                                "acquired_at = $5, renewed_at = $6, expires_at = $7 "
                                "WHERE name = $1", self.name, self.holder_id, self.host,
                                self.pid, acquired, now, now + self.ttl)
                return True

        try:
            self.held = bool(self._run(go, "taking the lease"))
        except LeaseError:
            self.held = False
            raise
        return self.held

    def renew(self) -> bool:
        if not self.held:
            return False
        return self.acquire() and self.held

    def release(self) -> None:
        if not self.held:
            return
        try:
            self._run(lambda c: c.execute("DELETE FROM opsconsole_leases WHERE name = $1 AND "
                                          "holder = $2", self.name, self.holder_id),
                      "releasing the lease")
        finally:
            self.held = False

    def current(self) -> LeaseInfo | None:
        info = _info(self._run(lambda c: c.fetchrow(_SELECT, self.name), "reading the lease"))
        return None if info is None or not info.holder else info
