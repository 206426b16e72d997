"""The one path that cancels a query or terminates a session. Never imports Textual.

read-only check → identity re-check → signal → record. Pids are reused: the backend must
still have the ``backend_start`` (and ``query_start``) the operator saw, or we refuse and
say why. The check and the signal are one SQL statement, so nothing can slip in between.
Every attempt that reaches the server is recorded through the app's EventSink as
``db.cancel`` / ``db.terminate`` with its target and result.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from opsconsole.events import DB_CANCEL, DB_TERMINATE, EventSink
from opsconsole.fmt import one_line
from opsconsole.postgres.redact import redact_sql

Mode = Literal["cancel", "terminate"]

WHAT = {
    "cancel": "cancel the running query (pg_cancel_backend); the session stays connected",
    "terminate": "close the whole session (pg_terminate_backend); its open transaction is "
                 "rolled back",
}

TERMINATE_WAIT_MS = 3000  # PG13+: wait this long for the session to exit (needs a longer
#                           statement_timeout than the monitoring session's: see source.py)

LOOKUP_SQL = """/* opsconsole */ SELECT pid, usename, datname, application_name, state,
       backend_start, query_start, left(query, 2000) AS query
  FROM pg_stat_activity WHERE pid = $1"""

SIGNAL_SQL = """/* opsconsole */ SELECT {fn}
  FROM pg_stat_activity
 WHERE pid = $1 AND backend_start = $2
   AND ($4 OR query_start IS NOT DISTINCT FROM $3)"""


@dataclass(frozen=True)
class SignalResult:
    ok: bool
    result: str  # "signalled" | "ended" | "refused" | "failed"
    message: str  # one sentence for the operator

    def __bool__(self) -> bool:
        return self.ok


async def signal_backend(conn: asyncpg.Connection, pid: int, backend_start: datetime | None,
                         query_start: datetime | None, mode: Mode, *,
                         sink: EventSink | None = None, read_only: bool = False,
                         redact: bool = False, target: str = "",
                         check_query_start: bool = True,
                         context: dict[str, Any] | None = None) -> SignalResult:
    """Cancel (``mode="cancel"``) or terminate the backend ``pid`` if, and only if, it is
    still the one the operator saw. Records ``db.cancel`` / ``db.terminate`` to ``sink``,
    with ``context``: what the confirmation showed (``stale``: the data's age when it was
    stale, ``blocks``/``blocks_direct``: sessions it blocked, ``application``)."""
    if mode not in ("cancel", "terminate"):
        raise ValueError(f"mode must be cancel or terminate, not {mode!r}")
    if read_only:
        return SignalResult(False, "refused", "read-only mode: cancel and terminate are disabled")
    if backend_start is None:
        return SignalResult(False, "refused",
                            f"pid {pid}: its backend start time is not visible to this role, "
                            "so it cannot be checked; refusing to signal it")
    row = await conn.fetchrow(LOOKUP_SQL, pid)
    data: dict[str, Any] = {
        "target": target, "pid": pid, "mode": mode,
        "backend_start": backend_start.isoformat(),
        "query_start": query_start.isoformat() if query_start else None,
    }
    for k, v in (context or {}).items():
        if k in ("stale", "blocks", "blocks_direct", "application") and v is not None:
            data[k] = v if isinstance(v, int) else one_line(str(v), 200)
    if row is not None:
        query = row["query"] or ""
        data.update(user=row["usename"], database=row["datname"],
                    application=row["application_name"], state=row["state"],
                    query=one_line(redact_sql(query) if redact else query, 500))

    reason = None
    if row is None:
        reason = f"pid {pid} no longer exists (the session already ended)"
    elif row["backend_start"] != backend_start:
        reason = (f"pid {pid} is now a different session (started "
                  f"{row['backend_start']:%H:%M:%S}, you saw one started "
                  f"{backend_start:%H:%M:%S}): pids are reused")
    elif check_query_start and row["query_start"] != query_start:
        reason = f"pid {pid} has started another statement since you looked; look again"
    if reason is not None:
        result = SignalResult(False, "refused", reason)
        await _arecord(sink, mode, data, result)
        return result

    fn = "pg_cancel_backend(pid)" if mode == "cancel" else (
        f"pg_terminate_backend(pid, {TERMINATE_WAIT_MS})" if conn.get_server_version().major >= 13
        else "pg_terminate_backend(pid)")
    try:
        done = await conn.fetch(SIGNAL_SQL.format(fn=fn), pid, backend_start, query_start,
                                not check_query_start)
    except asyncpg.PostgresError as exc:
        msg = one_line(str(exc), 300)
        if "permission denied" in msg.lower() or "must be" in msg.lower():
            msg += " (GRANT pg_signal_backend TO <your role>; superuser sessions need a superuser)"
        result = SignalResult(False, "failed", f"pid {pid}: {msg}")
        await _arecord(sink, mode, data, result)
        return result
    if not done:
        result = SignalResult(False, "refused",
                              f"pid {pid} changed while we checked it; nothing was signalled")
    elif done[0][0] is True:
        if mode == "cancel":
            result = SignalResult(True, "signalled", f"pid {pid}: cancel sent")
        else:
            result = SignalResult(True, "ended", f"pid {pid}: session terminated")
    elif mode == "terminate":
        # PG13+ returns false when the signal was sent but the session had not exited in time
        gone = not await conn.fetchval(
            "/* opsconsole */ SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
        result = (SignalResult(True, "ended", f"pid {pid}: session terminated") if gone else
                  SignalResult(False, "failed", f"pid {pid}: terminate sent, but the session "
                               f"had not exited after {TERMINATE_WAIT_MS / 1000:g}s"))
    else:
        result = SignalResult(False, "failed", f"pid {pid}: the server did not signal it "
                              "(it may have just ended)")
    await _arecord(sink, mode, data, result)
    return result


async def _arecord(sink: EventSink | None, mode: str, data: dict[str, Any],
                   result: SignalResult) -> None:
    """Record in a thread: the sink writes to disk (SQLite, fsync), never on the event loop."""
    await asyncio.to_thread(_record, sink, mode, data, result)


def _record(sink: EventSink | None, mode: str, data: dict[str, Any], result: SignalResult) -> None:
    if sink is None:
        return
    sink.record(DB_CANCEL if mode == "cancel" else DB_TERMINATE, {**data, "result": result.result, "message": result.message})
