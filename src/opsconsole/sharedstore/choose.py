"""Which incident store the configuration selects: ``incidents: {store: …}`` names a
``postgresql://`` DSN (or ``key=value`` libpq string) or a ``databases:`` target — the
shared PostgreSQL store; unset (or ``sqlite``) is the embedded SQLite file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.incidents.lease import EVALUATOR, Lease
from opsconsole.incidents.store import Store, StoreError, open_store, store_file
from opsconsole.postgres.config import DatabaseTarget

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


def shared_target(cfg: AppConfig) -> DatabaseTarget | None:
    """The shared store's target, None for the SQLite store (raises :class:`StoreError`
    for a name that is neither a DSN nor a configured database)."""
    spec = (cfg.incidents.store or "").strip()
    if not spec or spec.lower() == "sqlite":
        return None
    if "://" in spec or "=" in spec:
        return DatabaseTarget(name="incidents", dsn=spec)
    for t in cfg.databases:
        if t.name == spec:
            return t
    names = ", ".join(t.name for t in cfg.databases) or "none configured"
    raise StoreError(f"incidents.store: {spec!r} is neither a postgresql:// DSN nor the name "
                     f"of a databases: entry ({names})")


def open_configured(cfg: AppConfig, data_dir: str | Path, *, read_only: bool = False,
                    **kw: Any) -> Store:
    """The store the config selects (SQLite: ``incidents.database`` in the data dir)."""
    target = shared_target(cfg)
    if target is None:
        return open_store(data_dir, cfg.incidents.database, read_only=read_only)
    from opsconsole.sharedstore.store import PgStore

    kw.setdefault("history_path", store_file(data_dir, cfg.incidents.database))
    return PgStore(target, data_dir, read_only=read_only, **kw)


def is_shared(store: object) -> bool:
    return getattr(store, "kind", None) == "postgresql"


def lease_for(store: Any, name: str = EVALUATOR, *, ttl: float = 15.0,
              clock: Callable[[], float] = time.time) -> Any:
    """The lease of ``store``: in PostgreSQL for the shared store (one evaluator per
    store), in the SQLite file otherwise."""
    if is_shared(store):
        from opsconsole.sharedstore.lease import PgLease

        return PgLease(store, name, ttl=ttl, clock=clock)
    return Lease(store.path, name, ttl=ttl, clock=clock,
                 read_only=bool(getattr(store, "read_only", False)))
