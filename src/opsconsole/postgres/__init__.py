"""PostgreSQL monitoring: the safe connection, server capabilities, slow queries, blocking
locks, statement deltas and the one path that cancels or terminates a backend.

Never imports Textual. The pinned entry point for others (runbooks) is :func:`connect`.

The package itself imports nothing: ``opsconsole.postgres.config`` (read with every config
file) must not pull in asyncpg; :func:`connect` and friends load :mod:`.conn` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsconsole.postgres.conn import APP_NAME, connect, connect_kwargs

__all__ = ["APP_NAME", "connect", "connect_kwargs"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from opsconsole.postgres import conn

        return getattr(conn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
