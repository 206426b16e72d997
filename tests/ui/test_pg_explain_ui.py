"""The operator's `e` on a planted statement (real server, real roles, Pilot): refused with
the reason, `y` explains it as its author (who cannot harm the third user's session), an
ordinary statement explains, and what was done is said on screen."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from textual.widgets import DataTable

from eventually import eventually
from opsconsole.config import AppConfig
from opsconsole.incidents.sink import MemorySink
from opsconsole.postgres.config import PostgresOptions
from opsconsole.schema import Duration
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.screens.pg import ExplainScreen

pytestmark = pytest.mark.pg


async def alive(cluster, pid: int) -> bool:
    conn = await asyncpg.connect(cluster.dsn())
    try:
        return bool(await conn.fetchval("select count(*) from pg_stat_activity where pid = $1", pid))
    finally:
        await conn.close()


def keys(pane) -> list[str]:
    table = pane.query_one(DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


@pytest.mark.parametrize("read_only", [False, True])
async def test_explain_key_on_a_planted_function_never_kills_the_victim(pg_cluster, tmp_path,
                                                                        read_only):
    tag = uuid.uuid4().hex[:6]
    fn, victim_role = f"f_{tag}", f"victim_{tag}"
    pg_cluster.psql(
        "do $$ begin if not exists (select from pg_roles where rolname = 'mallory') then "
        "create role mallory login password 'mallory-pw'; end if; end $$; "
        f"create role {victim_role} login password 'victim-pw'; "
        "grant create on schema public to mallory")
    mallory = await asyncpg.connect(pg_cluster.dsn(user="mallory", password="mallory-pw"))
    victim = await asyncpg.connect(pg_cluster.dsn(user=victim_role, password="victim-pw"))
    await mallory.execute(
        f"create function public.{fn}(int) returns int language plpgsql immutable as "
        f"$f$ begin perform pg_terminate_backend(pid) from pg_stat_activity "
        f"where usename = '{victim_role}'; return $1; "
        f"exception when others then return $1; end $f$")
    bait = asyncio.create_task(mallory.execute(f"select {fn}(1), pg_sleep(30)"))
    ordinary = asyncio.create_task(victim.execute("select pg_sleep(30) /* ordinary */"))
    vpid = victim.get_server_pid()
    app = OpsConsoleApp(AppConfig(postgres=PostgresOptions(min_duration=Duration(0.2))),
                        RunOptions(refresh=0.5, data_dir=tmp_path, dsn=pg_cluster.dsn(),
                                   read_only=read_only),
                        Services(sink=MemorySink()))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("3")
            slow = app.pane("slow")
            mkey = str(mallory.get_server_pid())
            await eventually(lambda: mkey in keys(slow) and str(vpid) in keys(slow),
                             pilot=pilot, what="both sessions in the slow pane", timeout=20)
            slow.query_one(DataTable).move_cursor(row=keys(slow).index(mkey))
            await pilot.press("e")
            await eventually(lambda: isinstance(app.screen, ExplainScreen) and app.screen.result,
                             pilot=pilot, what="the EXPLAIN answer")
            shown = app.screen.result
            assert shown.startswith("EXPLAIN refused: not explained: the statement calls functions")
            assert f"public.{fn}()" in shown
            assert await alive(pg_cluster, vpid)
            if read_only:
                assert "read-only mode: it cannot be explained here" in shown
                await pilot.press("y")  # nothing happens
                await pilot.pause()
                assert app.screen.result == shown
            else:
                assert "y: explain anyway, as role mallory" in shown
                await pilot.press("y")
                await eventually(lambda: app.screen.result, pilot=pilot, what="the plan")
                assert app.screen.result.startswith(
                    "EXPLAIN ran as role mallory, read-only transaction rolled back, "
                    'search_path pg_catalog, "$user", public, pg_temp')
                assert await alive(pg_cluster, vpid) and not ordinary.done()
            await pilot.press("escape")
            # an ordinary statement explains at once, as its own user
            slow.query_one(DataTable).move_cursor(row=keys(slow).index(str(vpid)))
            await pilot.press("e")
            await eventually(lambda: isinstance(app.screen, ExplainScreen) and app.screen.result,
                             pilot=pilot, what="the plain plan")
            assert app.screen.result.startswith(f"EXPLAIN ran as role {victim_role}, read-only")
            assert "Result" in app.screen.result
            assert await alive(pg_cluster, vpid)
    finally:
        for t in (bait, ordinary):
            t.cancel()
        mallory.terminate()
        victim.terminate()
