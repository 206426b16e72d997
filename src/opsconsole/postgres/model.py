"""Immutable snapshots the PostgreSQL panes draw. Never imports Textual."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

IDLE_IN_XACT = ("idle in transaction", "idle in transaction (aborted)")


@dataclass(frozen=True)
class ServerInfo:
    """What the server is and what our role may see, detected at connect."""

    version_num: int  # 150004
    version: str  # "15.4"
    user: str
    database: str
    superuser: bool
    read_all_stats: bool  # superuser, pg_read_all_stats or pg_monitor
    signal_backend: bool  # superuser or pg_signal_backend
    pgss_version: str | None  # extension version in the connected database, or None
    pgss_loaded: bool | None  # in shared_preload_libraries (None: could not tell)
    own_pid: int = 0

    @property
    def major(self) -> int:
        return self.version_num // 10000

    def pgss_tuple(self) -> tuple[int, ...]:
        if not self.pgss_version:
            return ()
        return tuple(int(p) for p in self.pgss_version.split(".") if p.isdigit())

    def activity_hints(self) -> list[str]:
        """What is hidden from this role in the running-now and locks views, and the fix."""
        out: list[str] = []
        if not self.read_all_stats:
            out.append(
                f"other users' query text, client and wait events are hidden: "
                f"GRANT pg_read_all_stats TO {quote_ident(self.user)};"
            )
        if not self.signal_backend:
            out.append(
                f"cancel/terminate of other users' backends will be refused by the server: "
                f"GRANT pg_signal_backend TO {quote_ident(self.user)};"
            )
        return out

    def statements_hint(self) -> str | None:
        """Why the top statements view is empty, and the exact fix; None when it works."""
        if self.pgss_version is None:
            if self.pgss_loaded is False:
                return ("pg_stat_statements is not loaded: add "
                        "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf, "
                        f"restart, then in {quote_ident(self.database)}: "
                        "CREATE EXTENSION pg_stat_statements;")
            return (f"pg_stat_statements is not installed in database "
                    f"{quote_ident(self.database)}: CREATE EXTENSION pg_stat_statements;"
                    + ("" if self.pgss_loaded else
                       " (it also needs shared_preload_libraries = 'pg_stat_statements')"))
        if self.pgss_loaded is False:
            return ("pg_stat_statements is installed but not loaded: add "
                    "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf and "
                    "restart")
        return None


def quote_ident(name: str) -> str:
    if name and name.replace("_", "a").isalnum() and name == name.lower() and not name[0].isdigit():
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Backend:
    """One row of ``pg_stat_activity`` as the panes show it (ages in seconds, server clock)."""

    pid: int
    user: str | None
    database: str | None
    application: str
    client: str | None
    state: str | None
    wait_event_type: str | None
    wait_event: str | None
    backend_start: datetime | None
    query_start: datetime | None
    query_age: float | None  # now() - query_start
    xact_age: float | None  # now() - xact_start
    state_age: float | None  # now() - state_change (idle time when idle in transaction)
    holds_xid: bool  # backend_xid is not null
    holds_xmin: bool  # backend_xmin is not null
    query: str
    backend_type: str = "client backend"

    @property
    def idle_in_transaction(self) -> bool:
        return self.state in IDLE_IN_XACT

    @property
    def holds_back_vacuum(self) -> bool:
        return self.holds_xid or self.holds_xmin

    @property
    def age(self) -> float | None:
        """How long the thing the operator cares about has lasted: idle time for an idle
        transaction, else the running query's age."""
        return self.state_age if self.idle_in_transaction else self.query_age


@dataclass(frozen=True)
class ActivitySnapshot:
    server: ServerInfo
    backends: tuple[Backend, ...]
    taken_at: datetime
    min_duration: float
    total_client_backends: int = 0


@dataclass(frozen=True)
class LockNode:
    """A backend in the blocking tree."""

    backend: Backend
    depth: int
    parent: int | None  # pid drawn above this one
    blocked_by: tuple[int, ...]  # pids it waits on (from the server: those not implied
    # through another one of them, e.g. in a queue the one just ahead; see locktree)
    locktype: str | None  # what it waits for (None for a root that does not wait)
    mode: str | None
    relation: str | None
    wait_age: float | None  # now() - pg_locks.waitstart (PG14+), else None
    blocks: int  # how many sessions wait on it, transitively
    root: int  # pid of its root blocker
    n_blocked_by: int = 0  # how many pids pg_blocking_pids() names for it (as returned)
    blocks_direct: int = 0  # how many waiters pg_blocking_pids() names it for

    @property
    def pid(self) -> int:
        return self.backend.pid

    def lock_label(self) -> str:
        if not self.mode:
            return ""
        what = self.relation if self.relation else (self.locktype or "")
        return f"{self.mode} {what}".strip()


@dataclass(frozen=True)
class LocksSnapshot:
    server: ServerInfo
    nodes: tuple[LockNode, ...]  # tree order: root, its waiters depth-first, next root...
    taken_at: datetime
    waiting: int = 0

    @property
    def roots(self) -> tuple[LockNode, ...]:
        return tuple(n for n in self.nodes if n.depth == 0)


StatementKey = tuple[int, int, int, bool]  # (dbid, userid, queryid, toplevel)


@dataclass(frozen=True)
class Statement:
    key: StatementKey
    user: str
    database: str
    calls: int
    total_ms: float
    rows: int
    # deltas over the last interval; None when there is no honest delta (new, evicted, reset)
    d_calls: int | None = None
    d_total_ms: float | None = None
    d_rows: int | None = None
    interval: float | None = None
    query: str | None = None  # fetched only for rows on screen

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0

    @property
    def calls_per_s(self) -> float | None:
        if self.d_calls is None or not self.interval:
            return None
        return self.d_calls / self.interval

    @property
    def d_mean_ms(self) -> float | None:
        if self.d_calls is None or self.d_total_ms is None:
            return None
        return self.d_total_ms / self.d_calls if self.d_calls else None  # no calls: no mean

    @property
    def row_key(self) -> str:
        d, u, q, t = self.key
        return f"{d}:{u}:{q}:{int(t)}"


@dataclass(frozen=True)
class StatementsSnapshot:
    server: ServerInfo
    statements: tuple[Statement, ...]  # every entry (sorted by the pane)
    taken_at: datetime
    stats_reset: datetime | None = None
    note: str = ""  # e.g. "statistics were reset: deltas from the next refresh"
    has_deltas: bool = False
    hint: str | None = None  # extension missing or not loaded
    extra: dict[str, object] = field(default_factory=dict)
