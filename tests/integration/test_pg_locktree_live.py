"""The reduced lock tree on a real server: a long mixed-mode queue and a row-lock chain, drawn
by PgSource.locks() exactly as the original algorithm draws them from the full
pg_blocking_pids() lists; a real deadlock (held open) is drawn from the full lists."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import asyncpg
import pytest

from locktree_oracle import oracle_build_tree
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.locksource import full_wait_graph
from opsconsole.postgres.source import PgSource
from opsconsole.postgres.view import lock_rows
from opsconsole.schema import Duration
from pghelpers import waits_on_lock

pytestmark = pytest.mark.pg


@pytest.fixture
def table(pg_cluster) -> str:
    name = f"t_{uuid.uuid4().hex[:8]}"
    pg_cluster.psql(f"create table {name} (id int primary key, v int); "
                    f"insert into {name} select g, 0 from generate_series(1, 10) g")
    return name


def shape(nodes, roots):
    """What the pane and the confirmation show, without ages (they move between queries)."""
    return [(n.pid, n.depth, n.parent, n.root, n.blocks, n.n_blocked_by, n.blocks_direct,
             n.mode, n.relation, n.backend.application) for n in nodes if n.root in roots]


async def test_long_mixed_queue_and_row_chain_equal_the_original(pg_cluster, table):
    dsn = pg_cluster.dsn()
    mon = await asyncpg.connect(dsn)
    src = PgSource(DatabaseTarget("t", dsn), PostgresOptions(min_duration=Duration(0.2)))
    conns: list[asyncpg.Connection] = []
    tasks: list[asyncio.Task] = []

    async def session(app: str) -> asyncpg.Connection:
        c = await asyncpg.connect(dsn, server_settings={"application_name": app})
        conns.append(c)
        return c

    try:
        holder = await session("holder")
        await mon.execute(f"create table {table}_rows (id int primary key, v int); "
                          f"insert into {table}_rows values (1, 0)")
        await holder.execute(f"begin; lock table {table} in row exclusive mode")
        modes = ["access exclusive", "access share", "share", "access share", "exclusive"] * 6
        for i, mode in enumerate(modes):  # a 30-deep queue of mixed modes
            w = await session(f"queue-{i}")
            tasks.append(asyncio.create_task(w.execute(
                f"begin; lock table {table} in {mode} mode")))
            await waits_on_lock(mon, w.get_server_pid())
        other = f"{table}_rows"
        row_root = await session("row-root")
        await row_root.execute(f"begin; update {other} set v = 1 where id = 1")
        for i in range(3):  # a fan of row-lock waiters
            w = await session(f"row-{i}")
            tasks.append(asyncio.create_task(w.execute(f"update {other} set v = 2 where id = 1")))
            await waits_on_lock(mon, w.get_server_pid())
        roots = {holder.get_server_pid(), row_root.get_server_pid()}

        snap = await src.locks()
        backends, waits, _ = await full_wait_graph(src)
        want = oracle_build_tree(backends, waits)
        named: dict[int, int] = {}
        for n in want:
            for b in set(n.blocked_by):
                named[b] = named.get(b, 0) + 1
        want = [replace(n, n_blocked_by=len(waits[n.pid].blocked_by) if n.pid in waits else 0,
                        blocks_direct=named.get(n.pid, 0)) for n in want]
        got = shape(snap.nodes, roots)
        assert got == shape(want, roots)
        assert len(got) == 30 + 1 + 3 + 1
        full = {n.pid: n for n in want}
        for n in snap.nodes:
            if n.root in roots:  # fewer pids sent, never other ones, never none
                assert set(n.blocked_by) <= set(full[n.pid].blocked_by)
                assert bool(n.blocked_by) == bool(full[n.pid].blocked_by)
        # the queue sent fewer pids than pg_blocking_pids() names in all
        assert (sum(len(n.blocked_by) for n in snap.nodes if n.root in roots)
                < sum(len(n.blocked_by) for n in want if n.root in roots))
        top = next(n for n in snap.nodes if n.pid == holder.get_server_pid())
        assert top.depth == 0 and top.blocks == 30
        assert dict(lock_rows(snap))[str(top.pid)][2] == "30"
    finally:
        for c in conns:
            c.terminate()
        await asyncio.gather(*tasks, return_exceptions=True)
        await mon.close()
        await src.close()


async def test_a_held_deadlock_is_drawn_from_the_full_lists(pg_cluster, table):
    dsn = pg_cluster.dsn()
    mon = await asyncpg.connect(dsn)
    a, b = [await asyncpg.connect(dsn, server_settings={"deadlock_timeout": "600s"})
            for _ in range(2)]
    src = PgSource(DatabaseTarget("t", dsn), PostgresOptions(min_duration=Duration(0.2)))
    tasks = []
    try:
        await a.execute(f"begin; update {table} set v = 1 where id = 1")
        await b.execute(f"begin; update {table} set v = 1 where id = 2")
        tasks.append(asyncio.create_task(a.execute(f"update {table} set v = 2 where id = 2")))
        await waits_on_lock(mon, a.get_server_pid())
        tasks.append(asyncio.create_task(b.execute(f"update {table} set v = 2 where id = 1")))
        await waits_on_lock(mon, b.get_server_pid())
        snap = await src.locks()
        pids = {a.get_server_pid(), b.get_server_pid()}
        mine = [n for n in snap.nodes if n.pid in pids]
        assert sorted(n.pid for n in mine) == sorted(pids)
        assert [n.depth for n in mine] == [0, 1] and mine[1].parent == mine[0].pid
        assert all(n.blocks_direct == 1 and n.n_blocked_by == 1 for n in mine)
    finally:
        await mon.execute("select pg_terminate_backend($1)", b.get_server_pid())
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in (a, b, mon):
            c.terminate()
        await src.close()
