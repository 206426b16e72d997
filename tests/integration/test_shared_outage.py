"""The shared store while PostgreSQL is down (issue 17): a real stop (pg_ctl) of a cluster
of our own while three recording processes keep going; a forwarder killed with SIGKILL in
the middle of a forward."""

from __future__ import annotations

import os
import signal

import pytest
from sharedproc import Proc

from eventually import eventually_sync
from opsconsole.pgcluster import LocalCluster, find_bindir
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.sharedstore.store import PgStore

pytestmark = pytest.mark.pg


@pytest.fixture
def cluster():
    if find_bindir() is None:
        pytest.fail("PostgreSQL server binaries are missing: apt-get install -y postgresql")
    c = LocalCluster()
    c.init().start()
    try:
        yield c
    finally:
        c.destroy()


def _all(dsn: str, tmp_path) -> list:
    with PgStore(DatabaseTarget("shared", dsn), tmp_path / "reader", journal=False,
                 listen=False) as s:
        return s.events_after(0)


def test_postgres_stopped_while_three_hosts_record_then_everything_arrives_once_in_order(
        cluster, tmp_path):
    dsn = cluster.dsn()
    hosts = ("bastion", "db1", "app1")
    n = 200
    procs = {h: Proc("record", dsn, str(tmp_path / h), str(n), "0.05", host=h) for h in hosts}
    try:
        for h, p in procs.items():
            eventually_sync(lambda p=p: p.has(i=10), 60, what=f"{h} recording",
                            last=lambda p=p: p.lines[-3:])
        # a real stop, as an operator or a failover would
        assert cluster.stop("fast")
        for h, p in procs.items():
            # they keep recording, locally, and say so
            eventually_sync(lambda p=p: p.has(up=False), 60, what=f"{h} noticed the outage",
                            last=lambda p=p: p.lines[-3:])
        marks = {h: len(p.lines) for h, p in procs.items()}
        for h, p in procs.items():
            eventually_sync(lambda p=p, h=h: len(p.lines) >= marks[h] + 60, 90,
                            what=f"{h} recording while the store is down")
        down_recorded = {h: [d for d in p.lines if d.get("up") is False and "i" in d]
                         for h, p in procs.items()}
        assert all(len(v) >= 60 for v in down_recorded.values())
        assert all(d["seq"] is None for v in down_recorded.values() for d in v)
        cluster.start()
        for h, p in procs.items():
            done = eventually_sync(lambda p=p: p.has(done=True), 180,
                                   what=f"{h} forwarded everything",
                                   last=lambda p=p: p.lines[-3:])
            assert done["waiting"] == 0
    finally:
        errs = {h: p.stop() for h, p in procs.items()}
    evs = [e for e in _all(dsn, tmp_path) if e.type == "test.tick"]
    seqs = [e.seq for e in evs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # one order
    for h in hosts:
        mine = [e.data["i"] for e in evs if e.actor.host == h]
        assert mine == list(range(n)), (h, errs[h][-2000:])  # every one, once, in order


def test_a_forwarder_killed_mid_forward_loses_and_duplicates_nothing(cluster, tmp_path):
    dsn = cluster.dsn()
    PgStore(DatabaseTarget("shared", dsn), tmp_path / "init", journal=False).close()
    data = tmp_path / "host"
    total = 6000
    offline = PgStore(DatabaseTarget("down", "postgresql://postgres@127.0.0.1:1/x"), data,
                      op_timeout=1.0)
    for i in range(total):  # recorded while the shared store was unreachable
        offline.append("test.tick", {"i": i})
    assert offline.waiting == total
    offline.close()
    db = "postgres"

    def count() -> int:
        return int(cluster.psql("select count(*) from opsconsole_events", database=db))

    fwd = Proc("forward", dsn, str(data), "25", host="db1")
    try:
        eventually_sync(lambda: count() > 0, 60, what="the forward started",
                        interval=0.005)
        os.kill(fwd.p.pid, signal.SIGKILL)
        fwd.p.wait(30)
        at_kill = count()
    finally:
        fwd.stop()
    assert 0 < at_kill < total  # it really was killed in the middle
    again = Proc("forward", dsn, str(data), "500", host="db1")
    try:
        eventually_sync(lambda: again.has(done=True), 120, what="the second forward",
                        last=lambda: again.lines)
        assert again.has(done=True)["waiting"] == 0
    finally:
        again.stop()
    got = [e.data["i"] for e in _all(dsn, tmp_path) if e.type == "test.tick"]
    assert got == list(range(total))
