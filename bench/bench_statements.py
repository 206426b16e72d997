"""Benchmark: client CPU of one refresh of the top statements view vs the number of
pg_stat_statements entries, old path vs new path in the same run, on the same server.

Scene (a throwaway LocalCluster, pg_stat_statements.max raised): 1,000 / 5,000 / 20,000
distinct statements (two IN lists of different lengths: distinct query trees, so distinct
queryids on PG 15-17 whatever the constants). Between refreshes a workload runs 200 of them
so the deltas are not all zero.

Per refresh (PgSource.statements(), 30 rows shown, texts cached after the first refresh):
  old   every entry becomes a Statement, deltas by dataclasses.replace, a full sort with a
        string tie-break, twice (the pre-fix code, kept below as OldSource)
  new   every entry scored on plain tuples in one pass, heapq top N, Statement objects for
        the shown rows only
Client CPU = time.process_time() around the call (includes asyncpg decoding the rows and
the text fetch for rows new on screen, in both paths); server time per refresh = the
total_exec_time of every statement opsconsole sent, from pg_stat_statements itself.
Peer: pg_activity and pghero have no per-interval top statements pane to run side by side
(pghero computes in Ruby on a web request; pg_activity has none), so the peer figure is the
server's own time: the ratio client CPU / server time (how much more we spend than the
server spends answering).

Run:  PYTHONPATH=src python bench/bench_statements.py [--sizes 1000,5000,20000] [--refreshes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opsconsole.pgcluster import LocalCluster  # noqa: E402
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions  # noqa: E402
from opsconsole.postgres.model import Statement, StatementsSnapshot, quote_ident  # noqa: E402
from opsconsole.postgres.source import STATEMENT_TEXT_SQL, TAG, PgSource  # noqa: E402
from opsconsole.postgres.statements import sort_statements, with_deltas  # noqa: E402

GOALS = {5000: 15.0, 20000: 40.0}

# The statements query before the fix: one row per entry, names joined per row.
OLD_STATEMENTS_SQL = TAG + """
SELECT s.dbid, s.userid, s.queryid, {toplevel} AS toplevel, s.calls,
       s.{total}::float8 AS total_ms, s.rows,
       coalesce(r.rolname, s.userid::text) AS rolname,
       coalesce(d.datname, s.dbid::text) AS datname
  FROM {schema}.pg_stat_statements(false) s
  LEFT JOIN pg_roles r ON r.oid = s.userid
  LEFT JOIN pg_database d ON d.oid = s.dbid
 WHERE s.queryid IS NOT NULL
"""


class OldSource(PgSource):
    """PgSource.statements() as it was before the fast path (the 'before' figure)."""

    async def statements(self, sort: str = "total", top: int | None = None) -> StatementsSnapshot:
        top = int(top or self.options.top_statements)

        async def q(conn: asyncpg.Connection) -> tuple[list[Any], Any, float]:
            schema = '"' + (self.pgss_schema or "public").replace('"', '""') + '"'
            reset = await conn.fetchval(
                TAG + f"SELECT stats_reset FROM {schema}.pg_stat_statements_info", timeout=self.timeout)
            rows = await conn.fetch(self._pgss_sql(OLD_STATEMENTS_SQL), timeout=self.timeout)
            return list(rows), reset, time.monotonic()

        rows, reset, now = await self.run(q)
        assert self.server is not None
        stmts = [
            Statement(key=(r["dbid"], r["userid"], r["queryid"], bool(r["toplevel"])),
                      user=r["rolname"], database=r["datname"], calls=r["calls"],
                      total_ms=r["total_ms"], rows=r["rows"])
            for r in rows
        ]
        stmts, self._sample, note = with_deltas(stmts, self._sample, now, reset)
        hint = None if self.server.read_all_stats else quote_ident(self.server.user)
        shown = await self._old_with_texts(stmts, sort, top)
        return StatementsSnapshot(server=self.server, statements=tuple(shown),
                                  taken_at=reset, note=note, has_deltas=note == "", hint=hint)

    async def _old_with_texts(self, stmts: list[Statement], sort: str, top: int) -> list[Statement]:
        for _ in range(4):
            ranked = [s for s in sort_statements(stmts, sort) if s.key not in self._own_keys][:top]
            missing = [s for s in ranked if s.key not in self._texts]
            if not missing:
                break
            ids = sorted({s.key[2] for s in missing})

            async def q(conn: asyncpg.Connection, ids: list[int] = ids) -> list[Any]:
                return await conn.fetch(self._pgss_sql(STATEMENT_TEXT_SQL), ids,
                                        timeout=self.timeout)

            for r in await self.run(q):
                key = (r["dbid"], r["userid"], r["queryid"], bool(r["toplevel"]))
                text = r["query"] or ""
                self._texts[key] = text
                if text.startswith(TAG.strip()):
                    self._own_keys.add(key)
            for s in missing:
                self._texts.setdefault(s.key, "")
        if len(self._texts) > 20 * top:
            keep = {s.key for s in stmts}
            self._texts = {k: v for k, v in self._texts.items() if k in keep}
        ranked = [s for s in sort_statements(stmts, sort) if s.key not in self._own_keys][:top]
        return [replace(s, query=self._texts.get(s.key, "")) for s in ranked]


def shape(i: int) -> str:
    a, b = i % 150 + 1, i // 150 + 1
    return ("select 1 where 1 in (" + ",".join(["1"] * a) + ") and 2 in ("
            + ",".join(["2"] * b) + ")")


async def fill(dsn: str, n: int) -> None:
    conns = [await asyncpg.connect(dsn) for _ in range(4)]

    async def part(c: asyncpg.Connection, lo: int) -> None:
        for i in range(lo, n, 4):
            await c.execute(shape(i))

    await asyncio.gather(*(part(c, k) for k, c in enumerate(conns)))
    for c in conns:
        await c.close()


async def server_ms(mon: asyncpg.Connection) -> tuple[float, float]:
    """Execution time of the statements query alone, and of every statement opsconsole
    sent (the statements query, stats_reset, the texts of rows new on screen)."""
    row = await mon.fetchrow(
        "select coalesce(sum(total_exec_time) filter (where query like"
        " '%pg_stat_statements($1) s%' and query not like '%left(s.query%'), 0)::float8 as q,"
        " coalesce(sum(total_exec_time), 0)::float8 as total"
        " from pg_stat_statements where query like '/* opsconsole */%'")
    return row["q"], row["total"]


async def measure(src: PgSource, work: asyncpg.Connection, mon: asyncpg.Connection, n: int,
                  size: int, refreshes: int) -> tuple[float, float, int]:
    await src.statements()
    await src.statements()  # texts cached, deltas on
    ms0 = await server_ms(mon)
    cpu: list[float] = []
    shown = 0
    for k in range(refreshes):
        for i in range(200):
            await work.execute(shape((k * 7919 + i * 104729) % size))
        t = time.process_time()
        snap = await src.statements()
        cpu.append((time.process_time() - t) * 1000)
        shown = len(snap.statements)
    ms1 = await server_ms(mon)
    return (statistics.median(cpu), (ms1[0] - ms0[0]) / refreshes,
            (ms1[1] - ms0[1]) / refreshes, shown)


async def main(sizes: list[int], refreshes: int) -> int:
    print(f"host load (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    biggest = max(sizes)
    settings = {"pg_stat_statements.max": str(biggest + 1000)}
    results = []
    with LocalCluster(settings=settings) as cluster:
        cluster.psql("create extension if not exists pg_stat_statements")
        dsn = cluster.dsn()
        mon = await asyncpg.connect(dsn)
        work = await asyncpg.connect(dsn)
        filled = 0
        try:
            for size in sorted(sizes):
                await fill(dsn, size) if filled == 0 else None
                if filled:
                    conns = [await asyncpg.connect(dsn)]
                    for i in range(filled, size):
                        await conns[0].execute(shape(i))
                    await conns[0].close()
                filled = size
                entries = await mon.fetchval("select count(*) from pg_stat_statements")
                opts = PostgresOptions()
                old = OldSource(DatabaseTarget("old", dsn), opts)
                new = PgSource(DatabaseTarget("new", dsn), opts)
                try:
                    # interleave so both see the same load
                    o_cpu, o_srv, o_all, _ = await measure(old, work, mon, 0, size, refreshes)
                    n_cpu, n_srv, n_all, shown = await measure(new, work, mon, 0, size, refreshes)
                    o_cpu2, *_ = await measure(old, work, mon, 0, size, refreshes)
                    n_cpu2, *_ = await measure(new, work, mon, 0, size, refreshes)
                finally:
                    await old.close()
                    await new.close()
                results.append((size, entries, shown, min(o_cpu, o_cpu2), min(n_cpu, n_cpu2),
                                o_srv, n_srv, o_all, n_all))
                print(f"  {size} statements measured", flush=True)
        finally:
            await mon.close()
            await work.close()

    print()
    print(f"refreshes per point: {refreshes} x 2 (interleaved old/new; the lower median kept)")
    print(f"{'statements':>10}{'entries':>9}{'shown':>6}{'server: query':>15}{'all':>15}"
          f"{'client cpu ms':>15}{'old/new':>8}{'cpu/query':>12}  goal (new cpu)")
    print(f"{'':>25}" + f"{'old':>8}{'new':>7}" * 3 + f"{'cpu':>8}{'old':>6}{'new':>6}")
    missed = 0
    for size, entries, shown, o, nw, so, sn, ao, an in results:
        goal = GOALS.get(size)
        verdict = "" if goal is None else (f"< {goal:.0f} ms " + ("ok" if nw < goal else "MISSED"))
        missed += verdict.endswith("MISSED")
        print(f"{size:>10,}{entries:>9,}{shown:>6}{so:>8.2f}{sn:>7.2f}{ao:>8.2f}{an:>7.2f}"
              f"{o:>8.2f}{nw:>7.2f}{o / nw:>7.1f}x{o / so:>5.1f}x{nw / sn:>5.1f}x  {verdict}")
    print("server: query = the statements query alone; all = + stats_reset + texts of rows new"
          " on screen (pg_stat_statements(true) reads every text: the same in both paths)")
    if len(results) > 1:
        (s0, _, _, o0, n0, *_), (s1, _, _, o1, n1, *_) = results[0], results[-1]
        print(f"growth {s0:,} -> {s1:,} entries ({s1 / s0:.0f}x the work): "
              f"old cpu {o1 / o0:.1f}x, new cpu {n1 / n0:.1f}x")
    print(f"host load at the end (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if missed else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--refreshes", type=int, default=20)
    a = ap.parse_args()
    sys.exit(asyncio.run(main([int(x) for x in a.sizes.split(",")], a.refreshes)))
