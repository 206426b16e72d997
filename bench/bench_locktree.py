"""Benchmark: the blocking-locks tree against the depth of a lock queue, old vs new, and on a
real server against pg_activity's blocking/waiting queries, in the same run.

1. Build curve (pure Python, no server): a queue of N sessions behind one holder, each named
   blocked by the holder and every session ahead of it (what pg_blocking_pids() returns).
     old  the original search (tests/locktree_oracle.py) over the full lists (O(N^2) pids)
     new  build_tree() over what the server now sends (reduce_waits models LOCKS_SQL)
     new/full  build_tree() over the full lists (the client algorithm alone)
   Printed: CPU ms per build (best of --repeat, time.process_time), the growth exponent between successive depths
   (log(t2/t1)/log(n2/n1): 1 = linear, 2 = quadratic), ok/MISSED against the goal
   (linear, < 5 ms at 1,000).
2. Live (--live, a throwaway LocalCluster): the same queue really built (LOCK TABLE ... IN
   ACCESS EXCLUSIVE MODE behind a holder), per refresh of the locks pane:
     new          PgSource.locks() (one reduced statement + the linear build)
     old          the two former statements (every waiter's full pg_blocking_pids(), then
                  pg_stat_activity/pg_locks details) + the original search
     pg_activity  its waiting + blocking queries (what its locks views run per refresh)
   server ms (pg_stat_statements exec + plan), client CPU ms (time.process_time around the
   refresh: decoding, models, tree) and wall ms (median).

Run:  PYTHONPATH=src python bench/bench_locktree.py [--live] [--depths 20,100,200,400,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from locktree_oracle import oracle_build_tree  # noqa: E402
from opsconsole.postgres.locktree import WaitInfo, build_tree, reduce_waits  # noqa: E402
from opsconsole.postgres.model import Backend  # noqa: E402

GOAL_MS = 5.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def backend(pid: int) -> Backend:
    return Backend(pid=pid, user="app", database="shop", application="api", client=None,
                   state="active" if pid else "idle in transaction", wait_event_type="Lock",
                   wait_event="relation", backend_start=T0, query_start=T0, query_age=1.0,
                   xact_age=2.0, state_age=1.0, holds_xid=True, holds_xmin=False,
                   query=f"lock table t in access exclusive mode -- {pid}")


def queue(n: int) -> tuple[dict[int, Backend], dict[int, WaitInfo]]:
    base = 1000
    backends = {base + i: backend(base + i) for i in range(n + 1)}
    waits = {base + i: WaitInfo(tuple(range(base, base + i)), "relation",  # holder, queue ahead
                                "AccessExclusiveLock", "t", float(n - i))
             for i in range(1, n + 1)}
    return backends, waits


def best(fn, repeat: int) -> float:
    out = math.inf
    for _ in range(repeat):
        gc.collect()  # each run starts from the same heap (the old search leaves a lot)
        t = time.process_time()  # CPU: the host is shared, wall time would count others
        fn()
        out = min(out, time.process_time() - t)
    return out * 1000


def exponents(depths: list[int], ms: list[float]) -> list[str]:
    out = ["   –"]
    for i in range(1, len(depths)):
        e = math.log(ms[i] / ms[i - 1]) / math.log(depths[i] / depths[i - 1]) if ms[i - 1] else 0
        out.append(f"{e:4.2f}")
    return out


def build_curve(depths: list[int], repeat: int) -> None:
    sys.setrecursionlimit(20000)  # the original search recurses once per queue position
    rows = []
    for n in depths:
        backends, waits = queue(n)
        small = reduce_waits(backends, waits)
        new_nodes = build_tree(backends, small, reduced=True)
        assert [(x.pid, x.depth, x.blocks) for x in new_nodes] == [
            (x.pid, x.depth, x.blocks) for x in oracle_build_tree(backends, waits)]
        old = best(lambda b=backends, w=waits: oracle_build_tree(b, w), max(1, repeat // 4))
        new = best(lambda b=backends, s=small: build_tree(b, s, reduced=True), repeat)
        full = best(lambda b=backends, w=waits: build_tree(b, w), max(1, repeat // 4))
        rows.append((n, sum(len(w.blocked_by) for w in waits.values()), old, new, full))
    depths_ = [r[0] for r in rows]
    e_old = exponents(depths_, [r[2] for r in rows])
    e_new = exponents(depths_, [r[3] for r in rows])
    print("1. tree build vs queue depth (CPU ms, best of runs; exp = growth exponent)")
    print(f"{'depth':>6}{'pids named':>12}{'old ms':>10}{'exp':>6}{'new ms':>9}{'exp':>6}"
          f"{'old/new':>9}{'new/full ms':>13}")
    for (n, pids, old, new, full), eo, en in zip(rows, e_old, e_new, strict=True):
        print(f"{n:>6}{pids:>12,}{old:>10.2f}{eo:>6}{new:>9.3f}{en:>6}{old / new:>8.0f}x"
              f"{full:>13.2f}")
    last = rows[-1]
    exp_all = math.log(rows[-1][3] / rows[0][3]) / math.log(rows[-1][0] / rows[0][0])
    print(f"goal linear (exponent {depths_[0]}→{depths_[-1]}: {exp_all:.2f}, ≤ 1.2): "
          f"{'ok' if exp_all <= 1.2 else 'MISSED'};  "
          f"< {GOAL_MS:.0f} ms at {last[0]}: {'ok' if last[3] < GOAL_MS else 'MISSED'} "
          f"({last[3]:.2f} ms)")


async def live(depths: list[int], refreshes: int) -> None:
    import asyncpg
    from bench_pg import pg_activity_queries, server_times

    from opsconsole.pgcluster import LocalCluster
    from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
    from opsconsole.postgres.locksource import full_wait_graph
    from opsconsole.postgres.source import PgSource
    from opsconsole.schema import Duration

    top = max(depths)
    settings = {"pg_stat_statements.track_planning": "on", "max_locks_per_transaction": "128"}
    with LocalCluster(max_connections=top + 60, settings=settings) as cluster:
        cluster.psql("create extension if not exists pg_stat_statements; "
                     "create table bench_q (id int primary key)")
        dsn = cluster.dsn()
        mon = await asyncpg.connect(dsn)
        holder = await asyncpg.connect(dsn, server_settings={"application_name": "holder"})
        await holder.execute("begin; lock table bench_q in row exclusive mode")
        # pg_blocking_pids() for 1,000 waiters takes the server ~0.3 s: no 2 s timeout here
        src = PgSource(DatabaseTarget("bench", dsn), PostgresOptions(
            min_duration=Duration(0), statement_timeout=Duration(60)))
        pga = await asyncpg.connect(dsn, statement_cache_size=0,
                                    server_settings={"application_name": "pg_activity"})
        q = pg_activity_queries()
        waiters: list[asyncpg.Connection] = []
        tasks = []
        print()
        print(f"2. live queue on PostgreSQL (per refresh, {refreshes} refreshes; "
              "server = exec + plan ms from pg_stat_statements)")
        print(f"{'depth':>6}  {'new srv':>8}{'cpu':>7}{'wall':>7}  {'old srv':>8}{'cpu':>8}"
              f"{'wall':>9}  {'pga srv':>8}{'wall':>7}  {'new cpu < srv':>13}")
        try:
            for n in depths:
                while len(waiters) < n:
                    batch = await asyncio.gather(*(asyncpg.connect(
                        dsn, server_settings={"application_name": "queue"})
                        for _ in range(min(50, n - len(waiters)))))
                    for w in batch:
                        tasks.append(asyncio.create_task(w.execute(
                            "begin; lock table bench_q in access exclusive mode")))
                        waiters.append(w)
                    while await mon.fetchval("select count(*) from pg_stat_activity where "
                                             "wait_event_type = 'Lock'") < len(waiters):
                        await asyncio.sleep(0.02)
                snap = await src.locks()
                assert snap.waiting == n and max(x.depth for x in snap.nodes) >= 1

                async def new() -> None:
                    await src.locks()

                async def old() -> None:
                    b, w, _ = await full_wait_graph(src)
                    oracle_build_tree(b, w)

                async def theirs() -> None:
                    await pga.fetch(q["waiting"])
                    await pga.fetch(q["blocking"])

                res = {}
                for name, fn, like in (("new", new, "%THEN pg_blocking_pids(a.pid) END AS bb%"),
                                       ("old", old, "/* opsconsole */%"),
                                       ("pga", theirs, "-- Get %")):
                    await fn()
                    await mon.execute("select pg_stat_statements_reset()")
                    cpu, wall = [], []
                    for _ in range(refreshes):
                        c, t = time.process_time(), time.perf_counter()
                        await fn()
                        cpu.append((time.process_time() - c) * 1000)
                        wall.append((time.perf_counter() - t) * 1000)
                    ms, _ = await server_times(mon, like)
                    res[name] = (ms / refreshes, statistics.median(cpu), statistics.median(wall))
                nw, od, pg = res["new"], res["old"], res["pga"]
                print(f"{n:>6}  {nw[0]:>8.2f}{nw[1]:>7.2f}{nw[2]:>7.2f}  {od[0]:>8.2f}"
                      f"{od[1]:>8.2f}{od[2]:>9.2f}  {pg[0]:>8.2f}{pg[2]:>7.2f}  "
                      f"{'ok' if nw[1] < nw[0] else 'MISSED':>13}")
        finally:
            for w in waiters:
                w.terminate()
            await asyncio.gather(*tasks, return_exceptions=True)
            for c in (holder, pga, mon):
                c.terminate()
            await src.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--depths", default="20,100,200,400,1000")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--live", action="store_true", help="also on a real PostgreSQL queue")
    ap.add_argument("--refreshes", type=int, default=10)
    a = ap.parse_args()
    depths = [int(x) for x in a.depths.split(",")]
    load = os.getloadavg()
    print(f"host load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
    build_curve(depths, a.repeat)
    if a.live:
        sys.path.insert(0, str(ROOT / "bench"))
        asyncio.run(live(depths, a.refreshes))


if __name__ == "__main__":
    main()
