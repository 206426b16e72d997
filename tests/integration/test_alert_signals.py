"""Signals read from real measurements: a host snapshot from psutil, real check runs (a
Nagios plugin with perfdata, a log file, a live process), and a real PostgreSQL with an idle
transaction and a lock chain."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import asyncpg
import pytest

from eventually import eventually
from opsconsole.alerts.expr import parse
from opsconsole.alerts.rules import Evaluator
from opsconsole.alerts.signals import NO_DATA, PgReadings, SignalSet
from opsconsole.checks.engine import run_check
from opsconsole.checks.spec import CommandCheck, LogErrorsCheck, ProcessCheck
from opsconsole.checks.tracker import CheckTracker
from opsconsole.config import parse_config
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.source import PgSource
from opsconsole.schema import Duration
from opsconsole.sources.host import HostCollector
from pghelpers import waits_on_lock


def read(sigs: SignalSet, text: str):
    """The value of the signal on the left of ``text`` (a condition)."""
    (ref,) = parse(text).signals()
    return sigs.read(ref)


def test_host_signals_are_the_snapshot_figures():
    col = HostCollector(process_interval=0.0)
    snap = col.collect(force_processes=True)
    sigs = SignalSet(host=snap)
    assert read(sigs, "host.cpu > 0") == snap.cpu_total
    assert read(sigs, "host.mem > 0") == snap.mem_percent
    assert read(sigs, "host.load1_per_core > 0") == snap.load[0] / snap.cores
    assert read(sigs, "host.processes > 0") == snap.process_count > 0
    assert read(sigs, "host.core[0] > 0") == snap.per_core[0]
    assert read(sigs, "host.core[4096] > 0") is NO_DATA
    assert snap.filesystems, "no real filesystem seen"
    for fs in snap.filesystems:
        ref = parse(f'host.fs["{fs.mountpoint}"].used_pct > 0').signals()[0]
        assert sigs.read(ref) == fs.percent
        assert sigs.reading(ref)[1]["mount"] == fs.mountpoint
    assert read(sigs, 'host.fs["/no/such/mount"].used_pct > 0') is NO_DATA
    # the first sample has no disk rate: no data, not 0 bytes/s
    assert snap.disk_read is None and read(sigs, "host.disk.read_bps > 0") is NO_DATA
    assert read(SignalSet(), "host.cpu > 0") is NO_DATA


async def test_check_signals_from_real_runs(tmp_path):
    plugin = CommandCheck(name="disk", command="echo 'DISK OK | /=42%;80;90 time=0.25s'",
                          shell=True)
    log = tmp_path / "app.log"
    log.write_text("")
    logs = LogErrorsCheck(name="app", path=str(log), pattern="ERROR")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                                f"alert-signal-{uuid.uuid4().hex[:6]}"])
    procs = ProcessCheck(name="py", pattern=sleeper.args[-1], match="cmdline")
    tracker = CheckTracker([plugin, logs, procs])
    try:
        for spec in (plugin, logs, procs):
            tracker.update(await run_check(spec))
        with log.open("a") as fh:
            fh.write("ok\nERROR one\nERROR two\nfine\nERROR three\n")
        tracker.update(await run_check(logs))
        sigs = SignalSet(checks={s.name: s for s in tracker.statuses()})
        assert read(sigs, "check.disk.state == OK") == "OK"
        assert read(sigs, 'check.disk.perf["/"] > 0') == 42.0
        assert read(sigs, 'check.disk.perf["time"] > 0') == 0.25
        assert read(sigs, 'check.disk.perf["nope"] > 0') is NO_DATA
        assert read(sigs, "check.disk.latency > 0") > 0
        assert read(sigs, "check.disk.failures > 0") == 0.0
        assert read(sigs, "log_errors.app.count > 0") == 3.0
        assert read(sigs, "log_errors.disk.count > 0") is NO_DATA  # not a log_errors check
        assert read(sigs, "process.py.count > 0") == 1.0
        assert read(sigs, "process.py.cpu > 0") is NO_DATA  # first sample: unknown, not 0 %
        assert read(sigs, "process.py.mem > 0") >= 0.0
        assert read(sigs, "check.missing.state == OK") is NO_DATA
        tracker.update(await run_check(procs))
        sigs = SignalSet(checks={s.name: s for s in tracker.statuses()})
        assert read(sigs, "process.py.cpu > 0") >= 0.0
        assert sigs.reading(parse("process.py.cpu > 0").signals()[0])[1]["pid"] == str(
            sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait(10)


async def test_a_failing_plugin_counts_consecutive_failures(tmp_path):
    bad = CommandCheck(name="bad", command="echo 'DOWN'; exit 2", shell=True,
                       failures_before_critical=3)
    tracker = CheckTracker([bad])
    ev = Evaluator(parse_config("alerts:\n  - {name: b, expr: check.bad.failures >= 2}\n").alerts)
    events = []
    for i in range(3):
        tracker.update(await run_check(bad))
        sigs = SignalSet(checks={s.name: s for s in tracker.statuses()})
        events += [(i, t.event) for t in ev.evaluate(sigs, 1000.0 + i)]
    assert read(sigs, "check.bad.failures > 0") == 3.0
    assert read(sigs, "check.bad.state == OK") == "CRITICAL"
    assert events == [(1, "firing")]


@pytest.mark.pg
async def test_pg_signals_from_a_real_idle_transaction_and_lock_chain(pg_cluster):
    dsn = pg_cluster.dsn()
    table = f"t_{uuid.uuid4().hex[:8]}"
    pg_cluster.psql(f"create table {table} (id int primary key, v int); "
                    f"insert into {table} values (1, 0)")
    src = PgSource(DatabaseTarget("main", dsn), PostgresOptions(min_duration=Duration(0.0)))
    idle = await asyncpg.connect(dsn)
    waiter = await asyncpg.connect(dsn)
    mon = await asyncpg.connect(dsn)
    task = None
    rules = parse_config("""
alerts:
  - name: idle-xact
    expr: pg.main.idle_in_xact_age > 1s
    summary: "pid {pid} idle in transaction for {value}"
    runbook: kill-idle
    params: {pid: "{pid}"}
  - name: blocked
    expr: pg.main.blocked > 0
    runbook: lock-contention
    params: {pid: "{pid}"}
  - {name: pool, expr: pg.main.connections_used_pct > 80}
""").alerts
    ev = Evaluator(rules)
    try:
        await idle.execute(f"begin; update {table} set v = 1 where id = 1")
        task = asyncio.create_task(waiter.execute(f"update {table} set v = 2 where id = 1"))
        await waits_on_lock(mon, waiter.get_server_pid())
        pid = idle.get_server_pid()

        async def readings():
            return PgReadings(activity=await src.activity(), locks=await src.locks())

        async def idle_long_enough():
            r = await readings()
            return r if read(SignalSet(pg={"main": r}), "pg.main.idle_in_xact_age > 0") > 1.0 \
                else None

        r = await eventually(idle_long_enough, 15, what="the transaction idle for over 1 s")
        sigs = SignalSet(pg={"main": r})
        assert read(sigs, "pg.main.blocked > 0") == 1.0
        assert read(sigs, "pg.main.root_blocker > 0") == float(pid)
        assert read(sigs, "pg.main.oldest_xact_age > 0") >= read(sigs,
                                                                 "pg.main.idle_in_xact_age > 0")
        assert read(sigs, "pg.main.longest_query > 0") > 0  # the waiter's update
        assert read(sigs, "pg.main.connections_used_pct > 0") is NO_DATA  # not collected yet
        assert read(sigs, "pg.main.replication_lag > 0") is NO_DATA
        out = {t.rule: t for t in ev.evaluate(sigs, 1000.0)}
        assert out["idle-xact"].event == "firing" and out["idle-xact"].params == {"pid": str(pid)}
        assert out["idle-xact"].summary.startswith(f"pid {pid} idle in transaction for ")
        assert out["blocked"].event == "firing" and out["blocked"].params == {"pid": str(pid)}
        assert out["pool"].to_state == "nodata"
    finally:
        await idle.execute("rollback")
        if task is not None:
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
        for c in (idle, waiter, mon):
            await c.close()
        await src.close()
    after = PgReadings(activity=await src.activity(), locks=await src.locks())
    await src.close()
    sigs = SignalSet(pg={"main": after})
    assert read(sigs, "pg.main.blocked > 0") == 0.0
    assert [t.event for t in ev.evaluate(sigs, 1010.0) if t.rule != "pool"] == [
        "resolved", "resolved"]


@pytest.mark.pg
async def test_pg_pool_seed_rule_on_a_real_connection_flood():
    from alertseeds import EXAMPLE
    from opsconsole.alerts.pgstats import read_pg_stats
    from opsconsole.pgcluster import LocalCluster

    cluster = LocalCluster(max_connections=20)
    cluster.init().start()
    flood: list = []
    src = PgSource(DatabaseTarget("main", cluster.dsn()), PostgresOptions())
    ev = Evaluator([r for r in parse_config(EXAMPLE).alerts if r.name == "pg-pool"])
    try:
        async def tick(now: float):
            sigs = SignalSet(pg={"main": PgReadings(stats=await read_pg_stats(src))})
            return sigs, [t.event for t in ev.evaluate(sigs, now)]

        sigs, events = await tick(1000.0)
        assert events == [] and read(sigs, "pg.main.max_connections > 0") == 20.0
        assert read(sigs, "pg.main.connections > 0") >= 1.0  # the monitoring connection
        assert 0 < read(sigs, "pg.main.cache_hit_ratio > 0") <= 100
        assert read(sigs, "pg.main.wraparound_age > 0") > 0
        assert read(sigs, "pg.main.replication_lag > 0") is NO_DATA  # no replica
        flood = [await asyncpg.connect(cluster.dsn()) for _ in range(16)]  # 17 of 20: 85 %
        sigs, events = await tick(1010.0)
        assert read(sigs, "pg.main.connections_used_pct > 0") == 85.0
        assert events == ["pending"]
        assert (await tick(1129.0))[1] == []  # 1 s short of for: 2m
        assert (await tick(1130.0))[1] == ["firing"]
        for c in flood:
            await c.close()
        flood = []

        async def resolved():
            return "resolved" in (await tick(1140.0))[1]

        await eventually(resolved, 10, what="pg-pool resolved once the flood closed")
    finally:
        for c in flood:
            await c.close()
        await src.close()
        cluster.destroy()
