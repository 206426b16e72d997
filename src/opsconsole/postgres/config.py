"""Typed PostgreSQL configuration: ``databases:`` targets and ``postgres:`` options.
Never imports Textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opsconsole.schema import Duration, field, positive


def _dsn_check(v: str) -> str | None:
    """At load: what libpq's parser refuses, or what opsconsole cannot honour, by name."""
    # the DSN parser loads with the first databases: entry, not with every config
    from opsconsole.postgres.libpq import DsnError, check_supported, parse

    if v and "://" in v and v.split("://", 1)[0] not in ("postgresql", "postgres"):
        return "expected a postgresql:// or postgres:// URI, or libpq key=value pairs"
    try:
        check_supported(parse(v))
    except DsnError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class DatabaseTarget:
    """A named server to watch or to run runbook SQL against. The DSN may hold a password:
    it is never displayed, logged or exported (use :func:`safe_dsn` for display).

    An empty DSN means "libpq defaults": ``PG*`` environment variables and ``~/.pgpass``."""

    name: str
    dsn: str = field("", check=_dsn_check)

    @classmethod
    def from_dsn(cls, dsn: str) -> DatabaseTarget:
        """A target named after its DSN's host and database (``--dsn`` without config)."""
        return cls(name=target_name(dsn), dsn=dsn)


def target_name(dsn: str, env: Mapping[str, str] | None = None) -> str:
    """``db@host:port`` as libpq resolves ``dsn`` (its service, ``PG*`` variables) — never
    the user or password. ``postgres`` when nothing names a host or database."""
    from opsconsole.postgres.libpq import DsnError, parse, resolve

    try:
        params = resolve(dsn, env)
    except DsnError:
        try:
            params = parse(dsn)
        except DsnError:
            return "postgres"
    host = params.get("host") or params.get("hostaddr") or ""
    port = params.get("port", "")
    db = params.get("dbname", "")
    where = host + (f":{port}" if port else "")
    if db and where:
        return f"{db}@{where}"
    return db or where or params.get("service") or "postgres"


@dataclass(frozen=True)
class PostgresOptions:
    """``postgres:`` section: how the slow queries and locks panes watch a server."""

    min_duration: Duration = field(Duration(1.0))  # running-now: hide shorter queries
    statement_timeout: Duration = field(Duration(2.0), check=positive)
    lock_timeout: Duration = field(Duration(0.5), check=positive)
    connect_timeout: Duration = field(Duration(3.0), check=positive)
    explain_analyze: bool = False  # EXPLAIN ANALYZE runs the statement (rolled back)
    explain_timeout: Duration = field(Duration(5.0), check=positive)
    top_statements: int = field(30, check=positive)
    query_text_width: int = field(4096, check=positive)
