"""``sql`` checks: one number from a read-only query on a named ``databases:`` target.

The connection is the monitoring-safe one (:func:`opsconsole.postgres.conn.connect`): the
``postgres:`` statement and lock timeouts (each no longer than the check's timeout), and the
query runs in a ``READ ONLY`` transaction that is rolled back, so a write is refused by the
server. The answer must be exactly one row of one numeric column; anything else (no row,
two rows, two columns, a text, NULL) is a check error (UNKNOWN) that says what came back.
"""

from __future__ import annotations

import asyncio
import decimal
import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import asyncpg

from opsconsole.checks.engine import Outcome, State, classify_network_error
from opsconsole.checks.levels import value_state
from opsconsole.checks.probes.postgres import _host, _target
from opsconsole.checks.spec import SqlCheck
from opsconsole.fmt import duration, one_line
from opsconsole.postgres.config import PostgresOptions
from opsconsole.postgres.conn import close_quietly, connect, connect_kwargs
from opsconsole.schema import Duration
from opsconsole.secrets import safe_dsn

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | decimal.Decimal):
        raise Outcome("UNKNOWN", f"the query returned {type(v).__name__} {one_line(repr(v), 40)}"
                                 ", not a number")
    f = float(v)
    if not math.isfinite(f):
        raise Outcome("UNKNOWN", f"the query returned {v}, not a finite number")
    return f


async def probe(spec: SqlCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    target = _target(config, spec.database)
    details["dsn"] = safe_dsn(target.dsn)
    timeout = float(spec.timeout)
    base = getattr(config, "postgres", None) or PostgresOptions()
    options = replace(base, connect_timeout=Duration(min(float(base.connect_timeout), timeout)),
                      # under the check's own bound, so the server cancels a slow query
                      # (a clear "statement_timeout" UNKNOWN) before the check gives up on it
                      statement_timeout=Duration(min(float(base.statement_timeout),
                                                     0.8 * timeout)))
    try:
        host = _host(connect_kwargs(target, options))
    except ValueError as exc:
        raise Outcome("UNKNOWN", f"cannot use the DSN of {spec.database!r}: {exc}") from None
    started = time.monotonic()
    conn = None
    phase = "connecting"
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(target, options)
            phase = "running the query"
            tr = conn.transaction(readonly=True)
            await tr.start()
            try:
                stmt = await conn.prepare(spec.query)
                cols = stmt.get_attributes()
                if len(cols) != 1:
                    raise Outcome("UNKNOWN", f"the query returns {len(cols)} columns; expected "
                                             "one numeric column")
                rows = await (await stmt.cursor()).fetch(2)
            finally:
                await tr.rollback()
    except Outcome:
        raise
    except TimeoutError:
        raise Outcome("CRITICAL", f"timed out after {duration(timeout)} ({phase})") from None
    except asyncpg.QueryCanceledError as exc:
        raise Outcome("UNKNOWN", f"query cancelled by statement_timeout "
                                 f"({duration(float(options.statement_timeout))}): "
                                 f"{one_line(str(exc), 80)}") from None
    except asyncpg.ReadOnlySQLTransactionError as exc:
        raise Outcome("UNKNOWN", f"refused: the query writes, and sql checks are read-only "
                                 f"({one_line(str(exc), 100)})") from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise Outcome("CRITICAL", f"authentication failed: {one_line(str(exc), 120)}") from None
    except asyncpg.PostgresError as exc:
        code = getattr(exc, "sqlstate", "") or ""
        state: State = "CRITICAL" if phase == "connecting" else "UNKNOWN"
        raise Outcome(state, f"PostgreSQL error {code}: {one_line(str(exc), 120)}") from None
    except (OSError, asyncpg.InterfaceError, ConnectionError) as exc:
        raise Outcome("CRITICAL", classify_network_error(exc, host)) from None
    finally:
        if conn is not None:
            await close_quietly(conn)
    latency = time.monotonic() - started
    if len(rows) != 1:
        got = "no row" if not rows else "more than one row"
        raise Outcome("UNKNOWN", f"the query returned {got}; expected exactly one row")
    raw = rows[0][0]
    if raw is None:
        raise Outcome("UNKNOWN", "the query returned NULL (no data)")
    value = _number(raw)
    details["value"] = value
    state, msg = value_state(value, spec)
    return state, msg, latency, details
