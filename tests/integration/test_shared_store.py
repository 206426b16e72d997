"""The shared PostgreSQL store (issue 17) against a real server, with separate processes
(different OPSCONSOLE_HOST) where the issue says "hosts"."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import asyncpg
import pytest
from sharedproc import Proc

from eventually import eventually_sync
from opsconsole.incidents.store import SQLiteStore
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.sharedstore.forward import insert_batch
from opsconsole.sharedstore.lease import PgLease
from opsconsole.sharedstore.outbox import Outbox
from opsconsole.sharedstore.store import PgStore


@pytest.fixture
def shared_dsn(pg_cluster) -> str:
    """A database of its own on the session cluster (the schema is created on first use)."""
    name = "shared_" + secrets.token_hex(4)
    pg_cluster.psql(f"create database {name}")
    return pg_cluster.dsn(database=name)


def _store(dsn: str, data_dir: Path, **kw) -> PgStore:
    return PgStore(DatabaseTarget("shared", dsn), data_dir, **kw)


def _cfg(tmp_path: Path, store: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(f"incidents:\n  store: {store!r}\n")
    return p


def test_an_event_from_one_host_reaches_a_listening_console_on_another(
        shared_dsn, tmp_path, run_cli):
    follower = Proc("follow", shared_dsn, host="bastion")
    try:
        eventually_sync(lambda: follower.has(started=True, up=True), 60,
                        what="the follower connected", last=lambda: follower.lines)
        cfg = _cfg(tmp_path, shared_dsn)
        r = run_cli("--config", str(cfg), "incident", "declare", "--title", "db1 disk full",
                    "--severity", "SEV2", env={"OPSCONSOLE_HOST": "db1"})
        assert r.returncode == 0, r.stderr
        seen = eventually_sync(lambda: follower.has(type="incident.declared"), 30,
                               what="the declaration on the other host",
                               last=lambda: follower.lines)
        assert seen["host"] == "db1"
        assert seen["data"]["title"] == "db1 disk full"
        assert seen["incident"] in r.stdout  # the same id on both hosts
    finally:
        follower.stop()


def test_two_hosts_declaring_at_once_get_different_ids(shared_dsn, tmp_path):
    procs = [Proc("declare", shared_dsn, str(tmp_path / h), "5", host=h)
             for h in ("app1", "app2", "app3")]
    try:
        for p in procs:
            eventually_sync(lambda p=p: p.has(ids=p.lines[-1]["ids"]) if p.lines else None,
                            60, what="the declarations", last=lambda p=p: p.stop())
        ids = [i for p in procs for i in p.lines[-1]["ids"]]
    finally:
        for p in procs:
            p.stop()
    assert len(ids) == 15 and len(set(ids)) == 15
    with _store(shared_dsn, tmp_path / "reader", journal=False) as s:
        assert sorted(s.incidents()) == sorted(ids)
        # every id is INC-<day>-<n>, the n's of one day are 1..15: none taken twice
        ns = sorted(int(i.rsplit("-", 1)[1]) for i in ids)
        assert ns == list(range(1, 16))


def test_events_are_append_only_in_the_database(shared_dsn, tmp_path, pg_cluster):
    with _store(shared_dsn, tmp_path) as s:
        s.append("test.tick", {"i": 1})
    db = shared_dsn.rsplit("/", 1)[1]
    for sql in ("update opsconsole_events set type = 'x'", "delete from opsconsole_events",
                "truncate opsconsole_events"):
        with pytest.raises(Exception, match="append-only"):
            pg_cluster.psql(sql, database=db)
    assert pg_cluster.psql("select count(*) from opsconsole_events", database=db).strip() == "1"


def test_a_disconnected_listener_catches_up_from_its_last_seq(shared_dsn, tmp_path):
    reader = _store(shared_dsn, tmp_path / "a", journal=False)
    writer = _store(shared_dsn, tmp_path / "b", listen=False)
    seen: list[int] = []
    wake = threading.Event()
    reader.subscribe(wake.set)
    last = [0]

    def follow() -> list[int]:
        if wake.is_set():
            wake.clear()
            try:
                for e in reader.events_after(last[0]):
                    last[0] = e.seq or last[0]
                    seen.append(e.data["i"])
            except OSError:
                wake.set()
        return seen

    try:
        writer.append("test.tick", {"i": 0})
        eventually_sync(lambda: follow() == [0], 30, what="the first event", last=lambda: seen)
        pid = reader._conns["l"].get_server_pid()
        with _store(shared_dsn, tmp_path / "c", journal=False, listen=False) as admin:
            admin._run("w", lambda c: c.fetchval("select pg_terminate_backend($1)", pid),
                       "dropping the listener")
        for i in range(1, 11):  # while the listener is gone: its notifications are lost
            writer.append("test.tick", {"i": i})
        eventually_sync(lambda: follow() == list(range(11)), 30,
                        what="the events appended while the listener was disconnected",
                        last=lambda: seen)
        assert reader._conns["l"].get_server_pid() != pid  # it did reconnect
    finally:
        reader.close()
        writer.close()


def test_a_forward_committed_but_not_marked_is_not_inserted_twice(shared_dsn, tmp_path):
    """The kill window: PostgreSQL has the batch, the local journal does not know yet."""
    data = tmp_path / "host"
    offline = DatabaseTarget("down", "postgresql://postgres@127.0.0.1:1/none")
    s = PgStore(offline, data, op_timeout=1.0)
    for i in range(50):
        s.append("test.tick", {"i": i})
    assert s.waiting == 50 and not s.up
    s.close()
    box = Outbox(data / "shared-outbox.db")
    rows = box.waiting(30)
    box.close()

    import asyncio

    async def half() -> None:
        conn = await asyncpg.connect(shared_dsn)  # the schema exists: a store opened it
        try:
            await insert_batch(conn, rows)  # committed; never marked locally
        finally:
            await conn.close()

    _store(shared_dsn, tmp_path / "init", journal=False).close()
    asyncio.run(half())
    with _store(shared_dsn, data) as s2:
        eventually_sync(lambda: s2.waiting == 0, 30, what="the forward")
        got = [e.data["i"] for e in s2.events_after(0)]
    assert got == list(range(50))


def test_evaluator_lease_is_one_per_shared_store(shared_dsn, tmp_path):
    now = [1000.0]
    a = _store(shared_dsn, tmp_path / "a", journal=False, listen=False)
    b = _store(shared_dsn, tmp_path / "b", journal=False, listen=False)
    try:
        la = PgLease(a, ttl=15, clock=lambda: now[0])
        lb = PgLease(b, ttl=15, clock=lambda: now[0])
        assert la.acquire() and not lb.acquire()
        assert lb.current().holder == la.holder_id
        now[0] += 10
        assert la.renew() and not lb.acquire()
        now[0] += 16  # a stopped renewing (killed): its claim runs out
        assert lb.acquire() and not la.renew()
        lb.release()
        assert lb.current() is None
    finally:
        a.close()
        b.close()


def test_presence_says_who_has_the_incident_open_from_which_host(shared_dsn, tmp_path):
    from opsconsole.events import Actor

    a = _store(shared_dsn, tmp_path / "a", listen=False)
    b = _store(shared_dsn, tmp_path / "b", listen=False, journal=False)
    try:
        iid = a.declare("api down", "SEV1").incident_id
        a.here(iid, actor=Actor("alice", None, None, "bastion"))
        here = b.here(iid, actor=Actor("bob", None, None, "db1"))
        assert sorted(p.label() for p in here) == ["alice@bastion", "bob@db1"]
        a.leave(iid)
        assert [p.label() for p in b.present(iid)] == ["bob@db1"]
        b.here(iid, ttl=-1, actor=Actor("bob", None, None, "db1"))  # expired
        assert b.present(iid) == []
    finally:
        a.close()
        b.close()


def test_store_migrate_copies_sqlite_history_once(shared_dsn, tmp_path, run_cli):
    data = tmp_path / "cli-data"
    with SQLiteStore(data / "incidents.db") as local:
        iid = local.declare("old outage", "SEV2").incident_id
        for i in range(5):
            local.append("incident.note", {"text": f"n{i}"}, incident_id=iid)
        local.append("test.unattached", {"x": 1})
    # another host already has an incident with the same id in the shared store
    other = tmp_path / "other"
    with SQLiteStore(other / "incidents.db") as o:
        o.declare("someone else's", "SEV3")
    r0 = run_cli("--data-dir", str(other), "store", "migrate", "--to", shared_dsn)
    assert r0.returncode == 0, r0.stderr
    r1 = run_cli("store", "migrate", "--to", shared_dsn)
    assert r1.returncode == 0, r1.stderr
    assert "copied 7 of 7" in r1.stdout
    assert f"{iid} is " in r1.stdout  # renamed: the other host had it
    r2 = run_cli("store", "migrate", "--to", shared_dsn)
    assert r2.returncode == 0, r2.stderr
    assert "copied 0 of 7" in r2.stdout
    with _store(shared_dsn, tmp_path / "reader", journal=False) as s:
        evs = s.events_after(0)
        assert len(evs) == 8
        new_id = [e.incident_id for e in evs if e.data.get("original_id") == iid][0]
        assert new_id != iid
        assert [e.data["text"] for e in s.events(new_id) if e.type == "incident.note"] == \
            [f"n{i}" for i in range(5)]
        assert sorted(s.incidents()) == sorted([iid, new_id])


def test_a_role_without_ddl_rights_gets_the_exact_grant(pg_cluster, tmp_path, run_cli):
    db = "noddl_" + secrets.token_hex(4)
    pw = "s3cret-" + secrets.token_hex(4)
    role = "app_" + secrets.token_hex(3)
    pg_cluster.psql(f"create database {db}")
    pg_cluster.psql(f"create role {role} login password '{pw}'")
    pg_cluster.psql("revoke create on schema public from public", database=db)
    dsn = pg_cluster.dsn(user=role, database=db, password=pw)
    cfg = _cfg(tmp_path, dsn)
    r = run_cli("--config", str(cfg), "store", "status")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    grant = f'GRANT CREATE ON SCHEMA "public" TO "{role}";'
    assert grant in r.stderr
    assert pw not in r.stderr + r.stdout  # the DSN's password is masked
    pg_cluster.psql(grant, database=db)  # exactly what it said
    r = run_cli("--config", str(cfg), "store", "status")
    assert r.returncode == 0, r.stderr
    assert "reachable: yes" in r.stdout and pw not in r.stdout
