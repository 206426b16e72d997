"""The shared store's PostgreSQL schema: versioned migrations, applied on first use by a
role that may; a role that may not gets :class:`SchemaRefused` naming the exact GRANT.

- ``opsconsole_events``: the append-only log. ``seq`` is an identity (strictly increasing;
  appends are serialised by an advisory lock so a reader's ``WHERE seq > last_seen`` never
  skips a row committed late). ``uid`` is chosen at the source (a UUID) and UNIQUE: a
  forwarded event inserted twice (a retry after a kill) is kept once. A trigger refuses
  UPDATE, DELETE and TRUNCATE.
- ``opsconsole_incident_ids``: incident ids, allocated under a lock (two hosts declaring in
  the same second get different ids); ``origin``/``origin_id`` map a migrated SQLite id.
- ``opsconsole_presence``: who has a console open on an incident (a heartbeat with expiry).
- ``opsconsole_leases``: the evaluator lease (one alert evaluator per store).
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1
CHANNEL = "opsconsole_events"  # LISTEN/NOTIFY: the payload is the newest seq, nothing else
APPEND_LOCK = 0x6F7073_0001  # pg_advisory_xact_lock key serialising appends
SCHEMA_LOCK = 0x6F7073_0002  # ... and migrations

TABLES = ("opsconsole_schema", "opsconsole_events", "opsconsole_incident_ids",
          "opsconsole_presence", "opsconsole_leases")

MIGRATIONS: list[list[str]] = [
    [  # v0 → v1
        "CREATE TABLE opsconsole_schema (version integer NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now())",
        "CREATE TABLE opsconsole_events ("
        " seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " uid uuid NOT NULL UNIQUE,"
        " incident_id text,"
        " type text NOT NULL,"
        " ts timestamptz NOT NULL,"
        " actor_user text NOT NULL,"
        " actor_client text,"
        " actor_tty text,"
        " host text NOT NULL,"
        " data text NOT NULL)",
        "CREATE INDEX opsconsole_events_incident ON opsconsole_events (incident_id, seq)",
        "CREATE INDEX opsconsole_events_type ON opsconsole_events (type, seq)",
        "CREATE TABLE opsconsole_incident_ids ("
        " id text PRIMARY KEY, day text NOT NULL, n integer, host text NOT NULL,"
        " origin text, origin_id text, UNIQUE (day, n), UNIQUE (origin, origin_id))",
        "CREATE TABLE opsconsole_presence ("
        " incident_id text NOT NULL, holder text NOT NULL, actor_user text NOT NULL,"
        " host text NOT NULL, seen_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,"
        " PRIMARY KEY (incident_id, holder))",
        "CREATE TABLE opsconsole_leases ("
        " name text PRIMARY KEY, holder text NOT NULL, host text NOT NULL, pid integer NOT NULL,"
        " acquired_at double precision NOT NULL, renewed_at double precision NOT NULL,"
        " expires_at double precision NOT NULL)",
        "CREATE FUNCTION opsconsole_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'opsconsole_events is append-only: % refused', TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$",
        "CREATE TRIGGER opsconsole_events_append_only BEFORE UPDATE OR DELETE ON "
        "opsconsole_events FOR EACH ROW EXECUTE FUNCTION opsconsole_append_only()",
        "CREATE TRIGGER opsconsole_events_no_truncate BEFORE TRUNCATE ON opsconsole_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION opsconsole_append_only()",
    ],
]


class SchemaError(OSError):
    """The shared store's schema cannot be used (newer, foreign, not creatable)."""


class SchemaRefused(SchemaError):
    """The role may not create the schema (or lacks rights on it): ``statements`` to run."""

    def __init__(self, message: str, statements: list[str]) -> None:
        super().__init__(message)
        self.statements = statements


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grant_statements(role: str, schema: str, *, create: bool) -> list[str]:
    """What an owner runs so that ``role`` can use (``create``: create) the store."""
    r, s = quote_ident(role), quote_ident(schema)
    if create:
        return [f"GRANT CREATE ON SCHEMA {s} TO {r};"]
    return [f"GRANT USAGE ON SCHEMA {s} TO {r};",
            f"GRANT SELECT, INSERT ON {s}.opsconsole_events, {s}.opsconsole_incident_ids TO {r};",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.opsconsole_presence, "
            f"{s}.opsconsole_leases TO {r};",
            f"GRANT SELECT ON {s}.opsconsole_schema TO {r};"]


def _refused(who: dict[str, Any], exc: BaseException, *, create: bool) -> SchemaRefused:
    stmts = grant_statements(who["role"], who["schema"] or "public", create=create)
    what = ("create the opsconsole tables" if create else "use the opsconsole tables")
    lines = "\n".join(f"    {s}" for s in stmts)
    then = ("then run opsconsole again (it creates its tables on first use)." if create
            else "then run opsconsole again.")
    return SchemaRefused(
        f"role {who['role']!r} may not {what} in database {who['db']!r} ({exc}). "
        f"As the database owner or a superuser, run:\n{lines}\n{then}", stmts)


async def ensure_schema(conn: Any) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` (creating it on first use). Returns the
    version found before. Raises :class:`SchemaRefused` / :class:`SchemaError`."""
    import asyncpg

    row = await conn.fetchrow("SELECT current_user AS role, current_database() AS db, "
                              "current_schema() AS schema, "
                              "to_regclass('opsconsole_schema') IS NOT NULL AS present")
    who = dict(row)
    try:
        version = 0
        if who["present"]:
            version = int(await conn.fetchval(
                "SELECT coalesce(max(version), 0) FROM opsconsole_schema") or 0)
        elif await conn.fetchval("SELECT to_regclass('opsconsole_events') IS NOT NULL"):
            raise SchemaError("a table opsconsole_events exists without opsconsole_schema: "
                              "not opsconsole's; left untouched")
        if version > SCHEMA_VERSION:
            raise SchemaError(f"the shared store has schema version {version}; this "
                              f"opsconsole knows up to {SCHEMA_VERSION}: upgrade opsconsole")
        if version == SCHEMA_VERSION:
            await conn.fetchval("SELECT 1 FROM opsconsole_events LIMIT 0")
            await conn.fetchval("SELECT 1 FROM opsconsole_leases LIMIT 0")
            return version
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
            now = 0
            # pg_class through the statement's snapshot: to_regclass's catalog cache may
            # not have seen the table another process committed while we waited
            if await conn.fetchval("SELECT count(*) FROM pg_catalog.pg_class WHERE relname = "
                                   "'opsconsole_schema' AND relnamespace = "
                                   "current_schema()::regnamespace"):
                now = int(await conn.fetchval(
                    "SELECT coalesce(max(version), 0) FROM opsconsole_schema") or 0)
            for v in range(now, SCHEMA_VERSION):
                for stmt in MIGRATIONS[v]:
                    await conn.execute(stmt)
            if now < SCHEMA_VERSION:
                await conn.execute("INSERT INTO opsconsole_schema (version) VALUES ($1)",
                                   SCHEMA_VERSION)
        return version
    except asyncpg.InsufficientPrivilegeError as exc:
        raise _refused(who, exc, create=not who["present"]) from None
