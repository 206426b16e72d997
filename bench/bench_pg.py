"""Benchmark: server cost of one refresh of the slow queries + blocking locks panes, against
pg_activity's equivalent queries, in the same run on the same server.

Scene (a throwaway LocalCluster): 300 idle connections, 30 active ones (pg_sleep), and a
20-deep lock queue behind a root blocker idle in a transaction.

Per refresh:
  opsconsole   running now (1 pass over pg_stat_activity) + blocking locks (waiters with
               pg_blocking_pids() for wait_event_type = 'Lock' only, then pg_locks details),
               exactly as the panes run them (PgSource.activity() + PgSource.locks()).
  pg_activity  its activity, waiting and blocking queries (the three views covering the same
               ground), and, as it runs every refresh, its server-info query too.

Server time = total_exec_time + total_plan_time from pg_stat_statements (track_planning on)
over N refreshes; client time = wall time around each refresh. pg_activity's SQL is read
from the installed package (pip install pg_activity) with its parameters inlined (min
duration 0, no database filter), and sent without a statement cache, as psycopg does.

Run:  PYTHONPATH=src python bench/bench_pg.py [--refreshes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opsconsole.pgcluster import LocalCluster  # noqa: E402
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions  # noqa: E402
from opsconsole.postgres.source import PgSource  # noqa: E402
from opsconsole.schema import Duration  # noqa: E402

IDLE, ACTIVE, QUEUE = 300, 30, 20


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


async def main(n: int) -> None:
    settings = {"pg_stat_statements.track_planning": "on", "max_connections": "420"}
    with LocalCluster(settings=settings) as cluster:
        cluster.psql("create extension if not exists pg_stat_statements")
        dsn = cluster.dsn()
        print(f"scene: {IDLE} idle + {ACTIVE} active connections, {QUEUE}-deep lock queue …",
              flush=True)
        conns = await build_scene(dsn)
        mon = await asyncpg.connect(dsn)
        src = PgSource(DatabaseTarget("bench", dsn), PostgresOptions(min_duration=Duration(0)))
        pga = await asyncpg.connect(dsn, statement_cache_size=0,
                                    server_settings={"application_name": "pg_activity"})
        queries = pg_activity_queries()
        try:
            act = await src.activity(0)
            locks = await src.locks()
            print(f"opsconsole sees {len(act.backends)} non-idle backends, "
                  f"{locks.waiting} waiting, tree depth {max(x.depth for x in locks.nodes)}")
            for name in ("activities", "waiting", "blocking", "server_info"):
                rows = await pga.fetch(queries[name])
                print(f"pg_activity {name}: {len(rows)} rows")
            # warm-up done; measure from a clean slate (throwaway cluster: resetting is fine)
            await mon.execute("select pg_stat_statements_reset()")
            ours_wall: list[float] = []
            theirs_wall: list[float] = []
            theirs_info_wall: list[float] = []
            for _ in range(n):
                t = time.perf_counter()
                await src.activity(0)
                await src.locks()
                ours_wall.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                for name in ("activities", "waiting", "blocking"):
                    await pga.fetch(queries[name])
                theirs_wall.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await pga.fetch(queries["server_info"])
                theirs_info_wall.append((time.perf_counter() - t) * 1000)
            ours_ms, ours_calls = await server_times(mon, "/* opsconsole */%")
            theirs_ms, theirs_calls = await server_times(mon, "-- Get %")
            info_ms, _ = await server_times(mon, "-- Get the server information%")
            theirs_views_ms = theirs_ms - info_ms
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
            for c in conns:
                c.terminate()

    o = ours_ms / n
    p3 = theirs_views_ms / n
    p4 = theirs_ms / n
    ow, pw, piw = (statistics.median(x) for x in (ours_wall, theirs_wall, theirs_info_wall))
    print()
    print(f"refreshes: {n}   (server time from pg_stat_statements: exec + plan)")
    print(f"{'':34}{'server ms/refresh':>18}{'client ms (median)':>20}")
    print(f"{'opsconsole (slow + locks panes)':34}{o:>18.2f}{ow:>20.2f}")
    print(f"{'pg_activity (activity+wait+block)':34}{p3:>18.2f}{pw:>20.2f}")
    print(f"{'pg_activity (+ server info)':34}{p4:>18.2f}{pw + piw:>20.2f}")
    print()
    print(f"ratio server time  pg_activity/opsconsole: {p3 / o:.1f}x (views), {p4 / o:.1f}x (with server info)")
    print(f"ratio client time  pg_activity/opsconsole: {pw / ow:.1f}x (views), {(pw + piw) / ow:.1f}x (with server info)")
    print(f"goal < 10 ms server time per refresh: {'met' if o < 10 else 'NOT met'} ({o:.2f} ms)")
    print(f"top statements view instead of running now: {top_ms / n:.2f} ms server, "
          f"{statistics.median(top_wall):.2f} ms client per refresh "
          f"({entries} pg_stat_statements entries; pg_activity has no equivalent)")
    print(f"statements per refresh: opsconsole {ours_calls / n:.0f}, pg_activity {theirs_calls / n:.0f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--refreshes", type=int, default=50)
    asyncio.run(main(ap.parse_args().refreshes))
