"""Top statements on a real server: hundreds of distinct entries, exact order and deltas of
the ones we drove, a second role and a second database by name, and entries evicted by
pg_stat_statements itself (dealloc) never showing a lifetime total as a delta."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from opsconsole.pgcluster import LocalCluster
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.source import PgSource

pytestmark = pytest.mark.pg


def shape(table: str, i: int) -> str:
    """A distinct statement per i (IN lists of different lengths on a table of our own)."""
    return f"select x from {table} where x in (" + ",".join(["1"] * (i + 1)) + ")"


def shown_as(table: str, i: int) -> str:
    """The text pg_stat_statements keeps for shape(table, i): constants as $n."""
    return f"select x from {table} where x in (" + ",".join(
        f"${k}" for k in range(1, i + 2)) + ")"


async def test_top_by_calls_exact_over_hundreds_of_entries(pg_cluster):
    table = f"st_{uuid.uuid4().hex[:8]}"
    db = f"db_{uuid.uuid4().hex[:6]}"
    pg_cluster.psql(f"create table {table} (x int)")
    pg_cluster.psql(f"create database {db}")
    pg_cluster.psql("do $$ begin if not exists (select from pg_roles where rolname = 'stats_app') "
                    "then create role stats_app login password 'st-pw'; end if; end $$")
    pg_cluster.psql(f"create table {table} (x int); grant select on {table} to stats_app", db)
    load = await asyncpg.connect(pg_cluster.dsn())
    other = await asyncpg.connect(pg_cluster.dsn("stats_app", db, password="st-pw"))
    src = PgSource(DatabaseTarget("t", pg_cluster.dsn()), PostgresOptions(top_statements=10))
    try:
        for i in range(300):
            await load.execute(shape(table, i))
        await other.execute(shape(table, 3))  # known before the interval: it gets a delta
        first = await src.statements(sort="calls")
        assert first.note.startswith("first sample") and len(first.statements) == 10
        for j in range(12):  # statement j runs j + 1 times in the interval
            for _ in range(j + 1):
                await load.execute(shape(table, j))
        for _ in range(20):  # the same text by another role in another database: its own entry
            await other.execute(shape(table, 3))
        snap = await src.statements(sort="calls")
        assert snap.has_deltas and snap.note == ""
        got = [(s.d_calls, s.user, s.database, s.query) for s in snap.statements]
        want = [(20, "stats_app", db, shown_as(table, 3))] + [
            (j + 1, "postgres", "postgres", shown_as(table, j)) for j in range(11, 2, -1)]
        assert got == want
        assert all(s.calls_per_s and s.calls_per_s > 0 for s in snap.statements)
        # by lifetime total time: deltas still shown for the rows that have one
        life = await src.statements(sort="lifetime")
        assert [s.total_ms for s in life.statements] == sorted(
            (s.total_ms for s in life.statements), reverse=True)
        assert all(s.d_calls is not None for s in life.statements)
    finally:
        await src.close()
        await load.close()
        await other.close()


async def test_evicted_and_re_added_entries_never_show_a_lifetime_delta():
    # pg_stat_statements.max = 100 (its minimum): 250 distinct statements force deallocs;
    # and some entries are removed one by one and come back with small counters
    with LocalCluster(settings={"pg_stat_statements.max": "100"}) as cluster:
        cluster.psql("create extension if not exists pg_stat_statements; create table t (x int)")
        load = await asyncpg.connect(cluster.dsn())
        src = PgSource(DatabaseTarget("t", cluster.dsn()), PostgresOptions(top_statements=200))
        try:
            for i in range(60):
                for _ in range(50):  # a long history: lifetime calls 50+
                    await load.execute(shape("t", i))
            await src.statements(sort="calls")
            dealloc0 = await load.fetchval("select dealloc from pg_stat_statements_info")
            ran: dict[str, int] = {}
            for i in range(60, 310):  # newcomers: pg_stat_statements evicts to make room
                await load.execute(shape("t", i))
                ran[shown_as("t", i)] = 1
            assert await load.fetchval("select dealloc from pg_stat_statements_info") > dealloc0
            gone = {shown_as("t", i) for i in range(0, 60, 6)}
            await load.execute(  # one entry at a time: stats_reset does not move
                "select pg_stat_statements_reset(0, 0, queryid) from pg_stat_statements "
                "where query = any($1::text[])", sorted(gone))
            for i in range(0, 60, 3):  # old ones again: re-added after removal, or kept
                for _ in range(3):
                    await load.execute(shape("t", i))
                ran[shown_as("t", i)] = 3
            snap = await src.statements(sort="calls")
            assert snap.note == ""
            by_text = {s.query: s for s in snap.statements}
            for text in gone:  # back with 3 calls where 50 were: no delta, not -47 or 3
                assert by_text[text].calls == 3 and by_text[text].d_calls is None
            kept = [s for s in snap.statements if s.query in ran and s.query not in gone]
            assert any(s.d_calls == 3 for s in kept)
            for s in kept:  # exact interval calls, or no delta at all: never 50+ from history
                assert s.d_calls in (None, ran[s.query]), (s.query, s.d_calls, s.calls)
        finally:
            await src.close()
            await load.close()
