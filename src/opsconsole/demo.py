"""``opsconsole demo``: every pane alive in one command.

Starts a throwaway local PostgreSQL cluster (initdb/pg_ctl, pg_stat_statements preloaded), a
small workload that produces slow statements, statement load, a three-level lock chain whose
root is idle in a transaction, and a second idle transaction holding back vacuum; opens the
console on it; and cleans everything up on exit, on Ctrl+C, on SIGTERM and on SIGHUP.

``--check`` runs the same setup without the UI, prints what the panes would show, tears down
and exits 0 when the demo scene was complete (used by the tests and for a quick smoke check).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from opsconsole.pgcluster import LocalCluster

SETUP_SQL = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE IF NOT EXISTS demo_accounts (id int PRIMARY KEY, owner text, balance numeric);
INSERT INTO demo_accounts SELECT g, 'owner ' || g, 100 FROM generate_series(1, 5000) g
  ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS demo_orders (id bigserial PRIMARY KEY, account int, amount numeric,
  created timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS demo_audit (id bigserial PRIMARY KEY, note text);
CREATE TABLE IF NOT EXISTS demo_products (id int PRIMARY KEY, name text, price numeric);
INSERT INTO demo_products SELECT g, 'product ' || g, g % 97 FROM generate_series(1, 2000) g
  ON CONFLICT DO NOTHING;
ANALYZE;
"""


class Workload:
    """The demo's sessions, on their own asyncio loop in a background thread."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.pids: dict[str, int] = {}

    def start(self, timeout: float = 30.0) -> Workload:
        self.thread = threading.Thread(target=self._main, name="opsconsole-demo-workload",
                                       daemon=True)
        self.thread.start()
        if not self.ready.wait(timeout) or self.error is not None:
            raise RuntimeError(f"demo workload did not start: {self.error}")
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported by start()
            self.error = exc
            self.ready.set()

    async def _run(self) -> None:
        import asyncpg

        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        conns: list[Any] = []
        tasks: list[asyncio.Task[Any]] = []

        async def conn(name: str) -> Any:
            # The workload plays the watched application, not the console, so it connects
            # directly rather than through opsconsole.postgres.conn: the monitoring-safe
            # statement, lock and idle-in-transaction timeouts would cut short the lock
            # chain and the idle transactions it exists to show. The console side of the
            # demo (check_scene, the panes) goes through conn.py like everywhere else.
            c = await asyncpg.connect(self.dsn, timeout=10,
                                      server_settings={"application_name": f"demo-{name}"})
            conns.append(c)
            self.pids[name] = c.get_server_pid()
            return c

        async def waiting_on_lock(pid: int) -> None:
            mon = conns[0]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if await mon.fetchval("SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
                                      "WHERE pid = $1", pid):
                    return
                await asyncio.sleep(0.05)
            raise RuntimeError(f"pid {pid} never waited on a lock")

        async def quietly(coro: Any) -> None:
            try:
                await coro
            except (asyncio.CancelledError, Exception):
                pass

        async def loop_forever(c: Any, sql: str, *args: Any, pause: float = 0.0) -> None:
            while not self._stop.is_set():  # type: ignore[union-attr]
                try:
                    await c.execute(sql, *args) if not args else await c.fetch(sql, *args)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    await asyncio.sleep(0.5)
                if pause:
                    await asyncio.sleep(pause)

        async def statement_load(c: Any) -> None:
            import random

            while not self._stop.is_set():  # type: ignore[union-attr]
                try:
                    acc = random.randint(2, 5000)
                    await c.fetch("SELECT * FROM demo_products WHERE id = $1", acc % 2000 + 1)
                    await c.execute("INSERT INTO demo_orders (account, amount) VALUES ($1, $2)",
                                    acc, random.randint(1, 500))
                    if random.random() < 0.2:
                        await c.fetch("SELECT account, sum(amount) FROM demo_orders "
                                      "GROUP BY account ORDER BY 2 DESC LIMIT 10")
                except asyncio.CancelledError:
                    raise
                except Exception:
                    await asyncio.sleep(0.5)
                await asyncio.sleep(0.02)

        try:
            await conn("monitor")
            # the root blocker: an open transaction that updated a row, then went idle
            root = await conn("billing-worker")
            await root.execute("BEGIN; UPDATE demo_accounts SET balance = balance - 10 "
                               "WHERE id = 1")
            w1 = await conn("api")
            tasks.append(asyncio.create_task(quietly(w1.execute(
                "UPDATE demo_accounts SET balance = balance + 5 WHERE id = 1"))))
            await waiting_on_lock(self.pids["api"])
            w2 = await conn("migration")
            tasks.append(asyncio.create_task(quietly(w2.execute(
                "ALTER TABLE demo_accounts ADD COLUMN IF NOT EXISTS note text"))))
            await waiting_on_lock(self.pids["migration"])
            w3 = await conn("report")
            tasks.append(asyncio.create_task(quietly(w3.fetch(
                "SELECT count(*) FROM demo_accounts"))))
            await waiting_on_lock(self.pids["report"])
            # an idle transaction holding an xid (holds back vacuum)
            idle = await conn("forgotten-shell")
            await idle.execute("BEGIN; INSERT INTO demo_audit (note) VALUES ('left open')")
            # slow statements and statement load
            for i in range(2):
                s = await conn(f"slow-{i}")
                tasks.append(asyncio.create_task(loop_forever(
                    s, f"SELECT pg_sleep(2 + random() * {3 + i})")))
            for i in range(2):
                c = await conn(f"load-{i}")
                tasks.append(asyncio.create_task(statement_load(c)))
            self.ready.set()
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            for c in conns:
                c.terminate()
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self, timeout: float = 10.0) -> None:
        if self.loop is not None and self._stop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        if self.thread is not None:
            self.thread.join(timeout)


class Demo:
    """Cluster + workload; a context manager that always cleans up. Only the cluster (its
    PGDATA, socket and log, all under one temp directory) is removed: what the console
    records (incidents, runbook outputs, exports) lives in the data directory and stays."""

    def __init__(self, log: Callable[[str], None] = print) -> None:
        self.cluster: LocalCluster | None = None
        self.workload: Workload | None = None
        self.reaper: Any = None
        self.log = log

    def start(self) -> Demo:
        self.log("opsconsole demo: starting a throwaway PostgreSQL cluster…")
        self.cluster = LocalCluster()
        # from here on the cluster is removed even if this process dies without cleaning up
        self.reaper = self.cluster.reaper()
        self.log(f"cluster: {self.cluster.base} (port {self.cluster.port})")
        self.cluster.init().start()
        self.cluster.psql(SETUP_SQL)
        self.log("starting the workload: slow statements, a lock chain, idle transactions…")
        self.workload = Workload(self.cluster.dsn()).start()
        return self

    @property
    def dsn(self) -> str:
        assert self.cluster is not None
        return self.cluster.dsn()

    def connect_lines(self) -> list[str]:
        """How to point another tool (psql, pg_activity…) at the demo's server. The demo
        cluster trusts the ``postgres`` superuser on 127.0.0.1 and its socket: no password."""
        assert self.cluster is not None
        c = self.cluster
        return [f"demo server: {c.dsn()} (no password)",
                f"  psql \"host=127.0.0.1 port={c.port} user=postgres dbname=postgres\"",
                f"  pg_activity -h 127.0.0.1 -p {c.port} -U postgres  (or host={c.base})"]

    def stop(self) -> None:
        if self.workload is not None:
            self.log("stopping the demo workload…")
            self.workload.stop()
            self.workload = None
        if self.cluster is not None:
            self.cluster.teardown(self.log)
            self.cluster = None
        if self.reaper is not None:  # nothing left for it: let it go now
            try:
                os.close(self.reaper._reaper_pipe)
                self.reaper.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.reaper = None

    def __enter__(self) -> Demo:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def demo_config(dsn: str, redact: bool = False, base: Any = None) -> Any:
    """The user's config (theme, keys, thresholds…) watching the demo cluster only."""
    from dataclasses import replace

    from opsconsole.config import AppConfig
    from opsconsole.postgres.config import DatabaseTarget
    from opsconsole.schema import Duration

    cfg = base or AppConfig()
    # the demo's own alert rule, so the alerts strip has something to judge (a rule of the
    # user's config with the same name wins)
    mine = {r.name for r in cfg.alerts}
    rules = [*cfg.alerts, *(r for r in demo_rules() if r.name not in mine)]
    return replace(cfg, databases=[DatabaseTarget(name="demo", dsn=dsn)],
                   postgres=replace(cfg.postgres, min_duration=Duration(0.5)),
                   redact_queries=redact or cfg.redact_queries, alerts=rules)


DEMO_RULES = """\
alerts:
  - name: demo-lock-chain
    expr: pg.demo.blocked > 0
    for: 10s
    severity: critical
    summary: "{value} sessions wait on a lock (root blocker pid {pid})"
    runbook: pg-lock-contention
    params: {pid: "{pid}", database: demo}
"""


def demo_rules() -> list[Any]:
    """The rules the demo adds: a lock chain held for 10 s is critical, with its runbook."""
    from opsconsole.config import parse_config

    return list(parse_config(DEMO_RULES, "<demo rules>").alerts)


async def check_scene(dsn: str, timeout: float = 20.0) -> tuple[bool, list[str]]:
    """Poll like the panes do until the demo scene is complete; returns (ok, report lines)."""
    from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
    from opsconsole.postgres.source import PgSource
    from opsconsole.postgres.view import lock_rows, running_rows
    from opsconsole.schema import Duration

    src = PgSource(DatabaseTarget("demo", dsn), PostgresOptions(min_duration=Duration(0.5)))
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    ok = False
    try:
        await src.statements()
        while time.monotonic() < deadline:
            act = await src.activity()
            locks = await src.locks()
            depth = max((n.depth for n in locks.nodes), default=-1)
            root_idle = any(n.depth == 0 and n.backend.idle_in_transaction for n in locks.nodes)
            slow = any("pg_sleep" in b.query and b.state == "active" for b in act.backends)
            if depth >= 3 and root_idle and slow:
                ok = True
                break
            await asyncio.sleep(0.3)
        stmts = await src.statements()
        lines.append("running now:")
        lines += ["  " + " | ".join(cells[:8]) for _, cells in running_rows(act)]
        lines.append("blocking locks:")
        lines += ["  " + " | ".join(cells[:5]) for _, cells in lock_rows(locks)]
        lines.append(f"top statements: {len(stmts.statements)} shown"
                     + (f" ({stmts.note})" if stmts.note else ""))
    finally:
        await src.close()
    return ok, lines
