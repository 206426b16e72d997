"""``postgres`` checks: connect to a named ``databases:`` target and run ``SELECT 1``.

The connection is opened by :func:`opsconsole.postgres.conn.connect`, like every other
connection opsconsole makes, so URI and ``key=value`` DSNs, ``PG*`` variables and
``~/.pgpass`` all work, and the server sees ``application_name=opsconsole``. Refused,
authentication failed and timed out are told apart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import asyncpg

from opsconsole.checks.engine import Outcome, State, classify_network_error, latency_state
from opsconsole.checks.spec import PostgresCheck
from opsconsole.fmt import duration, one_line
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.conn import close_quietly, connect, connect_kwargs
from opsconsole.schema import Duration
from opsconsole.secrets import safe_dsn

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


def _target(config: AppConfig | None, name: str) -> DatabaseTarget:
    for db in getattr(config, "databases", None) or []:
        if db.name == name:
            return db
    raise Outcome("UNKNOWN", f"no database target named {name!r} in databases:")


def _host(kwargs: dict[str, Any]) -> str:
    """The host a connection goes to, for messages (key=value DSNs give it as ``host``)."""
    if kwargs.get("host"):
        return str(kwargs["host"])
    try:
        return urlsplit(kwargs.get("dsn") or "").hostname or ""
    except ValueError:
        return ""


async def probe(spec: PostgresCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    target = _target(config, spec.database)
    details["dsn"] = safe_dsn(target.dsn)
    timeout = float(spec.timeout)
    # The check's own timeout bounds connecting and the query (not the panes' shorter ones),
    # so that a slow server reads "timed out after <timeout>".
    options = replace(getattr(config, "postgres", None) or PostgresOptions(),
                      connect_timeout=Duration(timeout), statement_timeout=Duration(timeout))
    try:
        host = _host(connect_kwargs(target, options))
    except ValueError as exc:  # a key=value DSN that cannot be parsed
        raise Outcome("UNKNOWN", f"cannot use the DSN of {spec.database!r}: {exc}") from None
    started = time.monotonic()
    conn = None
    phase = "connecting"
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(target, options)
            phase = "running SELECT 1"
            value = await conn.fetchval("SELECT 1")
            if value != 1:
                raise Outcome("CRITICAL", f"SELECT 1 returned {value!r}")
    except Outcome:
        raise
    except TimeoutError:
        raise Outcome("CRITICAL", f"timed out after {duration(timeout)} ({phase})") from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise Outcome("CRITICAL", f"authentication failed: {one_line(str(exc), 120)}") from None
    except asyncpg.PostgresError as exc:
        code = getattr(exc, "sqlstate", "") or ""
        raise Outcome("CRITICAL", f"PostgreSQL error {code}: {one_line(str(exc), 120)}".replace(
            "error : ", "error: ")) from None
    except (OSError, asyncpg.InterfaceError, ConnectionError) as exc:
        raise Outcome("CRITICAL", classify_network_error(exc, host)) from None
    finally:
        if conn is not None:
            await close_quietly(conn)
    latency = time.monotonic() - started
    state, msg = latency_state(latency, spec)
    return state, msg or f"SELECT 1 in {duration(latency)}", latency, details
