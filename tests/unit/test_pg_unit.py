"""Pure parts of the PostgreSQL panes: redaction, lock tree, deltas, hints, DSNs, rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsconsole.config import parse_config
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions, target_name
from opsconsole.postgres.conn import connect_kwargs
from opsconsole.postgres.explain import ExplainRefused, check_explainable, param_count
from opsconsole.postgres.locktree import WaitInfo, build_tree
from opsconsole.postgres.model import Backend, ServerInfo, Statement
from opsconsole.postgres.redact import redact_sql
from opsconsole.postgres.statements import sort_statements, with_deltas
from opsconsole.postgres.view import state_label
from opsconsole.schema import ConfigError

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def be(pid: int, state: str = "active", **kw) -> Backend:
    base = dict(pid=pid, user="app", database="shop", application="api", client="10.0.0.5",
                state=state, wait_event_type=None, wait_event=None, backend_start=T0,
                query_start=T0, query_age=5.0, xact_age=6.0, state_age=5.0, holds_xid=False,
                holds_xmin=False, query=f"select {pid}")
    base.update(kw)
    return Backend(**base)


def test_redact_masks_literals_but_keeps_shape():
    q = "SELECT * FROM t1 WHERE name = 'O''Brien' AND id = 42 AND x = $1 AND y = $$raw$$ AND \"c2\" = 1.5e3"
    assert redact_sql(q) == 'SELECT * FROM t1 WHERE name = ? AND id = ? AND x = $1 AND y = ? AND "c2" = ?'
    assert redact_sql("update users set token = E'abc\\'def' where id=7") == "update users set token = ? where id=?"


def test_lock_tree_three_levels_root_idle_in_transaction():
    backends = {1: be(1, "idle in transaction", state_age=840.0, holds_xid=True),
                2: be(2), 3: be(3), 4: be(4)}
    waits = {2: WaitInfo((1,), "transactionid", "ShareLock", None, 30.0),
             3: WaitInfo((1, 2), "relation", "AccessExclusiveLock", "accounts", 20.0),
             4: WaitInfo((3,), "relation", "AccessShareLock", "accounts", 10.0)}
    nodes = build_tree(backends, waits)
    assert [(n.pid, n.depth, n.parent) for n in nodes] == [(1, 0, None), (2, 1, 1), (3, 2, 2), (4, 3, 3)]
    assert nodes[0].blocks == 3 and nodes[1].blocks == 2 and nodes[3].blocks == 0
    assert nodes[2].lock_label() == "AccessExclusiveLock accounts"
    assert state_label(nodes[0].backend) == "idle in xact 14m00s ⚠vac"


def test_lock_queue_twenty_deep_is_a_chain_not_an_explosion():
    n = 20
    backends = {p: be(p) for p in range(100, 101 + n)}
    # lock queue: each waiter is blocked by the holder and every waiter ahead of it
    waits = {100 + i: WaitInfo(tuple(range(100, 100 + i)), "relation", "AccessExclusiveLock", "t",
                               float(n - i)) for i in range(1, n + 1)}
    nodes = build_tree(backends, waits)
    assert len(nodes) == n + 1
    assert [x.depth for x in nodes] == list(range(n + 1))
    assert nodes[0].pid == 100 and nodes[0].blocks == n


def test_roots_sorted_by_blocked_count_then_age_and_cycle_is_drawn():
    backends = {p: be(p, xact_age=float(p)) for p in (1, 2, 3, 4, 5, 6)}
    waits = {3: WaitInfo((1,)), 4: WaitInfo((2,)), 5: WaitInfo((2,))}
    nodes = build_tree(backends, waits)
    assert [x.pid for x in nodes if x.depth == 0] == [2, 1]
    cyc = build_tree({7: be(7), 8: be(8)}, {7: WaitInfo((8,)), 8: WaitInfo((7,))})
    assert sorted(x.pid for x in cyc) == [7, 8]


def stmt(q: int, calls: int, total: float, rows: int = 0, top: bool = True) -> Statement:
    return Statement(key=(1, 10, q, top), user="app", database="shop", calls=calls,
                     total_ms=total, rows=rows)


def test_deltas_new_evicted_reset():
    rows, s1, note = with_deltas([stmt(1, 10, 100.0), stmt(2, 5, 50.0)], None, 0.0, T0)
    assert note.startswith("first sample") and all(r.d_calls is None for r in rows)
    rows, s2, note = with_deltas([stmt(1, 30, 300.0, 40), stmt(2, 2, 10.0), stmt(3, 7, 70.0)],
                                 s1, 2.0, T0)
    by = {r.key[2]: r for r in rows}
    assert note == ""
    assert (by[1].d_calls, by[1].d_total_ms, by[1].calls_per_s, by[1].d_mean_ms) == (20, 200.0, 10.0, 10.0)
    assert by[2].d_calls is None  # evicted and re-added: counters went down
    assert by[3].d_calls is None  # new: no delta, never its lifetime total
    later = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)
    rows, _, note = with_deltas([stmt(1, 31, 301.0)], s2, 4.0, later)
    assert "reset at 12:05:00 UTC" in note and rows[0].d_calls is None
    # toplevel is part of the key
    rows, s, _ = with_deltas([stmt(1, 1, 1.0, top=False)], s2, 4.0, T0)
    assert rows[0].d_calls is None


def test_sort_statements_by_interval_then_lifetime():
    a = Statement((1, 1, 1, True), "u", "d", 100, 1000.0, 0, d_calls=1, d_total_ms=5.0, interval=1.0)
    b = Statement((1, 1, 2, True), "u", "d", 10, 10.0, 0, d_calls=9, d_total_ms=9.0, interval=1.0)
    c = Statement((1, 1, 3, True), "u", "d", 5, 5000.0, 0)
    assert [s.key[2] for s in sort_statements([a, b, c], "total")] == [2, 1, 3]
    assert [s.key[2] for s in sort_statements([a, b, c], "calls")] == [2, 1, 3]
    assert [s.key[2] for s in sort_statements([a, b, c], "mean")] == [1, 2, 3]
    assert [s.key[2] for s in sort_statements([a, b, c], "lifetime")] == [3, 1, 2]


def server(**kw) -> ServerInfo:
    base = dict(version_num=150004, version="15.4", user="monitor", database="app",
                superuser=False, read_all_stats=False, signal_backend=False,
                pgss_version=None, pgss_loaded=False)
    base.update(kw)
    return ServerInfo(**base)


def test_hints_name_the_exact_fix():
    s = server()
    hints = s.activity_hints()
    assert any("GRANT pg_read_all_stats TO monitor;" in h for h in hints)
    assert any("GRANT pg_signal_backend TO monitor;" in h for h in hints)
    assert "shared_preload_libraries = 'pg_stat_statements'" in s.statements_hint()
    assert server(pgss_loaded=True).statements_hint().endswith("CREATE EXTENSION pg_stat_statements;")
    assert server(pgss_loaded=True, pgss_version="1.10").statements_hint() is None
    assert server(superuser=True, read_all_stats=True, signal_backend=True).activity_hints() == []
    assert 'GRANT pg_read_all_stats TO "Ops-Team";' in server(user="Ops-Team").activity_hints()[0]


def test_connect_kwargs_safe_session_and_dsn_forms():
    opts = PostgresOptions()
    env = {"HOME": "/nonexistent"}
    kw = connect_kwargs(DatabaseTarget("m", "postgresql://monitor@127.0.0.1:5432/app"), opts,
                        env=env)
    assert (kw["host"], kw["port"], kw["user"], kw["database"]) == ("127.0.0.1", 5432, "monitor", "app")
    ss = kw["server_settings"]
    assert ss["application_name"] == "opsconsole"
    assert ss["statement_timeout"] == "2000" and ss["lock_timeout"] == "500"
    assert kw["timeout"] == 3.0
    kv = connect_kwargs(DatabaseTarget("m", "host=db1 port=6432 dbname=app user=monitor "
                                            "password='se cret' application_name=x"), opts,
                        application_name="opsconsole-runbook", env=env)
    assert (kv["host"], kv["port"], kv["database"], kv["user"], kv["password"]) == (
        "db1", 6432, "app", "monitor", "se cret")
    # the user's application_name wins, as over libpq's fallback_application_name
    assert kv["server_settings"]["application_name"] == "x"
    plain = connect_kwargs(DatabaseTarget("env"), opts, env=env)  # libpq defaults
    assert "host" not in plain and callable(plain["password"])  # no .pgpass: none
    with pytest.raises(ValueError, match='invalid connection option "bogus"'):
        connect_kwargs(DatabaseTarget("m", "bogus=1"), opts)


def test_target_names_never_show_credentials():
    assert target_name("postgresql://monitor:s3cret@db1:5432/app") == "app@db1:5432"
    assert target_name("host=db2 dbname=shop password=x") == "shop@db2"
    assert "s3cret" not in DatabaseTarget.from_dsn("postgresql://u:s3cret@h/d").name


def test_config_as_written_in_the_issue():
    cfg = parse_config('databases: [{name: main, dsn: "postgresql://monitor@127.0.0.1:5432/app"}]\n'
                       "postgres: {min_duration: 500ms, statement_timeout: 1s}\n")
    assert cfg.databases[0].name == "main"
    assert cfg.postgres.min_duration == 0.5
    with pytest.raises(ConfigError, match=r"<config>:1:\d+: .*postgresql://"):
        parse_config('databases: [{name: main, dsn: "mysql://x@y/z"}]\n')


def test_explain_guards():
    assert param_count("select $1, '$9', $2") == 2
    check_explainable("/* c */ SELECT 1")
    for bad in ("DROP TABLE x", "<insufficient privilege>", "select * from t where a = 'trunc…"):
        with pytest.raises(ExplainRefused):
            check_explainable(bad)


def test_redact_plan_masks_literals_in_conditions_only():
    from opsconsole.postgres.redact import redact_plan

    plan = ("Index Scan using accounts_pkey on accounts  (cost=0.29..8.30 rows=1 width=40)\n"
            "  Index Cond: (id = 7)\n  Filter: (owner = 'ACME'::text)")
    assert redact_plan(plan) == ("Index Scan using accounts_pkey on accounts  (cost=0.29..8.30 rows=1 width=40)\n"
                                 "  Index Cond: (id = ?)\n  Filter: (owner = ?::text)")
