"""PostgreSQL monitoring: the safe connection, server capabilities, slow queries, blocking
locks, statement deltas and the one path that cancels or terminates a backend.

Never imports Textual. The pinned entry point for others (runbooks) is :func:`connect`.
"""

from __future__ import annotations

from opsconsole.postgres.conn import APP_NAME, connect, connect_kwargs

__all__ = ["APP_NAME", "connect", "connect_kwargs"]
