"""The PostgreSQL source and actions against a real throwaway server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg
import pytest

from eventually import eventually
from opsconsole.incidents.sink import JournalSink, MemorySink
from opsconsole.postgres import connect
from opsconsole.postgres.actions import signal_backend
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.source import PgSource
from opsconsole.postgres.view import activity_hints, lock_rows, running_rows
from opsconsole.schema import Duration
from pghelpers import waits_on_lock

pytestmark = pytest.mark.pg


def opts(**kw) -> PostgresOptions:
    base = dict(min_duration=Duration(0.2))
    base.update(kw)
    return PostgresOptions(**base)


@pytest.fixture
def table(pg_cluster) -> str:
    name = f"t_{uuid.uuid4().hex[:8]}"
    pg_cluster.psql(f"create table {name} (id int primary key, v int); "
                    f"insert into {name} select g, 0 from generate_series(1, 10) g")
    return name


@pytest.fixture
def monitor_role(pg_cluster) -> str:
    pg_cluster.psql("do $$ begin if not exists (select from pg_roles where rolname = 'monitor') "
                    "then create role monitor login password 'mon-pw'; end if; end $$")
    return "monitor"


async def test_connect_is_monitoring_safe(pg_cluster):
    conn = await connect(DatabaseTarget("t", pg_cluster.dsn()), opts())
    try:
        assert await conn.fetchval("show application_name") == "opsconsole"
        assert await conn.fetchval("show statement_timeout") == "2s"
        assert await conn.fetchval("show lock_timeout") == "500ms"
        with pytest.raises(asyncpg.QueryCanceledError, match="statement timeout"):
            await conn.execute("select pg_sleep(5)")
    finally:
        await conn.close()
    conn = await connect(DatabaseTarget("t", pg_cluster.dsn()), opts(),
                         application_name="opsconsole-runbook")
    try:
        assert await conn.fetchval("show application_name") == "opsconsole-runbook"
    finally:
        await conn.close()


async def test_pg_env_and_pgpass_work_like_libpq(pg_cluster, monitor_role, tmp_path, monkeypatch):
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_cluster.port}:*:monitor:mon-pw\n")
    pgpass.chmod(0o600)
    for k, v in {"PGHOST": "127.0.0.1", "PGPORT": str(pg_cluster.port), "PGUSER": "monitor",
                 "PGDATABASE": "postgres", "PGPASSFILE": str(pgpass)}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    conn = await connect(DatabaseTarget("env"), opts())  # no DSN at all
    try:
        assert await conn.fetchval("select current_user") == "monitor"
    finally:
        await conn.close()
    # key=value DSN, password from the pgpass file
    conn = await connect(DatabaseTarget("kv", f"host=127.0.0.1 port={pg_cluster.port} "
                                              "user=monitor dbname=postgres"), opts())
    await conn.close()
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "missing"))
    with pytest.raises(asyncpg.InvalidPasswordError):
        await connect(DatabaseTarget("env"), opts())


async def test_running_now_exact_states_and_own_backends_excluded(pg_cluster, table):
    dsn = pg_cluster.dsn()
    slow, idle, aborted = (await asyncpg.connect(dsn) for _ in range(3)).__anext__, None, None
    slow = await asyncpg.connect(dsn)
    idle = await asyncpg.connect(dsn)
    aborted = await asyncpg.connect(dsn)
    src = PgSource(DatabaseTarget("t", dsn), opts())
    try:
        task = asyncio.create_task(slow.execute("select pg_sleep(30) /* slowtest */"))
        await idle.execute(f"begin; update {table} set v = 1 where id = 1")
        await aborted.execute("begin")
        with pytest.raises(asyncpg.DivisionByZeroError):
            await aborted.execute("select 1/0")

        async def ready():
            snap = await src.activity()
            pids = {b.pid: b for b in snap.backends}
            return snap if {slow.get_server_pid(), idle.get_server_pid(),
                            aborted.get_server_pid()} <= set(pids) else None

        snap = await eventually(ready, what="three backends over 0.2s")
        by = {b.pid: b for b in snap.backends}
        s, i, a = by[slow.get_server_pid()], by[idle.get_server_pid()], by[aborted.get_server_pid()]
        assert s.state == "active" and "pg_sleep(30)" in s.query and s.wait_event == "PgSleep"
        assert i.state == "idle in transaction" and i.holds_xid and i.holds_back_vacuum
        assert a.state == "idle in transaction (aborted)" and a.idle_in_transaction
        assert i.age == i.state_age and i.state_age >= 0.2
        assert src.server and src.server.own_pid not in by
        assert all(b.application != "opsconsole" for b in snap.backends)
        rows = dict(running_rows(snap))
        assert rows[str(i.pid)][3].startswith("idle in xact") and "⚠vac" in rows[str(i.pid)][3]
        assert rows[str(a.pid)][3].startswith("idle in xact (aborted)")
        # the minimum duration hides short ones
        long = await src.activity(min_duration=60)
        assert slow.get_server_pid() not in {b.pid for b in long.backends}
        # a second opsconsole session (another pane) is excluded too
        other = PgSource(DatabaseTarget("t", dsn), opts())
        try:
            await other.activity()
            snap = await src.activity()
            assert other.server.own_pid not in {b.pid for b in snap.backends}
        finally:
            await other.close()
        task.cancel()
    finally:
        for c in (slow, idle, aborted):
            c.terminate()
        await src.close()


async def test_three_level_lock_chain_with_idle_root(pg_cluster, table):
    dsn = pg_cluster.dsn()
    root, w1, w2, w3, mon = [await asyncpg.connect(dsn) for _ in range(5)]
    tasks = []
    src = PgSource(DatabaseTarget("t", dsn), opts())
    try:
        await root.execute(f"begin; update {table} set v = 1 where id = 1")
        tasks.append(asyncio.create_task(w1.execute(f"update {table} set v = 2 where id = 1")))
        await waits_on_lock(mon, w1.get_server_pid())
        tasks.append(asyncio.create_task(w2.execute(f"alter table {table} add column n int")))
        await waits_on_lock(mon, w2.get_server_pid())
        tasks.append(asyncio.create_task(w3.fetch(f"select count(*) from {table}")))
        await waits_on_lock(mon, w3.get_server_pid())
        snap = await src.locks()
        mine = [n for n in snap.nodes if n.root == root.get_server_pid()]
        assert [(n.pid, n.depth) for n in mine] == [
            (root.get_server_pid(), 0), (w1.get_server_pid(), 1), (w2.get_server_pid(), 2),
            (w3.get_server_pid(), 3)]
        r, a, b, c = mine
        assert r.backend.state == "idle in transaction" and r.blocks == 3 and r.mode is None
        assert (a.mode, a.locktype) == ("ShareLock", "transactionid")
        assert (b.mode, b.relation) == ("AccessExclusiveLock", table)
        assert (c.mode, c.relation) == ("AccessShareLock", table)
        assert all(n.wait_age is not None and n.wait_age >= 0 for n in (a, b, c))
        # w2 is named blocked by root and w1 (root may be left out: w1 names it too)
        assert w1.get_server_pid() in b.blocked_by and b.n_blocked_by == 2
        assert set(b.blocked_by) <= {root.get_server_pid(), w1.get_server_pid()}
        assert r.blocks_direct == 2 and a.blocks_direct == 1 and b.blocks_direct == 1
        cells = dict(lock_rows(snap))[str(root.get_server_pid())]
        assert cells[0].strip().startswith("●") and cells[1].startswith("idle in xact")
        assert cells[2] == "3"
    finally:
        await root.execute("rollback")
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        for conn in (root, w1, w2, w3, mon):
            await conn.close()
        await src.close()
    assert not [n for n in (await PgSource(DatabaseTarget("t", dsn), opts()).locks()).nodes
                if n.root == root.get_server_pid()]


async def test_statement_deltas_reset_and_text_on_screen_only(pg_cluster):
    dsn = pg_cluster.dsn()
    load = await asyncpg.connect(dsn)
    src = PgSource(DatabaseTarget("t", dsn), opts(top_statements=5))
    marker = f"m{uuid.uuid4().hex[:6]}"
    sql = f"select {marker}.x from (select $1::int as x) {marker}"
    try:
        await load.fetch(sql, 1)
        first = await src.statements(sort="calls")
        assert first.note.startswith("first sample") and not first.has_deltas
        assert len(first.statements) <= 5
        for i in range(25):
            await load.fetch(sql, i)
        snap = await src.statements(sort="calls")
        assert snap.has_deltas and snap.note == ""
        mine = [s for s in snap.statements if s.query and marker in s.query]
        assert mine, "the loaded statement is on top by calls/s"
        assert mine[0].d_calls == 25 and mine[0].calls >= 26 and mine[0].d_rows == 25
        assert mine[0].calls_per_s and mine[0].calls_per_s > 0
        assert all(not (s.query or "").startswith("/* opsconsole */") for s in snap.statements)
        # someone else resets the statistics: no deltas this round, said plainly
        await load.execute("select pg_stat_statements_reset()")
        reset = await src.statements(sort="calls")
        assert "statistics were reset" in reset.note
        assert all(s.d_calls is None for s in reset.statements)
        await load.fetch(sql, 1)
        fresh = await src.statements(sort="calls")  # re-created after the reset: new, no delta
        assert [s.d_calls for s in fresh.statements if s.query and marker in s.query] == [None]
        for i in range(3):
            await load.fetch(sql, i)
        again = await src.statements(sort="calls")
        mine = [s for s in again.statements if s.query and marker in s.query]
        assert mine and mine[0].d_calls == 3
    finally:
        await load.close()
        await src.close()


async def test_unprivileged_role_sees_hints_and_hidden_sessions(pg_cluster, monitor_role):
    other = await asyncpg.connect(pg_cluster.dsn())
    task = asyncio.create_task(other.execute("select pg_sleep(30)"))
    src = PgSource(DatabaseTarget("m", pg_cluster.dsn("monitor", password="mon-pw")), opts())
    try:
        await eventually(lambda: pg_cluster.psql(
            "select now() - query_start > interval '0.3s' from pg_stat_activity "
            f"where pid = {other.get_server_pid()} and state = 'active'").strip() == "t",
            what="the superuser's query running")
        async def hidden():
            snap = await src.activity()
            return snap if any(b.pid == other.get_server_pid() and b.state is None
                               for b in snap.backends) else None

        snap = await eventually(hidden, what="the superuser's session, hidden")
        hints = activity_hints(snap)
        assert "session(s) of other users hidden" in hints[0]
        assert "GRANT pg_read_all_stats TO monitor;" in hints[0]
        assert any("GRANT pg_signal_backend TO monitor;" in h for h in hints)
        assert str(other.get_server_pid()) not in dict(running_rows(snap))
        stmts = await src.statements()
        assert stmts.hint == "other users' statement text is hidden: GRANT pg_read_all_stats TO monitor;"
        pg_cluster.psql("grant pg_read_all_stats to monitor")
        try:
            await src.close()  # powers are detected at connect
            snap = await src.activity()
            b = {x.pid: x for x in snap.backends}[other.get_server_pid()]
            assert b.state == "active" and "pg_sleep" in b.query
            assert not any("pg_read_all_stats" in h for h in activity_hints(snap))
            assert (await src.statements()).hint is None
        finally:
            pg_cluster.psql("revoke pg_read_all_stats from monitor")
        task.cancel()
    finally:
        other.terminate()
        await src.close()


async def test_missing_extension_says_how_to_enable(pg_cluster):
    db = f"noext_{uuid.uuid4().hex[:6]}"
    pg_cluster.psql(f"create database {db}")
    src = PgSource(DatabaseTarget("t", pg_cluster.dsn(database=db)), opts())
    try:
        snap = await src.statements()
        assert snap.statements == ()
        assert snap.hint == f"pg_stat_statements is not installed in database {db}: CREATE EXTENSION pg_stat_statements;"
    finally:
        await src.close()


async def test_cancel_and_terminate_really_end_the_target(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    sink = JournalSink(tmp_path / "journal.jsonl")
    target = await asyncpg.connect(dsn)
    ops = await connect(DatabaseTarget("t", dsn), opts(statement_timeout=Duration(6.0)))
    src = PgSource(DatabaseTarget("t", dsn), opts())
    try:
        task = asyncio.create_task(target.execute("select pg_sleep(60) /* victim */"))

        async def seen():
            snap = await src.activity()
            return next((b for b in snap.backends if b.pid == target.get_server_pid()), None)

        b = await eventually(seen, what="the victim query")
        res = await signal_backend(ops, b.pid, b.backend_start, b.query_start, "cancel",
                                   sink=sink, target="t")
        assert res.ok and res.result == "signalled"
        with pytest.raises(asyncpg.QueryCanceledError):
            await asyncio.wait_for(task, 10)
        assert await target.fetchval("select 1") == 1  # cancel keeps the session
        # terminate an idle-in-transaction session
        await target.execute("begin; select txid_current()")
        b = await eventually(seen, what="idle in transaction")
        res = await signal_backend(ops, b.pid, b.backend_start, b.query_start, "terminate",
                                   sink=sink, target="t")
        assert res.ok and res.result == "ended"
        with pytest.raises((asyncpg.exceptions.ConnectionDoesNotExistError,
                            asyncpg.exceptions.AdminShutdownError, asyncpg.InterfaceError)):
            await asyncio.wait_for(target.fetchval("select 1"), 10)
        assert not await ops.fetchval("select count(*) from pg_stat_activity where pid = $1", b.pid)
        events = sink.read()
        assert [e["type"] for e in events] == ["db.cancel", "db.terminate"]
        assert events[0]["data"]["result"] == "signalled" and events[0]["data"]["pid"] == b.pid
        assert "victim" in events[0]["data"]["query"] and events[0]["data"]["user"] == "postgres"
        assert events[1]["data"]["state"] == "idle in transaction"
        assert events[0]["actor"]["user"]
    finally:
        target.terminate()
        await ops.close()
        await src.close()


async def test_refuses_a_reused_pid_or_a_new_statement(pg_cluster):
    dsn = pg_cluster.dsn()
    sink = MemorySink()
    target = await asyncpg.connect(dsn)
    ops = await connect(DatabaseTarget("t", dsn), opts())
    try:
        row = await ops.fetchrow("select backend_start, query_start from pg_stat_activity "
                                 "where pid = $1", target.get_server_pid())
        pid = target.get_server_pid()
        stale = row["backend_start"] - timedelta(seconds=5)  # what the operator saw: another session
        res = await signal_backend(ops, pid, stale, row["query_start"], "terminate", sink=sink,
                                   target="t", redact=True)
        assert not res.ok and res.result == "refused" and "pids are reused" in res.message
        assert await target.fetchval("select 1") == 1  # still alive
        await target.execute("select 2")  # a new statement since the operator looked
        res = await signal_backend(ops, pid, row["backend_start"], row["query_start"], "terminate",
                                   sink=sink)
        assert res.result == "refused" and "another statement" in res.message
        assert await target.fetchval("select 1") == 1
        res = await signal_backend(ops, 999999, row["backend_start"], None, "cancel", sink=sink)
        assert res.result == "refused" and "no longer exists" in res.message
        before = len(sink.events)
        res = await signal_backend(ops, pid, row["backend_start"], None, "cancel", sink=sink,
                                   read_only=True)
        assert res.result == "refused" and "read-only" in res.message and len(sink.events) == before
        assert [e.data["result"] for e in sink.events] == ["refused"] * 3
        assert sink.events[0].type == "db.terminate"
    finally:
        await target.close()
        await ops.close()


async def test_explain_generic_and_plain_in_a_rolled_back_transaction(pg_cluster, table):
    src = PgSource(DatabaseTarget("t", pg_cluster.dsn()), opts())
    try:
        plan = await src.explain(f"select * from {table} where id = $1", "postgres", generic=True, role="postgres")
        assert "Index Scan" in plan or "Seq Scan" in plan
        plan = await src.explain(f"select count(*) from {table}", "postgres", generic=False, role="postgres")
        assert "Aggregate" in plan
        plan = await src.explain(f"delete from {table}", "postgres", generic=False, analyze=True, role="postgres")
        assert "actual" in plan
        assert pg_cluster.psql(f"select count(*) from {table}").strip() == "10"  # rolled back
        with pytest.raises(asyncpg.PostgresError):  # one statement only
            await src.explain(f"select 1; drop table {table}", "postgres", generic=False, role="postgres")
        assert pg_cluster.psql(f"select count(*) from {table}").strip() == "10"
    finally:
        await src.close()


async def test_never_hangs_on_a_locked_table(pg_cluster, table):
    holder = await asyncpg.connect(pg_cluster.dsn())
    src = PgSource(DatabaseTarget("t", pg_cluster.dsn()), opts())
    try:
        await holder.execute(f"begin; lock table {table} in access exclusive mode")
        with pytest.raises(asyncpg.LockNotAvailableError, match="lock timeout"):
            await src.explain(f"select * from {table}", "postgres", generic=False, role="postgres")
        # the panes' own queries never touch user tables: they still work
        snap = await src.locks()
        assert snap.server.superuser
    finally:
        await holder.close()
        await src.close()
