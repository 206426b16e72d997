"""Pilot tests of the PostgreSQL panes against a real server: what the operator sees and
what the keys do (cancel/terminate through the confirmation, read-only, stale + recovery)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from textual.widgets import DataTable

from opsconsole.config import AppConfig
from opsconsole.incidents.sink import MemorySink
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.schema import Duration
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.screens.pg import ConfirmSignalScreen, TextScreen
from pghelpers import waits_on_lock
from uihelpers import past_guard, wait_for

pytestmark = pytest.mark.pg


@pytest.fixture(autouse=True)
def long_guard(monkeypatch):
    """A confirmation guard no loaded machine outlasts: past_guard() ends it."""
    from opsconsole.ui import confirm

    monkeypatch.setattr(confirm, "GUARD_SECONDS", 60.0)


def make_app(dsn: str, tmp_path, read_only: bool = False, refresh: float = 0.5,
             via_option: bool = False, redact: bool = False):
    cfg = AppConfig(
        databases=[] if via_option else [DatabaseTarget("main", dsn)],
        postgres=PostgresOptions(min_duration=Duration(0.2)), redact_queries=redact)
    sink = MemorySink()
    app = OpsConsoleApp(cfg, RunOptions(read_only=read_only, refresh=refresh, data_dir=tmp_path,
                                        dsn=dsn if via_option else None),
                        Services(sink=sink))
    return app, sink


def table_rows(pane) -> list[list[str]]:
    table = pane.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def named_rows(pane) -> list[dict[str, str]]:
    """Rows as {column: text} (narrow panes drop columns: positions move)."""
    table = pane.query_one(DataTable)
    names = [str(c.key.value) for c in table.ordered_columns]
    return [dict(zip(names, r, strict=True)) for r in table_rows(pane)]


async def test_locks_pane_tree_and_terminate_root_through_confirmation(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    tbl = f"ui_{uuid.uuid4().hex[:6]}"
    pg_cluster.psql(f"create table {tbl} (id int primary key, v int); insert into {tbl} values (1, 0)")
    root, w1, w2 = [await asyncpg.connect(dsn) for _ in range(3)]
    await root.execute(f"begin; update {tbl} set v = 1 where id = 1")
    t1 = asyncio.create_task(w1.execute(f"update {tbl} set v = 2 where id = 1"))
    await waits_on_lock(root, w1.get_server_pid())
    t2 = asyncio.create_task(w2.execute(f"alter table {tbl} add column n int"))
    await waits_on_lock(root, w2.get_server_pid())
    app, sink = make_app(dsn, tmp_path)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)  # the first frame sets the initial focus
            await pilot.press("4", "z")  # zoomed: every column fits
            locks = app.pane("locks")

            def chain_shown():
                rows = table_rows(locks)
                return len(rows) >= 3 and rows[0][0].strip() == f"● {root.get_server_pid()}"

            await wait_for(pilot, chain_shown, what="the lock chain")
            rows = named_rows(locks)
            assert rows[0]["STATE"].startswith("idle in xact") and rows[0]["BLOCKS"] == "2"
            assert rows[1]["PID"].strip() == f"└ {w1.get_server_pid()}"
            assert rows[2]["PID"].strip() == f"└ {w2.get_server_pid()}"
            assert rows[2]["WAITS FOR"] == f"AccessExclusiveLock {tbl}"
            assert "1 root blocker(s) · 2 waiting" in locks.header_text().plain
            assert "LIVE" in locks.header_text().plain
            # details of the root (cursor starts on it)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), what="details")
            assert "root blocker" in str(app.screen.body) and str(root.get_server_pid()) in app.screen.body
            await pilot.press("escape")
            # c opens the confirmation on the root; cancel is disabled for an idle transaction
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen), what="modal")
            modal = app.screen
            assert modal.backend.pid == root.get_server_pid()
            assert not modal.can_cancel
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmSignalScreen), what="close")
            assert not sink.events  # nothing happened
            await pilot.press("K")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen), what="modal")
            modal = app.screen
            # the root blocks both waiters: the dialog says so, and takes its pid, typed
            text = str(modal.query_one("#pg-confirm-text").render())
            assert "ROOT BLOCKER: it blocks 2 session(s) (2 directly)" in text, text
            assert modal.typed
            await pilot.press("K", "K", "enter", "y")  # a repeat, a burst: none of it is an answer
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmSignalScreen) and not sink.events
            await past_guard(pilot, modal)
            await pilot.press(*str(root.get_server_pid() + 1), "enter")  # not its pid
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmSignalScreen) and not sink.events
            await pilot.press(*str(root.get_server_pid()), "enter")
            await wait_for(pilot, lambda: len(sink.events) == 1, what="the terminate event")
            ev = sink.events[0]
            assert ev.type == "db.terminate" and ev.data["pid"] == root.get_server_pid()
            assert ev.data["result"] == "ended" and ev.data["target"] == "main"
            assert ev.data["blocks"] == 2 and ev.data["blocks_direct"] == 2
            assert "stale" not in ev.data
            await wait_for(pilot, lambda: not table_rows(locks), what="the chain to clear")
            assert "no blocking" in locks.header_text().plain
        with pytest.raises((asyncpg.exceptions.ConnectionDoesNotExistError,
                            asyncpg.exceptions.AdminShutdownError, asyncpg.InterfaceError)):
            await root.fetchval("select 1")
        await asyncio.wait_for(asyncio.gather(t1, t2), 10)  # the waiters went through
    finally:
        for c in (root, w1, w2):
            c.terminate()


async def test_slow_pane_running_now_cancel_and_views(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    victim = await asyncpg.connect(dsn)
    task = asyncio.create_task(victim.execute("select pg_sleep(60) /* ui-victim */"))
    # no sink given: the app's default, the incident store in the data dir (no incident is
    # active, so the action is kept unattached)
    app = OpsConsoleApp(AppConfig(postgres=PostgresOptions(min_duration=Duration(0.2)),
                                  redact_queries=True),
                        RunOptions(refresh=0.5, data_dir=tmp_path, dsn=dsn))

    class StoreView:
        @property
        def events(self):
            from opsconsole.incidents.store import open_store

            if not (tmp_path / "incidents.db").exists():
                return []
            store = open_store(tmp_path, read_only=True)
            try:
                return [e.to_json() for e in store.events(None, types=("db.cancel",))]
            finally:
                store.close()

    sink = StoreView()
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)  # the first frame sets the initial focus
            await pilot.press("3", "z")  # zoomed: every column fits
            slow = app.pane("slow")
            key = str(victim.get_server_pid())
            await wait_for(pilot, lambda: any(r[0] == key for r in table_rows(slow)),
                           what="the slow query")
            row = next(r for r in named_rows(slow) if r["PID"] == key)
            assert row["STATE"] == "active" and row["WAIT"] == "Timeout:PgSleep"
            assert "pg_sleep(?)" in row["QUERY"]  # --redact-queries masks the literal
            assert slow.target_name == f"postgres@127.0.0.1:{pg_cluster.port}"
            # move the cursor to the victim and cancel it
            table = slow.query_one(DataTable)
            idx = [r[0] for r in table_rows(slow)].index(key)
            table.move_cursor(row=idx)
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen), what="modal")
            assert app.screen.can_cancel and not app.screen.typed  # blocks nobody: y confirms
            await pilot.press("c", "c")  # the action's own key never confirms
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmSignalScreen) and not sink.events
            await past_guard(pilot, app.screen)
            await pilot.press("c", "enter")
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmSignalScreen) and not sink.events
            await pilot.press("y")
            await wait_for(pilot, lambda: len(sink.events) == 1, what="the cancel event")
            ev = sink.events[0]
            assert ev["type"] == "db.cancel" and ev["data"]["result"] == "signalled"
            assert "pg_sleep(?)" in ev["data"]["query"] and "60" not in ev["data"]["query"]
            assert ev["actor"]["user"] and ev["ts"]
            with pytest.raises(asyncpg.QueryCanceledError):
                await asyncio.wait_for(task, 10)
            # v: top statements (deltas from the second sample), s sorts, v back
            await pilot.press("v")
            assert slow.view == "top"
            await wait_for(pilot, lambda: slow.polls >= 3 and table_rows(slow), what="top statements")
            assert str(slow.query_one(DataTable).columns[next(iter(slow.query_one(DataTable).columns))].label) == "CALLS/S"
            await pilot.press("s")
            assert slow.sort == "calls"
            assert "calls/s" in slow.header_text().plain
            await pilot.press("v")
            assert slow.view == "running"
    finally:
        victim.terminate()


async def test_read_only_removes_cancel_and_terminate(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    victim = await asyncpg.connect(dsn)
    task = asyncio.create_task(victim.execute("select pg_sleep(60)"))
    app, sink = make_app(dsn, tmp_path, read_only=True)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)  # the first frame sets the initial focus
            await pilot.press("3")
            slow = app.pane("slow")
            key = str(victim.get_server_pid())
            await wait_for(pilot, lambda: any(r[0] == key for r in table_rows(slow)), what="row")
            shown = {ab.binding.key for ab in app.screen.active_bindings.values()
                     if ab.enabled and ab.binding.show}
            assert "c" not in shown and "K" not in shown
            await pilot.press("c")
            await pilot.press("K")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmSignalScreen)
            slow.action_terminate()  # even called directly, it refuses
            await pilot.pause(0.1)
            assert not isinstance(app.screen, ConfirmSignalScreen)
            assert not sink.events and not task.done()
    finally:
        victim.terminate()


async def test_server_restart_goes_stale_then_recovers(pg_cluster_private, tmp_path):
    cluster = pg_cluster_private
    dsn = cluster.dsn()
    idle = await asyncpg.connect(dsn)
    await idle.execute("begin; select txid_current()")
    app, _ = make_app(dsn, tmp_path, refresh=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("3")
        slow = app.pane("slow")
        key = str(idle.get_server_pid())
        await wait_for(pilot, lambda: any(r[0] == key for r in table_rows(slow)), what="row")
        await asyncio.to_thread(cluster.stop)
        await wait_for(pilot, lambda: slow.state == "stale", what="STALE")
        header = slow.header_text().plain
        assert "STALE" in header and "reconnecting" in header and "old" in header
        assert any(r[0] == key for r in table_rows(slow))  # last good data kept
        await asyncio.to_thread(cluster.start)
        await wait_for(pilot, lambda: slow.state == "live", timeout=40, what="recovery")
        assert "LIVE" in slow.header_text().plain
        await wait_for(pilot, lambda: not any(r[0] == key for r in table_rows(slow)),
                       what="fresh data after the restart")
        assert slow.source.connects == 2
        locks = app.pane("locks")
        await wait_for(pilot, lambda: locks.state == "live", timeout=40, what="locks recovery")
    idle.terminate()


async def test_not_configured_panes_say_how(tmp_path):
    app = OpsConsoleApp(AppConfig(), RunOptions(data_dir=tmp_path), Services(sink=MemorySink()))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        for pid in ("slow", "locks"):
            pane = app.pane(pid)
            assert pane.source is None and pane.state == "off"
            text = str(pane.query_one(".pane-empty").render())
            assert "--dsn" in text and "databases:" in text


async def test_T_cycles_both_panes_through_the_configured_targets(pg_cluster, tmp_path):
    db = f"second_{uuid.uuid4().hex[:6]}"
    pg_cluster.psql(f"create database {db}")
    cfg = AppConfig(databases=[DatabaseTarget("first", pg_cluster.dsn()),
                               DatabaseTarget("second", pg_cluster.dsn(database=db))],
                    postgres=PostgresOptions(min_duration=Duration(0.2)))
    app = OpsConsoleApp(cfg, RunOptions(refresh=0.5, data_dir=tmp_path), Services(sink=MemorySink()))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("3")
        slow, locks = app.pane("slow"), app.pane("locks")
        await wait_for(pilot, lambda: slow.polls >= 1 and locks.polls >= 1, what="first polls")
        assert slow.target_name == "first" and "first" in slow.header_text().plain
        shown = {ab.binding.key for ab in app.screen.active_bindings.values() if ab.enabled}
        assert "T" in shown
        await pilot.press("T")
        await wait_for(pilot, lambda: slow.source.server is not None
                       and slow.source.server.database == db and slow.state == "live",
                       what="the second target polled")
        assert slow.target_name == locks.target_name == "second"
        await wait_for(pilot, lambda: "second" in locks.header_text().plain, what="locks follow")
        await pilot.press("T")
        await wait_for(pilot, lambda: slow.target_name == "first", what="back to the first")
