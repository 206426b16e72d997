"""Typed PostgreSQL configuration: ``databases:`` targets and ``postgres:`` options.
Never imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from opsconsole.schema import Duration, field, positive


def _dsn_check(v: str) -> str | None:
    if v and "://" in v and v.split("://", 1)[0] not in ("postgresql", "postgres"):
        return "expected a postgresql:// or postgres:// URI, or libpq key=value pairs"
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


def target_name(dsn: str) -> str:
    """``db@host:port`` from a URI or key=value DSN (never the user or password)."""
    host = port = db = ""
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
            host = parts.hostname or ""
            port = str(parts.port or "")
            db = parts.path.lstrip("/")
        except ValueError:
            return "postgres"
    else:
        for item in dsn.split():
            k, _, v = item.partition("=")
            v = v.strip("'")
            if k == "host":
                host = v
            elif k == "port":
                port = v
            elif k in ("dbname", "database"):
                db = v
    where = host + (f":{port}" if port else "")
    if db and where:
        return f"{db}@{where}"
    return db or where or "postgres"


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
