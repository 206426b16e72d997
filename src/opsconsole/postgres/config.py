"""Typed PostgreSQL configuration: ``databases:`` targets and ``postgres:`` options.

Owned by the PostgreSQL panes work (issue 4). Never imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsconsole.schema import Duration, field, positive


@dataclass(frozen=True)
class DatabaseTarget:
    """A named server to watch or to run runbook SQL against. The DSN may hold a password:
    it is never displayed, logged or exported (use :func:`safe_dsn` for display)."""

    name: str
    dsn: str = ""


@dataclass(frozen=True)
class PostgresOptions:
    min_duration: Duration = field(Duration(1.0))
    statement_timeout: Duration = field(Duration(2.0), check=positive)
    lock_timeout: Duration = field(Duration(0.5), check=positive)
    connect_timeout: Duration = field(Duration(3.0), check=positive)
    explain_analyze: bool = False
