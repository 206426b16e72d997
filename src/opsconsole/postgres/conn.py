"""The monitoring-safe connection: every connection opsconsole opens to a PostgreSQL server
it watches goes through :func:`connect` (a test greps the source for any other).

A ``statement_timeout`` and a ``lock_timeout`` (so opsconsole can never hang on, or block, the
server it watches) and a connect timeout. DSNs work as for ``psql``: URIs, ``key = value``
strings, ``service=``/``PGSERVICE``, the ``PG*`` variables, ``.pgpass``/``PGPASSFILE``,
``PGAPPNAME`` (:mod:`opsconsole.postgres.libpq` resolves them; this module maps the result
onto asyncpg). The server sees ``application_name=opsconsole`` unless the DSN or
``PGAPPNAME`` names another; either way the panes leave out opsconsole's own backends by
their pid (:func:`own_pids`, recorded at connect).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import asyncpg

from opsconsole.postgres import libpq
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.libpq import DsnError

APP_NAME = "opsconsole"

__all__ = ["APP_NAME", "DsnError", "connect", "connect_kwargs", "own_pids", "own_pids_at",
           "server_key", "target_key"]

# Parameters asyncpg only takes in its DSN's query string (it reads them like libpq).
_DSN_QUERY = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword",
              "ssl_min_protocol_version", "ssl_max_protocol_version", "sslnegotiation",
              "target_session_attrs", "krbsrvname", "gsslib")
_PATHS = ("sslrootcert", "sslcert", "sslkey", "sslcrl", "passfile")

# Backend pids of opsconsole's open connections, per server (host list, port list): the
# panes exclude them whatever application_name the user chose.
_OWN: dict[str, set[int]] = {}


def _hosts_ports(params: Mapping[str, str]) -> tuple[list[str] | None, list[int] | None]:
    spec = params.get("hostaddr") or params.get("host")
    hosts = [h.strip() for h in spec.split(",")] if spec else None
    ports_spec = params.get("port", "")
    ports: list[int] | None = None
    if ports_spec:
        items = [p.strip() for p in ports_spec.split(",")]
        try:
            ports = [int(p) if p else 5432 for p in items]
        except ValueError:
            raise DsnError(f'invalid integer value "{ports_spec}" for connection option '
                           f'"port"') from None
        if hosts is not None and len(ports) == 1 and len(hosts) > 1:
            ports = ports * len(hosts)
        if hosts is not None and len(ports) != len(hosts):
            raise DsnError(f"could not match {len(ports)} port numbers to {len(hosts)} hosts")
    return hosts, ports


def _no_password() -> None:
    """No password from anywhere: a callable so that asyncpg does not read .pgpass again."""
    return None


def server_key(kw: Mapping[str, Any]) -> str:
    """Which server a set of :func:`connect_kwargs` reaches (for :func:`own_pids`)."""
    return f"{kw.get('host')}|{kw.get('port')}"


def own_pids(target: DatabaseTarget, env: Mapping[str, str] | None = None) -> list[int]:
    """Backend pids of opsconsole's own open connections to the server ``target`` reaches."""
    try:
        kw = _resolved(target.dsn or "", env)[0]
    except DsnError:
        return []
    return sorted(_OWN.get(server_key(kw), ()))


def own_pids_at(key: str) -> list[int]:
    """Backend pids of opsconsole's own open connections to the server of ``key``
    (:func:`server_key`; :func:`own_pids` without resolving the DSN again)."""
    return sorted(_OWN.get(key, ()))


def target_key(target: DatabaseTarget, options: PostgresOptions) -> str:
    """:func:`server_key` of the server ``target`` reaches (resolves the DSN: once a connect)."""
    return server_key(connect_kwargs(target, options))


def _resolved(dsn: str, env: Mapping[str, str] | None) -> tuple[dict[str, Any], dict[str, str]]:
    params = libpq.resolve(dsn, env)
    kw: dict[str, Any] = {}
    hosts, ports = _hosts_ports(params)
    if hosts is not None:
        kw["host"] = hosts if len(hosts) > 1 else hosts[0]
    if ports is not None:
        kw["port"] = ports if len(ports) > 1 else ports[0]
    if "user" in params:
        kw["user"] = params["user"]
    if "dbname" in params:
        kw["database"] = params["dbname"]
    if "password" in params:
        kw["password"] = params["password"]
    else:
        # libpq's .pgpass rules (asyncpg's own reading differs: escapes, socket paths)
        found = libpq.password_from_pgpass(params, os.environ if env is None else env)
        kw["password"] = found if found is not None else _no_password
    query = {k: (os.path.expanduser(params[k]) if k in _PATHS else params[k])
             for k in _DSN_QUERY if k in params}
    # asyncpg reads PGSSL*/PGSERVICE itself for what its DSN leaves out; everything libpq
    # would use is resolved above, so an empty query still yields libpq's answer.
    kw["dsn"] = "postgresql://" + (("?" + urlencode(query)) if query else "")
    return kw, params


def connect_kwargs(target: DatabaseTarget, options: PostgresOptions,
                   application_name: str | None = None,
                   database: str | None = None,
                   env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The keyword arguments for :func:`asyncpg.connect` (holds the password: never log).

    ``application_name`` is opsconsole's fallback: the DSN's ``application_name=`` or
    ``PGAPPNAME`` wins, as libpq's ``fallback_application_name`` does. Raises
    :class:`DsnError` for a DSN libpq would refuse or asyncpg cannot honour."""
    kw, params = _resolved((target.dsn or "").strip(), env)
    if database:
        kw["database"] = database  # explicit keywords win over the DSN in asyncpg
    timeout = float(options.connect_timeout)
    if "connect_timeout" in params:
        timeout = libpq.connect_timeout(params["connect_timeout"]) or 24 * 3600.0
    kw["timeout"] = timeout
    kw["command_timeout"] = float(options.statement_timeout) + 1.0
    settings = libpq.server_options(params["options"]) if "options" in params else {}
    settings.update({
        "application_name": (params.get("application_name") or application_name
                             or params.get("fallback_application_name") or APP_NAME),
        "statement_timeout": str(int(float(options.statement_timeout) * 1000)),
        "lock_timeout": str(int(float(options.lock_timeout) * 1000)),
        "idle_in_transaction_session_timeout": str(
            max(int(float(options.statement_timeout) * 1000) * 5, 10000)),
    })
    kw["server_settings"] = settings
    kw["statement_cache_size"] = 20
    return kw


def _explain(exc: BaseException) -> BaseException:
    """asyncpg's wording → libpq's, where operators know libpq's (psql says the same)."""
    text = str(exc)
    if "rejected SSL upgrade" in text:
        return ConnectionError("server does not support SSL, but SSL was required")
    return exc


async def connect(target: DatabaseTarget, options: PostgresOptions,
                  application_name: str | None = None,
                  database: str | None = None) -> asyncpg.Connection:
    """Open the monitoring-safe connection to ``target`` (raises on failure or timeout)."""
    kw = connect_kwargs(target, options, application_name, database)
    try:
        conn = await asyncpg.connect(**kw)
    except (ConnectionError, OSError, asyncpg.PostgresError) as exc:
        better = _explain(exc)
        if better is exc:
            raise
        raise better from None
    pid = conn.get_server_pid()
    key = server_key(kw)
    _OWN.setdefault(key, set()).add(pid)
    conn.add_termination_listener(lambda _c: _OWN.get(key, set()).discard(pid))
    return conn


async def close_quietly(conn: Any, timeout: float = 1.0) -> None:
    """Close a connection politely within ``timeout``, else cut it (never raises, never
    waits longer: a dead server must not hold up a check or a shutdown)."""
    import asyncio

    try:
        await asyncio.wait_for(conn.close(), timeout)
    except Exception:
        conn.terminate()
