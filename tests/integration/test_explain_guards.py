"""EXPLAIN of another user's statement must not lend it opsconsole's powers: the attacker
is a real role with a real IMMUTABLE function that terminates a third user's session when
it is planned by a role that may."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from eventually import eventually
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.explain import (
    ExplainNeedsConfirmation,
    ExplainRefused,
    called_names,
    explain_text,
)

pytestmark = pytest.mark.pg


class Attack:
    """Roles mallory (the author) and a victim user, mallory's planting function, and a
    victim session to kill."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        tag = uuid.uuid4().hex[:6]
        self.fn = f"f_{tag}"
        self.victim_role = f"victim_{tag}"
        cluster.psql(
            "do $$ begin if not exists (select from pg_roles where rolname = 'mallory') then "
            "create role mallory login password 'mallory-pw'; end if; end $$; "
            f"create role {self.victim_role} login password 'victim-pw'; "
            "grant create on schema public to mallory")
        # mallory plants it: as mallory the kill fails quietly, as a powerful role it works
        mallory_sql = (
            f"create function public.{self.fn}(int) returns int language plpgsql immutable as "
            f"$f$ begin perform pg_terminate_backend(pid) from pg_stat_activity "
            f"where usename = '{self.victim_role}'; return $1; "
            f"exception when others then return $1; end $f$")
        self.mallory_sql = mallory_sql
        self.query = f"select {self.fn}(1), pg_sleep(30)"

    def dsn(self, user: str, pw: str) -> str:
        return self.cluster.dsn(user=user, password=pw)

    async def plant(self) -> None:
        conn = await asyncpg.connect(self.dsn("mallory", "mallory-pw"))
        try:
            await conn.execute(self.mallory_sql)
        finally:
            await conn.close()

    async def victim(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn(self.victim_role, "victim-pw"))


async def _gone(cluster, pid: int) -> bool:
    return not await alive(cluster, pid)


async def alive(cluster, pid: int) -> bool:
    conn = await asyncpg.connect(cluster.dsn())
    try:
        return bool(await conn.fetchval("select count(*) from pg_stat_activity where pid = $1", pid))
    finally:
        await conn.close()


def opts() -> PostgresOptions:
    return PostgresOptions()


async def test_the_planted_function_is_refused_then_runs_only_as_its_author(pg_cluster):
    attack = Attack(pg_cluster)
    await attack.plant()
    victim = await attack.victim()
    target = DatabaseTarget("main", pg_cluster.dsn())  # the monitor is a superuser here
    try:
        pid = victim.get_server_pid()
        with pytest.raises(ExplainNeedsConfirmation) as info:
            await explain_text(target, opts(), attack.query, "postgres", False, role="mallory")
        assert f"public.{attack.fn}()" in str(info.value)
        assert await alive(pg_cluster, pid) and await victim.fetchval("select 1") == 1
        # confirmed: it runs, as mallory, read-only; mallory cannot kill the victim
        plan = await explain_text(target, opts(), attack.query, "postgres", False,
                                  role="mallory", confirmed=True)
        first = plan.splitlines()[0]
        assert first.startswith("EXPLAIN ran as role mallory, read-only transaction rolled back")
        assert 'search_path pg_catalog, "$user", public, pg_temp' in first
        assert "Result" in plan
        assert await alive(pg_cluster, pid) and await victim.fetchval("select 1") == 1
        # an ordinary statement of the victim explains without asking
        plan = await explain_text(target, opts(), "select count(*) from pg_class", "postgres",
                                  False, role=attack.victim_role)
        assert plan.startswith(f"EXPLAIN ran as role {attack.victim_role}, read-only")
        assert "Aggregate" in plan
        # the attack is real: planned by the superuser without the guards, it kills
        su = await asyncpg.connect(pg_cluster.dsn())
        try:
            await su.fetch(f"explain select public.{attack.fn}(1)")
        finally:
            await su.close()
        await eventually(lambda: _gone(pg_cluster, pid), what="the victim killed by the bare EXPLAIN")
    finally:
        victim.terminate()


async def test_a_monitor_that_cannot_become_the_author_and_has_powers_is_refused(pg_cluster):
    attack = Attack(pg_cluster)
    await attack.plant()
    tag = uuid.uuid4().hex[:6]
    pg_cluster.psql(f"create role mon_sig_{tag} login password 'pw'; "
                    f"grant pg_signal_backend to mon_sig_{tag}; "
                    f"create role mon_plain_{tag} login password 'pw'")
    victim = await attack.victim()
    try:
        strong = DatabaseTarget("s", pg_cluster.dsn(user=f"mon_sig_{tag}", password="pw"))
        with pytest.raises(ExplainRefused, match=f"GRANT mallory TO mon_sig_{tag}"):
            await explain_text(strong, opts(), attack.query, "postgres", False, role="mallory",
                               confirmed=True)
        assert await alive(pg_cluster, victim.get_server_pid())
        # a monitor with nothing to lend explains as itself
        plain = DatabaseTarget("p", pg_cluster.dsn(user=f"mon_plain_{tag}", password="pw"))
        plan = await explain_text(plain, opts(), "select 1", "postgres", False, role="mallory")
        assert plan.startswith(f"EXPLAIN ran as role mon_plain_{tag}, read-only")
    finally:
        victim.terminate()


async def test_text_that_cannot_be_analysed_is_refused_and_names_are_found(pg_cluster):
    assert called_names("select a.f(1), \"G\"(2), 'h(3)', $$ i(4) $$ -- j(5)\n from t") == ["G", "f"]
    target = DatabaseTarget("main", pg_cluster.dsn())
    with pytest.raises(ExplainRefused, match="cannot be analysed"):
        await explain_text(target, opts(), "select 'unterminated", "postgres", False)
