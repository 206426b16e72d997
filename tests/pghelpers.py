"""Waiting on a real PostgreSQL server's view of its sessions."""

from __future__ import annotations

from typing import Any

from eventually import eventually


async def waits_on_lock(mon: Any, pid: int, timeout: float = 10.0) -> None:
    """Until backend ``pid`` waits on a lock (seen through the connection ``mon``)."""
    await eventually(lambda: mon.fetchval(
        "select wait_event_type = 'Lock' from pg_stat_activity where pid = $1", pid),
        timeout, what=f"pid {pid} waiting on a lock")
