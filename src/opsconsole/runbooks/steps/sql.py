"""SQL steps: one statement (or a script) on a configured database, parameters bound.

The connection is opsconsole's monitoring-safe one (:func:`opsconsole.postgres.conn.connect`:
``application_name``, ``lock_timeout``, libpq-style DSNs) with the step's timeout as its
``statement_timeout``. Parameters go in as asyncpg arguments (``$1, $2 …``), converted to
the types the server expects, never pasted into the SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

from opsconsole.postgres.conn import APP_NAME
from opsconsole.runbooks.model import SqlStep
from opsconsole.runbooks.params import Substitution
from opsconsole.runbooks.steps.base import Rendered, StepContext, StepExecutor, StepResult
from opsconsole.secrets import MASK, safe_dsn

# the application_name of a runbook step's connection: opsconsole's, marked as a runbook's
RUNBOOK_APP_NAME = f"{APP_NAME} runbook"
MAX_CELL = 60  # characters of a value shown in a result table


def _coerce(value: Any, pg_type: Any) -> Any:
    """Turn a parameter's text into the Python type asyncpg wants for ``pg_type``."""
    if not isinstance(value, str):
        return value
    name = getattr(pg_type, "name", "")
    if name in ("int2", "int4", "int8", "oid", "xid"):
        return int(value.strip())
    if name in ("float4", "float8"):
        return float(value)
    if name == "numeric":
        from decimal import Decimal

        return Decimal(value)
    if name == "bool":
        return value.strip().lower() in ("1", "t", "true", "yes", "on")
    return value


async def server_interval(conn: Any, value: str) -> Any:
    """``value`` read as an interval by the server itself, bound (``$1::text::interval``):
    PostgreSQL's own syntax ('5 minutes', '1 hour 30 mins', '00:05:00', 'P1D'), plus
    opsconsole's durations ('5m', '90s') the server does not know."""
    import asyncpg

    try:
        return await conn.fetchval("select $1::text::interval", value)
    except asyncpg.DataError as exc:
        from datetime import timedelta

        from opsconsole.schema import Duration

        try:
            return timedelta(seconds=float(Duration.parse(value)))
        except ValueError:
            raise ValueError(f"{value!r} is not an interval: {exc}") from None


def format_rows(rows: list[Any], max_rows: int) -> list[str]:
    """Rows as a psql-like table: header, rule, at most ``max_rows`` rows, row count."""
    if not rows:
        return ["(0 rows)"]
    cols = list(rows[0].keys())
    shown = rows[:max_rows]
    cells = [[_cell(r[c]) for c in cols] for r in shown]
    widths = [min(max(len(c), *(len(row[i]) for row in cells)), MAX_CELL)
              for i, c in enumerate(cols)]
    out = [" | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip(),
           "-+-".join("-" * w for w in widths)]
    for row in cells:
        out.append(" | ".join(v[:MAX_CELL].ljust(w)
                              for v, w in zip(row, widths, strict=True)).rstrip())
    more = f", {len(rows) - max_rows} not shown" if len(rows) > max_rows else ""
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''}{more})")
    return out


def _cell(v: Any) -> str:
    if v is None:
        return "NULL"
    return " ".join(str(v).split())


async def connect_for_step(target: Any, config: Any, step: SqlStep) -> Any:
    """opsconsole's connection to ``target``, with the step's timeout as statement_timeout."""
    from opsconsole.postgres.config import PostgresOptions
    from opsconsole.postgres.conn import connect

    options = getattr(config, "postgres", None) or PostgresOptions()
    options = dataclasses.replace(options, statement_timeout=step.timeout)
    return await connect(target, options, application_name=RUNBOOK_APP_NAME)


class SqlExecutor(StepExecutor):
    kind = "sql"

    def render(self, step: SqlStep, subst: Substitution, *, dry: bool = False) -> Rendered:
        sql = step.dry_run if dry and step.dry_run else step.sql
        args = tuple(subst.values.get(a, "") for a in step.args)
        shown = [MASK if subst.is_secret(a) else subst.values.get(a, "") for a in step.args]
        binds = "".join(f"\n  ${i} = {v!r}" for i, v in enumerate(shown, 1))
        db = subst.text(step.database)
        return Rendered(f"[{db}] {sql.strip()}{binds}", sql=sql, args=args, target=db)

    def label(self, step: SqlStep, subst: Substitution) -> str:
        return f"sql on {subst.text(step.database)}"

    def runs_in_dry_run(self, step: SqlStep) -> bool:
        return bool(step.dry_run)

    def record_fields(self, step: SqlStep, rendered: Rendered) -> dict[str, Any]:
        return {"database": rendered.target}

    async def execute(self, step: SqlStep, rendered: Rendered, ctx: StepContext) -> StepResult:
        import asyncpg

        capture = ctx.capture
        name = rendered.target or step.database
        target = next((d for d in ctx.databases if d.name == name), None)
        if target is None:
            known = ", ".join(d.name for d in ctx.databases) or "none configured"
            return "failed", None, f"database {name!r} is not in the config (databases: {known})"
        try:
            conn = await connect_for_step(target, ctx.config, step)
        except (OSError, TimeoutError, ValueError, asyncpg.PostgresError) as exc:
            msg = str(exc).replace(target.dsn, safe_dsn(target.dsn)) if target.dsn else str(exc)
            capture.note(f"could not connect to {name}: {msg}")
            return "failed", None, f"could not connect to {name}: {type(exc).__name__}: {msg}"
        try:
            sql = rendered.sql or ""
            if rendered.args:
                stmt = await conn.prepare(sql)
                types = stmt.get_parameters()
                try:
                    args = [_coerce(v, types[i] if i < len(types) else None)
                            for i, v in enumerate(rendered.args)]
                    for i, v in enumerate(args):
                        if (isinstance(v, str) and i < len(types)
                                and getattr(types[i], "name", "") == "interval"):
                            args[i] = await server_interval(conn, v)
                except ValueError as exc:
                    return "failed", None, f"a parameter does not fit its SQL type: {exc}"
                rows = await stmt.fetch(*args)
            else:
                try:
                    rows = await conn.fetch(sql)
                except Exception as exc:
                    if "multiple commands" not in str(exc):
                        raise
                    status = await conn.execute(sql)  # a script: no rows, its last status
                    capture.note(status)
                    return "ok", 0, ""
            ctx.result["rows"] = len(rows)
            if rows and len(rows[0]) > 0:
                ctx.result["first"] = rows[0][0]
            for line in format_rows(list(rows), step.max_rows):
                capture.note(line)
            return "ok", 0, ""
        except Exception as exc:
            state = getattr(exc, "sqlstate", None)
            msg = f"{type(exc).__name__}: {exc}"
            capture.note(f"ERROR: {msg}")
            return "failed", None, msg + (f" (SQLSTATE {state})" if state else "")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)
