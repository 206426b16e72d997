"""Dangerous keys cannot be given by accident (issue 11): ``K K`` (a double tap, a key
repeat, a burst over a laggy link) never terminates; the confirmation takes ``y`` — or the
pid, typed, for a root blocker — and only after a guard; the cursor stays where it was;
the dialog says when its data is STALE. Real PostgreSQL, real sessions."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from test_pg_ui import make_app, named_rows, table_rows
from textual.widgets import DataTable

from opsconsole.ui import confirm
from opsconsole.ui.confirm import ConfirmSignalScreen, ConfirmStepScreen, GuardedScreen
from uihelpers import past_guard, wait_for

pytestmark = pytest.mark.pg


@pytest.fixture(autouse=True)
def long_guard(monkeypatch):
    monkeypatch.setattr(confirm, "GUARD_SECONDS", 60.0)


def dialog_text(app) -> str:
    screen = app.screen
    return "\n".join(str(w.render()) for w in screen.query("Static"))


async def sessions(dsn: str, n: int) -> list[asyncpg.Connection]:
    out = []
    for i in range(n):
        out.append(await asyncpg.connect(dsn, server_settings={"application_name": f"victim-{i}"}))
    return out


async def test_k_k_never_terminates_y_after_the_guard_does_and_the_cursor_stays(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    victims = await sessions(dsn, 3)
    tasks = [asyncio.create_task(v.execute(f"select pg_sleep(60) /* guard-{i} */"))
             for i, v in enumerate(victims)]
    app, sink = make_app(dsn, tmp_path)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("3", "z")
            slow = app.pane("slow")
            pids = [str(v.get_server_pid()) for v in victims]
            await wait_for(pilot, lambda: set(pids) <= {r[0] for r in table_rows(slow)},
                           what="the three sleeping sessions")
            table = slow.query_one(DataTable)
            keys = [r[0] for r in table_rows(slow)]
            target = pids[1]
            table.move_cursor(row=keys.index(target))
            # a double tap, a key repeat, a burst with enter and y in it: nothing happens
            await pilot.press("K", "K", "K", "K", "enter", "y", "c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen), what="modal")
            modal = app.screen
            assert modal.backend.pid == int(target) and modal.mode == "terminate"
            assert not modal.typed  # it blocks nobody: y is enough, after the guard
            text = dialog_text(app)
            assert "ROOT BLOCKER" not in text and "victim-1" in text
            assert "y: terminate the session" in text and "STALE" not in text
            await pilot.pause(0.2)
            assert isinstance(app.screen, ConfirmSignalScreen) and not sink.events
            assert not tasks[1].done()
            # after the guard: the action's own key is still no answer; y is
            await past_guard(pilot, modal)
            await pilot.press("K", "enter")
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmSignalScreen) and not sink.events
            await pilot.press("y")
            await wait_for(pilot, lambda: len(sink.events) == 1, what="the terminate event")
            ev = sink.events[0]
            assert ev.type == "db.terminate" and ev.data["pid"] == int(target)
            assert ev.data["result"] == "ended" and ev.data["application"] == "victim-1"
            assert ev.data["blocks"] == 0 and "stale" not in ev.data
            await wait_for(pilot, lambda: target not in {r[0] for r in table_rows(slow)},
                           what="the terminated session to go")
            # only that session ended; the others still run
            assert not tasks[0].done() and not tasks[2].done()
            # escape from a confirmation leaves the cursor on the row it was on
            keys = [r[0] for r in table_rows(slow)]
            table.move_cursor(row=keys.index(pids[2]))
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen), what="modal")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmSignalScreen))
            assert slow.selected_key() == pids[2]
            assert len(sink.events) == 1
    finally:
        for v in victims:
            v.terminate()
        for t in tasks:
            t.cancel()


async def test_the_dialog_says_stale_and_the_event_records_it(pg_cluster_private, tmp_path):
    dsn = pg_cluster_private.dsn()
    victim = await asyncpg.connect(dsn, server_settings={"application_name": "billing"})
    task = asyncio.create_task(victim.execute("select pg_sleep(60) /* stale-victim */"))
    app, sink = make_app(dsn, tmp_path, refresh=0.3)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("3", "z")
            slow = app.pane("slow")
            pid = str(victim.get_server_pid())
            await wait_for(pilot, lambda: any(r[0] == pid for r in table_rows(slow)), what="row")
            row = next(r for r in named_rows(slow) if r["PID"] == pid)
            assert row["STATE"] == "active"
            victim.terminate()
            task.cancel()
            await asyncio.to_thread(pg_cluster_private.stop, "immediate", 30)
            await wait_for(pilot, lambda: slow.state == "stale", timeout=30, what="the pane stale")
            slow.query_one(DataTable).move_cursor(row=[r[0] for r in table_rows(slow)].index(pid))
            await pilot.press("K")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen), what="modal")
            text = dialog_text(app)
            assert "STALE: the data shown is" in text and "old" in text, text
            assert "re-checks it before acting" in text
    finally:
        victim.terminate()
        task.cancel()


async def test_a_guarded_screen_ignores_even_its_answer_during_the_guard(pg_cluster, tmp_path):
    """Unit-level, with a real app: y within the guard does nothing, escape always works."""
    from opsconsole.postgres.model import Backend

    app, _ = make_app(pg_cluster.dsn(), tmp_path)
    results: list[object] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        b = Backend(pid=4242, user="app", database="shop", application="billing", client=None,
                    state="active", wait_event_type=None, wait_event=None, backend_start=None,
                    query_start=None, query_age=1.0, xact_age=2.0, state_age=1.0,
                    holds_xid=True, holds_xmin=True, query="update orders set x = 1")
        app.push_screen(ConfirmSignalScreen(b, "terminate", "main", blocks=7, blocks_direct=3,
                                            stale="the data shown is 42s old (refused)"),
                        results.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen))
        modal = app.screen
        text = dialog_text(app)
        assert "ROOT BLOCKER: it blocks 7 session(s) (3 directly) · application billing" in text
        assert "STALE: the data shown is 42s old (refused)" in text
        assert "type the pid 4242 and press enter" in text
        await pilot.press(*"4242", "enter")  # typed before the dialog could be read
        await pilot.pause(0.1)
        assert app.screen is modal and not results
        await past_guard(pilot, modal)
        await pilot.press(*"4242", "enter")
        await wait_for(pilot, lambda: results == ["terminate"])
        app.push_screen(ConfirmStepScreen("Drop the cache", "drop", "redis-cli flushall"),
                        results.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmStepScreen))
        await pilot.press(*"drop", "enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, GuardedScreen) and results == ["terminate"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: results == ["terminate", None])
