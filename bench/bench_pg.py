"""Benchmark: server cost of one refresh of the slow queries + blocking locks panes, against
pg_activity's equivalent queries, in the same run on the same server.

Scene (a throwaway LocalCluster, max_connections raised to fit): 1,000 idle connections, 50
active ones (pg_sleep), and a 100-deep lock queue behind a root blocker idle in a transaction
(--idle/--active/--queue to change).

Per refresh:
  opsconsole   running now (1 pass over pg_stat_activity) + blocking locks (waiters with
               pg_blocking_pids() for wait_event_type = 'Lock' only, then pg_locks details),
               exactly as the panes run them (PgSource.activity() + PgSource.locks()).
  pg_activity  its activity, waiting and blocking queries (the three views covering the same
               ground), and, as it runs every refresh, its server-info query too.

Server time = total_exec_time + total_plan_time from pg_stat_statements (track_planning on)
over N refreshes; client CPU = time.process_time() around each refresh (decoding, models, and
for opsconsole the table rows of both panes, view.running_rows + view.lock_rows); wall = the
elapsed time. pg_activity's client side is its own data layer (pgactivity.data.Data over
psycopg: pg_get_activities/waiting/blocking, rows decoded into its models), in the same run.
Goal (issue 13): opsconsole's client CPU per refresh below its server time. pg_activity's SQL is read
from the installed package (pip install pg_activity) with its parameters inlined (min
duration 0, no database filter), and sent without a statement cache, as psycopg does.

Run:  PYTHONPATH=src python bench/bench_pg.py [--refreshes 50] [--idle 1000 --active 50 --queue 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opsconsole.pgcluster import LocalCluster  # noqa: E402
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions  # noqa: E402
from opsconsole.postgres.source import PgSource  # noqa: E402
from opsconsole.postgres.view import lock_rows, running_rows  # noqa: E402
from opsconsole.schema import Duration  # noqa: E402

IDLE, ACTIVE, QUEUE = 1000, 50, 100


def pg_activity_queries() -> dict[str, str]:
    import pgactivity.queries as q

    base = Path(q.__file__).parent

    def load(name: str, **fmt: str) -> str:
        sql = (base / f"{name}.sql").read_text()
        sql = sql.format(duration_column="query_start", min_duration="0", dbname_filter="NULL")
        params = {"min_duration": "0", "dbname_filter": "NULL", "skip_db_size": "false",
                  "prev_total_size": "0", "using_rds": "false"}
        for k, v in params.items():
            sql = sql.replace(f"%({k})s", v)
        return sql

    return {
        "activities": load("get_pg_activity_post_130000"),
        "waiting": load("get_waiting_post_090200"),
        "blocking": load("get_blocking_post_090600"),
        "server_info": load("get_server_info_post_110000"),
    }


async def build_scene(dsn: str) -> list[asyncpg.Connection]:
    conns: list[asyncpg.Connection] = []

    async def open_many(n: int, app: str) -> list[asyncpg.Connection]:
        out: list[asyncpg.Connection] = []
        for i in range(0, n, 50):
            out += await asyncio.gather(*(asyncpg.connect(
                dsn, server_settings={"application_name": app}) for _ in range(min(50, n - i))))
        return out

    idle = await open_many(IDLE, "bench-idle")
    active = await open_many(ACTIVE, "bench-active")
    conns += idle + active
    for c in active:
        asyncio.get_running_loop().create_task(_quiet(c.execute("select pg_sleep(3600)")))
    root = await asyncpg.connect(dsn, server_settings={"application_name": "bench-root"})
    conns.append(root)
    await root.execute("create table if not exists bench_q (id int primary key, v int);"
                       "insert into bench_q values (1, 0) on conflict do nothing")
    await root.execute("begin; update bench_q set v = v + 1 where id = 1")
    waiters = await open_many(QUEUE, "bench-queue")
    conns += waiters
    for w in waiters:
        asyncio.get_running_loop().create_task(_quiet(w.execute(
            "begin; lock table bench_q in access exclusive mode")))
        # keep the queue order deterministic: wait until this one queues
        while not await root.fetchval(
                "select wait_event_type = 'Lock' from pg_stat_activity where pid = $1",
                w.get_server_pid()):
            await asyncio.sleep(0.01)
    return conns


async def _quiet(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except Exception:
        pass


async def server_times(mon: asyncpg.Connection, like: str) -> tuple[float, int]:
    row = await mon.fetchrow(
        "select coalesce(sum(total_exec_time + total_plan_time), 0)::float8 as ms, "
        "coalesce(sum(calls), 0)::int as calls from pg_stat_statements where query like $1", like)
    return row["ms"], row["calls"]


PGA_ROLE = "pgactivity_bench"  # its statements (comments stripped) are told apart by role


async def role_times(mon: asyncpg.Connection, role: str) -> tuple[float, int]:
    row = await mon.fetchrow(
        "select coalesce(sum(total_exec_time + total_plan_time), 0)::float8 as ms, "
        "coalesce(sum(calls), 0)::int as calls from pg_stat_statements s "
        "join pg_roles r on r.oid = s.userid where r.rolname = $1", role)
    return row["ms"], row["calls"]


def pg_activity_data(dsn: str):  # type: ignore[no-untyped-def]
    """pg_activity's own data layer (psycopg), as its UI refreshes it."""
    from urllib.parse import urlsplit

    from pgactivity.data import Data

    u = urlsplit(dsn)  # (its keyword defaults, port=5432 and all, override the DSN's)
    return Data.pg_connect(dsn=dsn, host=u.hostname, port=u.port or 5432, user=PGA_ROLE,
                           password="bench", database=u.path.lstrip("/"), min_duration=0.0)


async def main(n: int) -> None:
    load = os.getloadavg()
    print(f"host load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
    settings = {"pg_stat_statements.track_planning": "on"}
    with LocalCluster(max_connections=IDLE + ACTIVE + QUEUE + 40, settings=settings) as cluster:
        cluster.psql("create extension if not exists pg_stat_statements; "
                     f"create role {PGA_ROLE} superuser login password 'bench'")
        dsn = cluster.dsn()
        print(f"scene: {IDLE} idle + {ACTIVE} active connections, {QUEUE}-deep lock queue …",
              flush=True)
        conns = await build_scene(dsn)
        mon = await asyncpg.connect(dsn)
        src = PgSource(DatabaseTarget("bench", dsn), PostgresOptions(min_duration=Duration(0)))
        pga = await asyncpg.connect(dsn, statement_cache_size=0,
                                    server_settings={"application_name": "pg_activity"})
        pgdata = pg_activity_data(dsn)
        queries = pg_activity_queries()

        async def ours() -> None:
            act = await src.activity(0)
            locks = await src.locks()
            running_rows(act)
            lock_rows(locks)

        def theirs() -> None:
            pgdata.pg_get_activities()
            pgdata.pg_get_waiting()
            pgdata.pg_get_blocking()

        try:
            act = await src.activity(0)
            locks = await src.locks()
            print(f"opsconsole sees {len(act.backends)} non-idle backends, "
                  f"{locks.waiting} waiting, tree depth {max(x.depth for x in locks.nodes)}")
            print(f"pg_activity sees {len(pgdata.pg_get_activities())} activities, "
                  f"{len(pgdata.pg_get_waiting())} waiting, {len(pgdata.pg_get_blocking())} blocking")
            await ours()
            theirs()
            # warm-up done; measure from a clean slate (throwaway cluster: resetting is fine)
            await mon.execute("select pg_stat_statements_reset()")
            o_cpu: list[float] = []
            o_wall: list[float] = []
            t_cpu: list[float] = []
            t_wall: list[float] = []
            info_wall: list[float] = []
            for _ in range(n):
                c, t = time.process_time(), time.perf_counter()
                await ours()
                o_cpu.append((time.process_time() - c) * 1000)
                o_wall.append((time.perf_counter() - t) * 1000)
                c, t = time.process_time(), time.perf_counter()
                theirs()
                t_cpu.append((time.process_time() - c) * 1000)
                t_wall.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await pga.fetch(queries["server_info"])
                info_wall.append((time.perf_counter() - t) * 1000)
            ours_ms, ours_calls = await server_times(mon, "/* opsconsole */%")
            theirs_views_ms, theirs_calls = await role_times(mon, PGA_ROLE)
            info_ms, _ = await server_times(mon, "-- Get the server information%")
            theirs_ms = theirs_views_ms + info_ms
            # the other view of the slow queries pane: top statements (deltas, text on screen)
            # over 2,000 distinct statements
            for i in range(1, 2001):  # IN lists of different lengths: distinct queryids on PG15
                await mon.fetch("select 1 where 1 in (" + ",".join(["1"] * i) + ")")
            await src.statements()
            base_ms, _ = await server_times(mon, "/* opsconsole */%")
            top_wall = []
            for _ in range(n):
                t = time.perf_counter()
                await src.statements()
                top_wall.append((time.perf_counter() - t) * 1000)
            top_ms, _ = await server_times(mon, "/* opsconsole */%")
            top_ms -= base_ms
            entries = await mon.fetchval("select count(*) from pg_stat_statements")
        finally:
            await src.close()
            await pga.close()
            await mon.close()
            pgdata.pg_conn.close()
            for c in conns:
                c.terminate()

    o = ours_ms / n
    p3 = theirs_views_ms / n
    p4 = theirs_ms / n
    med = statistics.median
    oc, ow, tc, tw, iw = (med(x) for x in (o_cpu, o_wall, t_cpu, t_wall, info_wall))
    print()
    print(f"refreshes: {n}   (server: pg_stat_statements exec + plan; client CPU: "
          "process_time; medians)")
    print(f"{'':36}{'server ms':>10}{'client CPU ms':>15}{'wall ms':>9}{'CPU < server':>14}")
    print(f"{'opsconsole (slow + locks panes)':36}{o:>10.2f}{oc:>15.2f}{ow:>9.2f}"
          f"{'ok' if oc < o else 'MISSED':>14}")
    print(f"{'pg_activity (activity+wait+block)':36}{p3:>10.2f}{tc:>15.2f}{tw:>9.2f}"
          f"{'ok' if tc < p3 else 'no':>14}")
    print(f"{'pg_activity (+ server info query)':36}{p4:>10.2f}{'':>15}{tw + iw:>9.2f}")
    print()
    print(f"ratio pg_activity/opsconsole: server {p3 / o:.1f}x (views), {p4 / o:.1f}x "
          f"(with server info); client CPU {tc / oc:.1f}x; wall {tw / ow:.1f}x")
    print(f"goal client CPU < server time: {'ok' if oc < o else 'MISSED'} "
          f"({oc:.2f} ms CPU vs {o:.2f} ms server)")
    print(f"goal server time < pg_activity's: {'ok' if o < p3 else 'MISSED'}")
    print(f"top statements view instead of running now: {top_ms / n:.2f} ms server, "
          f"{med(top_wall):.2f} ms client per refresh "
          f"({entries} pg_stat_statements entries; pg_activity has no equivalent)")
    print(f"statements per refresh: opsconsole {ours_calls / n:.0f}, pg_activity {theirs_calls / n:.0f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--refreshes", type=int, default=50)
    ap.add_argument("--idle", type=int, default=IDLE)
    ap.add_argument("--active", type=int, default=ACTIVE)
    ap.add_argument("--queue", type=int, default=QUEUE)
    args = ap.parse_args()
    IDLE, ACTIVE, QUEUE = args.idle, args.active, args.queue
    asyncio.run(main(args.refreshes))
