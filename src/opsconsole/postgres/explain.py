"""EXPLAIN a statement someone else wrote, without lending it opsconsole's powers.

Planning is not harmless: the planner evaluates ``IMMUTABLE`` functions (constant folding),
so a database user who can create a function runs code when the operator presses ``e``,
with the explaining role's rights (``pg_terminate_backend`` of a third user's session, with
the monitor's ``pg_signal_backend``). So every EXPLAIN runs:

* on a fresh monitoring-safe connection in the statement's own database, under
  ``explain_timeout``, one statement only (extended protocol: no ``; DROP …`` riding along);
* in a transaction that is ``READ ONLY`` (unless ``explain_analyze`` was configured) and
  always rolled back;
* as the statement's own user (``SET LOCAL ROLE``): whatever it runs, its author could run
  anyway. When the monitor cannot take that role, only as the monitor itself when that has
  no powers to lend (not superuser, no ``pg_signal_backend``); otherwise it is refused;
* with ``search_path`` pinned to ``pg_catalog, "$user", public, pg_temp``: the server's
  default path (so a statement's unqualified tables still resolve as in a default session)
  with ``pg_catalog`` explicitly first (a same-signature object elsewhere cannot shadow a
  built-in) and ``pg_temp`` last (never first, as it is when left out);
* only when every function the text calls (a name followed by ``(``) and every operator it
  uses is built in (``pg_catalog``/``information_schema`` and nothing of that name
  elsewhere); a statement that calls others, or whose text cannot be analysed, is refused
  unless the operator confirms (:class:`ExplainNeedsConfirmation`). Functions hidden in
  views or casts are not seen by this check: the role switch is the guard there.

The plan comes back with a first line saying what was done ("EXPLAIN ran as role …").
Statements from ``pg_stat_statements`` carry ``$1`` placeholders: they get a generic plan
(``EXPLAIN (GENERIC_PLAN)`` on PG16+, else ``PREPARE`` + ``EXPLAIN EXECUTE`` with
``plan_cache_mode = force_generic_plan``). Never imports Textual.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.model import quote_ident

_PARAM = re.compile(r"\$(\d+)")
_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
SEARCH_PATH = 'pg_catalog, "$user", public, pg_temp'
BUILTIN_SCHEMAS = ("pg_catalog", "information_schema")
# a function call: optional schema, then a name, then "(" (quoted identifiers too)
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_CALL = re.compile(rf"({_IDENT})\s*(?:\.\s*({_IDENT})\s*)?\(")
_OPERATOR_CHARS = re.compile(r"[+\-*/<>=~!@#%^&|`?]+")


class ExplainRefused(ValueError):
    pass


class ExplainNeedsConfirmation(ExplainRefused):
    """The statement calls functions (or operators) that are not built in: planning could
    run them. Explaining anyway needs the operator's confirmation."""

    def __init__(self, message: str, names: list[str]) -> None:
        super().__init__(message)
        self.names = names


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


def code_only(query: str) -> str:
    """``query`` with string literals, dollar-quoted bodies and comments blanked (quoted
    identifiers are kept). Raises :class:`ExplainRefused` when the text cannot be analysed
    (an unterminated literal, comment or dollar quote)."""
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c == "'":
            j = i + 1
            while True:
                j = query.find("'", j)
                if j < 0:
                    raise ExplainRefused("the statement cannot be analysed: unterminated string")
                if query.startswith("''", j):
                    j += 2
                    continue
                break
            out.append(" ")
            i = j + 1
        elif c == '"':
            j = query.find('"', i + 1)
            while j >= 0 and query.startswith('""', j):
                j = query.find('"', j + 2)
            if j < 0:
                raise ExplainRefused("the statement cannot be analysed: unterminated identifier")
            out.append(query[i:j + 1])
            i = j + 1
        elif query.startswith("--", i):
            j = query.find("\n", i)
            i = n if j < 0 else j
        elif query.startswith("/*", i):
            depth, j = 1, i + 2
            while depth and j < n:
                if query.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif query.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise ExplainRefused("the statement cannot be analysed: unterminated comment")
            out.append(" ")
            i = j
        elif c == "$" and (m := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", query[i:])) \
                and not (i and (query[i - 1].isalnum() or query[i - 1] == "_")):
            tag = m.group(0)
            j = query.find(tag, i + len(tag))
            if j < 0:
                raise ExplainRefused("the statement cannot be analysed: unterminated dollar quote")
            out.append(" ")
            i = j + len(tag)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _unquote(ident: str) -> str:
    return ident[1:-1].replace('""', '"') if ident.startswith('"') else ident.lower()


def called_names(query: str) -> list[str]:
    """Every name followed by ``(`` in the statement's code (its last part when qualified)."""
    names = []
    for m in _CALL.finditer(code_only(query)):
        names.append(_unquote(m.group(2) or m.group(1)))
    return sorted(set(names))


async def foreign_functions(conn: Any, query: str) -> list[str]:
    """Functions and operators the statement may use that are not built in, as
    ``schema.name``: a name called in the text with any definition outside the built-in
    schemas, and any such operator whose symbol appears in the text."""
    code = code_only(query)
    names = called_names(query)
    found = []
    if names:
        rows = await conn.fetch(
            "select distinct n.nspname, p.proname from pg_proc p "
            "join pg_namespace n on n.oid = p.pronamespace "
            "where p.proname = any($1::text[]) and n.nspname <> all($2::text[])",
            names, list(BUILTIN_SCHEMAS))
        found += [f"{r['nspname']}.{r['proname']}()" for r in rows]
    symbols = set(_OPERATOR_CHARS.findall(code))
    if symbols:
        rows = await conn.fetch(
            "select distinct n.nspname, o.oprname from pg_operator o "
            "join pg_namespace n on n.oid = o.oprnamespace "
            "where n.nspname <> all($1::text[])", list(BUILTIN_SCHEMAS))
        found += [f"{r['nspname']}.{r['oprname']} (operator)" for r in rows
                  if any(r["oprname"] in s for s in symbols)]
    return sorted(found)


async def _take_role(conn: Any, role: str | None) -> str:
    """``SET LOCAL ROLE`` to the statement's user; else stay the monitor when it has no
    powers to lend. The role EXPLAIN runs as; raises :class:`ExplainRefused` otherwise."""
    me = await conn.fetchrow(
        "select current_user as name, r.rolsuper as superuser, "
        "pg_has_role(current_user, 'pg_signal_backend', 'USAGE') as can_signal, "
        "($1::text is not null and exists (select from pg_roles where rolname = $1) "
        " and pg_has_role(current_user, (select oid from pg_roles where rolname = $1), "
        " 'MEMBER')) as can_become "
        "from pg_roles r where r.rolname = current_user", role)
    if role and me["can_become"]:
        # always quoted here: the name comes from the server and may need it
        await conn.execute('SET LOCAL ROLE "' + role.replace('"', '""') + '"')
        return role
    if not me["superuser"] and not me["can_signal"]:
        return str(me["name"])
    who = f"the statement's user {role}" if role else "the statement's user (unknown)"
    raise ExplainRefused(
        f"not explained: planning can run the statement's functions, and this monitor role "
        f"({me['name']}) cannot take the role of {who} and has powers to lend "
        f"({'superuser' if me['superuser'] else 'pg_signal_backend'}). "
        + (f"GRANT {quote_ident(role)} TO {quote_ident(str(me['name']))}; lets it explain as "
           f"{role}." if role else ""))


async def explain_text(target: DatabaseTarget, options: PostgresOptions, query: str,
                       database: str | None, generic: bool, analyze: bool = False, *,
                       role: str | None = None, confirmed: bool = False) -> str:
    """The plan of ``query``, run as described in this module, headed by one line saying
    how it ran. ``role``: the statement's user. ``confirmed``: the operator accepted that
    non-built-in functions may run (as ``role``). Raises :class:`ExplainRefused` (or
    :class:`ExplainNeedsConfirmation`) instead of explaining when it must not."""
    check_explainable(query)
    q = query.strip().rstrip(";")
    code_only(q)  # refuse what cannot be analysed before connecting
    timeout = float(options.explain_timeout)
    opts = replace(options, statement_timeout=options.explain_timeout)
    from opsconsole.postgres.conn import connect  # asyncpg, when a plan is asked for

    conn = await asyncio.wait_for(connect(target, opts, database=database),
                                  float(options.connect_timeout) + 1.0)
    try:
        tr = conn.transaction(readonly=not analyze)
        await tr.start()
        try:
            await conn.execute(f"SET LOCAL search_path = {SEARCH_PATH}")
            foreign = await foreign_functions(conn, q)
            if foreign and not confirmed:
                raise ExplainNeedsConfirmation(
                    "not explained: the statement calls functions that are not built in, and "
                    "planning can run them: " + ", ".join(foreign), foreign)
            ran_as = await _take_role(conn, role)
            rows = await _explain(conn, q, generic, analyze, timeout)
        finally:
            await tr.rollback()
        how = (f"EXPLAIN ran as role {ran_as}, {'read-write (ANALYZE)' if analyze else 'read-only'}"
               f" transaction rolled back, search_path {SEARCH_PATH}")
        if foreign:
            how += f"; confirmed by the operator despite {', '.join(foreign)}"
        return how + "\n\n" + "\n".join(r[0] for r in rows)
    finally:
        await conn.close(timeout=2)


async def _explain(conn: Any, q: str, generic: bool, analyze: bool, timeout: float) -> list[Any]:
    nparams = param_count(q) if generic else 0
    version = conn.get_server_version().major
    what = "ANALYZE, BUFFERS, " if analyze else ""
    if nparams and version >= 16:
        return list(await conn.fetch(f"EXPLAIN ({what}GENERIC_PLAN) {q}", timeout=timeout))
    if nparams:
        await conn.fetch("SET LOCAL plan_cache_mode = force_generic_plan", timeout=timeout)
        await conn.fetch(f"PREPARE opsconsole_explain AS {q}", timeout=timeout)
        args = ", ".join(["NULL"] * nparams)
        return list(await conn.fetch(
            f"EXPLAIN ({what}COSTS true) EXECUTE opsconsole_explain({args})", timeout=timeout))
    return list(await conn.fetch(f"EXPLAIN ({what}COSTS true) {q}", timeout=timeout))
