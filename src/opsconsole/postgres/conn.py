"""The monitoring-safe connection: every connection opsconsole opens to a PostgreSQL server
it watches goes through :func:`connect` (a test greps the source for any other).

``application_name=opsconsole`` (so our own backends can be excluded from every view), a
``statement_timeout`` and a ``lock_timeout`` (so opsconsole can never hang on, or block, the
server it watches) and a connect timeout. DSNs work as libpq users expect: URIs
(``postgresql://user@host:5432/db?sslmode=require``), key=value strings
(``host=db1 dbname=app user=monitor``), and for whatever they leave out the ``PG*``
environment variables and ``~/.pgpass`` (asyncpg reads ``PGHOST``, ``PGPORT``, ``PGUSER``,
``PGPASSWORD``, ``PGDATABASE``, ``PGPASSFILE``, ``PGSSLMODE``... like libpq).
"""

from __future__ import annotations

import shlex
from typing import Any

import asyncpg

from opsconsole.postgres.config import DatabaseTarget, PostgresOptions

APP_NAME = "opsconsole"

_KV_MAP = {
    "host": "host", "hostaddr": "host", "port": "port", "user": "user", "password": "password",
    "dbname": "database", "database": "database", "passfile": "passfile", "sslmode": "ssl",
    "service": "service", "target_session_attrs": "target_session_attrs",
}


def _parse_kv(dsn: str) -> dict[str, Any]:
    """libpq key=value connection string → asyncpg keyword arguments."""
    out: dict[str, Any] = {}
    try:
        items = shlex.split(dsn)
    except ValueError as exc:
        raise ValueError(f"cannot parse the connection string: {exc}") from None
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value in the connection string, got {key!r}")
        key = key.strip().lower()
        if key in ("application_name", "connect_timeout", "options", "fallback_application_name"):
            continue  # we set these ourselves
        if key not in _KV_MAP:
            raise ValueError(f"unsupported connection parameter {key!r}")
        out[_KV_MAP[key]] = int(value) if key == "port" and value.isdigit() else value
    return out


def connect_kwargs(target: DatabaseTarget, options: PostgresOptions,
                   application_name: str | None = None,
                   database: str | None = None) -> dict[str, Any]:
    """The keyword arguments for :func:`asyncpg.connect` (holds the password: never log)."""
    kw: dict[str, Any] = {}
    dsn = (target.dsn or "").strip()
    if "://" in dsn:
        kw["dsn"] = dsn
    elif dsn:
        kw.update(_parse_kv(dsn))
    if database:
        kw["database"] = database  # explicit keywords win over the DSN in asyncpg
    kw["timeout"] = float(options.connect_timeout)
    kw["command_timeout"] = float(options.statement_timeout) + 1.0
    kw["server_settings"] = {
        "application_name": application_name or APP_NAME,
        "statement_timeout": str(int(float(options.statement_timeout) * 1000)),
        "lock_timeout": str(int(float(options.lock_timeout) * 1000)),
        "idle_in_transaction_session_timeout": str(
            max(int(float(options.statement_timeout) * 1000) * 5, 10000)),
    }
    kw["statement_cache_size"] = 20
    return kw


async def connect(target: DatabaseTarget, options: PostgresOptions,
                  application_name: str | None = None,
                  database: str | None = None) -> asyncpg.Connection:
    """Open the monitoring-safe connection to ``target`` (raises on failure or timeout)."""
    return await asyncpg.connect(**connect_kwargs(target, options, application_name, database))
