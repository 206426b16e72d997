"""EXPLAIN a statement safely: its own database, a fresh monitoring-safe connection, a
transaction that is always rolled back (read-only unless ANALYZE was configured), a timeout,
and the extended protocol only (one statement; no ``; DROP …`` riding along).

Statements from ``pg_stat_statements`` carry ``$1`` placeholders: they are planned as a
generic plan (``EXPLAIN (GENERIC_PLAN)`` on PG16+, else ``PREPARE`` + ``EXPLAIN EXECUTE``
with ``plan_cache_mode = force_generic_plan``). Never imports Textual.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.conn import connect

_PARAM = re.compile(r"\$(\d+)")
_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


class ExplainRefused(ValueError):
    pass


def param_count(query: str) -> int:
    body = _STRINGS.sub("''", query)
    nums = [int(n) for n in _PARAM.findall(body)]
    return max(nums, default=0)


def check_explainable(query: str) -> None:
    q = query.strip().rstrip(";").strip()
    if not q or q.startswith("<insufficient privilege>"):
        raise ExplainRefused("the query text is not visible to this role")
    if q.endswith("…"):
        raise ExplainRefused("the query text is truncated (track_activity_query_size)")
    first = re.sub(r"^(/\*.*?\*/\s*|--[^\n]*\n\s*)*", "", q, flags=re.S).split(None, 1)
    word = first[0].lower() if first else ""
    if word not in ("select", "with", "insert", "update", "delete", "merge", "values", "table"):
        raise ExplainRefused(f"only SELECT/INSERT/UPDATE/DELETE/MERGE/VALUES can be explained, not {word.upper() or 'this'}")


async def explain_text(target: DatabaseTarget, options: PostgresOptions, query: str,
                       database: str | None, generic: bool, analyze: bool = False) -> str:
    check_explainable(query)
    q = query.strip().rstrip(";")
    timeout = float(options.explain_timeout)
    opts = replace(options, statement_timeout=options.explain_timeout)
    conn = await asyncio.wait_for(connect(target, opts, database=database),
                                  float(options.connect_timeout) + 1.0)
    try:
        tr = conn.transaction(readonly=not analyze)
        await tr.start()
        try:
            nparams = param_count(q) if generic else 0
            version = conn.get_server_version().major
            what = "ANALYZE, BUFFERS, " if analyze else ""
            if nparams and version >= 16:
                rows = await conn.fetch(f"EXPLAIN ({what}GENERIC_PLAN) {q}", timeout=timeout)
            elif nparams:
                await conn.fetch("SET LOCAL plan_cache_mode = force_generic_plan", timeout=timeout)
                await conn.fetch(f"PREPARE opsconsole_explain AS {q}", timeout=timeout)
                args = ", ".join(["NULL"] * nparams)
                rows = await conn.fetch(
                    f"EXPLAIN ({what}COSTS true) EXECUTE opsconsole_explain({args})",
                    timeout=timeout)
            else:
                rows = await conn.fetch(f"EXPLAIN ({what}COSTS true) {q}", timeout=timeout)
        finally:
            await tr.rollback()
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close(timeout=2)
