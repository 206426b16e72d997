"""Where the areas meet, in the console (Pilot): runbook parameters pre-filled from the
PostgreSQL panes, and the help screen of whatever screen the operator is on."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from test_pg_ui import table_rows
from textual.widgets import DataTable, Input

from opsconsole.config import AppConfig
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.schema import Duration
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from opsconsole.ui.screens.runbook_walkthrough import RunbookParamsScreen
from pghelpers import waits_on_lock
from uihelpers import make_app, past_guard, wait_for


async def pick(pilot, query: str, runbook_id: str) -> RunbookParamsScreen:
    app = pilot.app
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
    await pilot.press(*query)
    await wait_for(pilot, lambda: app.screen.shown and app.screen.shown[0].runbook.id == runbook_id)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen))
    return app.screen


@pytest.mark.pg
async def test_lock_runbook_is_prefilled_with_the_root_blocker(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    tbl = f"seam_{uuid.uuid4().hex[:6]}"
    pg_cluster.psql(f"create table {tbl} (id int primary key, v int); insert into {tbl} values (1, 0)")
    root, waiter = [await asyncpg.connect(dsn) for _ in range(2)]
    await root.execute(f"begin; update {tbl} set v = 1 where id = 1")
    wait = asyncio.create_task(waiter.execute(f"update {tbl} set v = 2 where id = 1"))
    await waits_on_lock(root, waiter.get_server_pid())
    cfg = AppConfig(databases=[DatabaseTarget("orders-primary", dsn)],
                    postgres=PostgresOptions(min_duration=Duration(0.2)))
    app = make_app(cfg, refresh=0.5, data_dir=tmp_path / "data")
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("4")
            locks = app.pane("locks")
            await wait_for(pilot, lambda: len(table_rows(locks)) >= 2, timeout=15)
            # the cursor on the WAITER: the runbook still gets the root blocker
            table = locks.query_one(DataTable)
            idx = [r[0].strip() for r in table_rows(locks)].index(f"└ {waiter.get_server_pid()}")
            table.move_cursor(row=idx)
            await pilot.pause()
            assert locks.runbook_context() == {"pid": str(root.get_server_pid()),
                                               "database": "orders-primary"}
            params = await pick(pilot, "lock contention", "pg-lock-contention")
            assert params.query_one("#param-pid", Input).value == str(root.get_server_pid())
            assert params.query_one("#param-database", Input).value == "orders-primary"
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, RunbookParamsScreen))
    finally:
        root.terminate()
        waiter.terminate()
        wait.cancel()


@pytest.mark.pg
async def test_slow_query_runbook_is_prefilled_with_the_selected_backend(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    victim = await asyncpg.connect(dsn)
    task = asyncio.create_task(victim.execute("select pg_sleep(60) /* seam-victim */"))
    cfg = AppConfig(databases=[DatabaseTarget("orders-primary", dsn)],
                    postgres=PostgresOptions(min_duration=Duration(0.2)))
    app = make_app(cfg, refresh=0.5, data_dir=tmp_path / "data")
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("3")
            slow = app.pane("slow")
            key = str(victim.get_server_pid())
            await wait_for(pilot, lambda: any(r[0] == key for r in table_rows(slow)), timeout=15)
            table = slow.query_one(DataTable)
            table.move_cursor(row=[r[0] for r in table_rows(slow)].index(key))
            await pilot.pause()
            params = await pick(pilot, "slow queries", "pg-slow-queries")
            assert params.query_one("#param-pid", Input).value == key
            assert params.query_one("#param-database", Input).value == "orders-primary"
    finally:
        victim.terminate()
        task.cancel()


async def test_question_mark_lists_the_keys_of_the_screen_the_operator_is_on(tmp_path):
    from hostdata import FixedCollector
    from opsconsole.incidents.store import SQLiteStore
    from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
    from opsconsole.ui.modals import DeclareModal, TextModal
    from opsconsole.ui.screens.help import HelpScreen
    from opsconsole.ui.screens.incident import IncidentScreen
    from opsconsole.ui.screens.pg import TextScreen

    store = SQLiteStore(tmp_path / "incidents.db")
    app = OpsConsoleApp(options=RunOptions(data_dir=tmp_path, refresh=3600),
                        services=Services(host_collector=FixedCollector(), incident_store=store))

    def help_text() -> str:
        return str(app.screen.query_one("#help-text").render())

    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.screen.id == "main")
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, DeclareModal))
            await pilot.press(*"help test", "tab", "2", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen))
            incident_screen = app.screen
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            text = help_text()
            assert "Incident screen" in text
            for words in ["Add a note to this incident", "Change the status", "Change the severity",
                          "Set or backdate a milestone", "Assign or hand over a role",
                          "Write the postmortem draft", "Back to the console"]:
                assert words in text, words
            assert "Global" in text and "Show every key of this screen" in text
            assert "Zoom the focused pane" not in text  # main-screen keys do not work here
            assert text.index("Incident screen") < text.index("Global")
            await pilot.press("question_mark")  # ? again closes it
            await wait_for(pilot, lambda: app.screen is incident_screen)
            # typing: `?` is a character in a text field, not help
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, TextModal))
            await pilot.press(*"why?")
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen)
            assert "why?" in [i.value for i in app.screen.query("Input")]
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is incident_screen)
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen.id == "main")
            # a PostgreSQL modal: `?` reaches it too and lists its keys
            app.push_screen(TextScreen("pid 42", "details"))
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert "Close without doing anything" in help_text()
            assert "Declare an incident" not in help_text()
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
    finally:
        store.close()


async def test_help_on_a_modal_shows_a_remapped_help_key(tmp_path):
    from opsconsole.config import parse_config
    from opsconsole.ui.screens.help import HelpScreen
    from opsconsole.ui.screens.pg import TextScreen

    app = make_app(parse_config('keys:\n  help: "f1"\n'), data_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.push_screen(TextScreen("pid 42", "details"))
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
        await pilot.press("question_mark")  # remapped away: nothing
        await pilot.pause()
        assert isinstance(app.screen, TextScreen)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = app.screen.rows
        assert rows[0].section == "Text screen" and rows[0].description == "Close without doing anything"
        assert [r.key for r in rows if r.description.startswith("Show every key")] == ["f1"]
        await pilot.press("f1")  # the same key closes it
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))


@pytest.mark.pg
async def test_runbook_sql_steps_reach_the_server_given_with_dsn(pg_cluster, tmp_path):
    """`opsconsole --dsn URL` (no databases: in the config): the PostgreSQL panes watch it,
    the runbook is pre-filled with its name, and the runbook's sql step reaches it."""
    from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
    from opsconsole.ui.screens.runbook_walkthrough import RunbookScreen

    app = OpsConsoleApp(AppConfig(), RunOptions(refresh=0.5, data_dir=tmp_path, dsn=pg_cluster.dsn()),
                        Services(sink=None))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        locks = app.pane("locks")
        await wait_for(pilot, lambda: locks.polls >= 1, timeout=15)
        name = locks.target_name
        params = await pick(pilot, "slow queries", "pg-slow-queries")
        assert params.query_one("#param-database", Input).value == name
        params.query_one("#param-pid", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        walk = app.screen
        await pilot.press("enter")
        await wait_for(pilot, lambda: walk.session.states[0] in ("ok", "failed"), timeout=15)
        outcome = walk.session.outcomes[0]
        assert walk.session.states[0] == "ok", outcome.message


async def test_n_on_the_runbook_walkthrough_writes_on_the_active_incident(tmp_path):
    """Shipped runbooks say "write it on the timeline with n": n works on the walkthrough."""
    from hostdata import FixedCollector
    from opsconsole.config import parse_config
    from opsconsole.incidents.store import SQLiteStore
    from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
    from opsconsole.ui.modals import DeclareModal, TextModal
    from opsconsole.ui.screens.incident import IncidentScreen
    from opsconsole.ui.screens.runbook_walkthrough import RunbookScreen

    rb = tmp_path / "rb"
    rb.mkdir()
    (rb / "why.yaml").write_text("id: why\ntitle: Find out why\nsteps:\n  - title: Who held it?\n"
                                 "    kind: manual\n    text: Write it on the timeline with n.\n")
    store = SQLiteStore(tmp_path / "incidents.db")
    app = OpsConsoleApp(parse_config(f"runbook_dirs: [{rb}]\n"),
                        RunOptions(data_dir=tmp_path, refresh=3600),
                        Services(host_collector=FixedCollector(), incident_store=store))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.screen.id == "main")
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, DeclareModal))
            await pilot.press(*"locks", "tab", "3", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen))
            iid = app.screen.incident_id
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen.id == "main")
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
            await pilot.press(*"find out why")
            await wait_for(pilot, lambda: app.screen.shown[0].runbook and app.screen.shown[0].runbook.id == "why")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
            assert f"▲ recorded on {iid}" in app.screen.title_text().plain
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, TextModal))
            await pilot.press(*"batch job held the lock", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
            await wait_for(pilot, lambda: any(e.type == "incident.note" for e in store.events(iid)))
            note = next(e for e in store.events(iid) if e.type == "incident.note")
            assert note.data["text"] == "batch job held the lock"
    finally:
        store.close()


async def test_recording_a_runbook_step_never_blocks_the_console(tmp_path):
    """The store is a SQLite file other processes write too (`opsconsole incident note`…).
    While another writer holds its lock, a runbook step's events wait in a thread: the console
    keeps answering keys, and the events land in the store once the lock is released."""
    import sqlite3

    from hostdata import FixedCollector
    from opsconsole.config import parse_config
    from opsconsole.incidents.store import SQLiteStore
    from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
    from opsconsole.ui.screens.runbook_walkthrough import RunbookScreen

    rb = tmp_path / "rb"
    rb.mkdir()
    (rb / "two.yaml").write_text("id: two\ntitle: Two quick steps\nsteps:\n"
                                 "  - title: one\n    kind: shell\n    run: echo one\n"
                                 "  - title: two\n    kind: shell\n    run: echo two\n")
    data = tmp_path / "data"
    data.mkdir()
    store = SQLiteStore(data / "incidents.db")
    app = OpsConsoleApp(parse_config(f"runbook_dirs: [{rb}]\n"), RunOptions(data_dir=data, refresh=3600),
                        Services(host_collector=FixedCollector(), incident_store=store))
    other = sqlite3.connect(data / "incidents.db", isolation_level=None, timeout=1)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.screen.id == "main")
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
            await pilot.press(*"two quick")
            await wait_for(pilot, lambda: app.screen.shown[0].runbook and app.screen.shown[0].runbook.id == "two")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
            walk = app.screen
            other.execute("BEGIN IMMEDIATE")  # another writer holds the store's write lock
            await pilot.press("enter")  # run step 1: its step_started waits for the lock
            await wait_for(pilot, lambda: walk.session.states[0] == "running")
            await pilot.press("down")  # the console still answers
            await wait_for(pilot, lambda: walk.current == 1, timeout=3)
            assert walk.session.states[0] == "running"  # (still waiting to record)
            other.execute("ROLLBACK")
            await wait_for(pilot, lambda: walk.session.states[0] == "ok")
            # (the console's alert evaluator records its own events too: only the steps')
            def steps() -> list[str]:
                return [e.type for e in store.events_after(0) if e.type.startswith("runbook.")]

            types = steps()
            assert types == ["runbook.step_started", "runbook.step_finished"], types
            # s (skip) while the lock is held again: the console still answers
            other.execute("BEGIN IMMEDIATE")
            await pilot.press("s")
            await wait_for(pilot, lambda: walk.session.states[1] == "skipped")
            await pilot.press("b")
            await wait_for(pilot, lambda: walk.current == 0, timeout=3)
            other.execute("ROLLBACK")
            await wait_for(pilot, lambda: len(steps()) == 3)
            assert steps()[-1] == "runbook.step_skipped"
            assert not (data / "journal.jsonl").exists()  # nothing had to fall back
    finally:
        other.close()
        store.close()


@pytest.mark.pg
async def test_recording_a_cancel_never_blocks_the_console(pg_cluster, tmp_path):
    import sqlite3

    from opsconsole.incidents.store import SQLiteStore
    from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
    from opsconsole.ui.screens.pg import ConfirmSignalScreen

    dsn = pg_cluster.dsn()
    victim = await asyncpg.connect(dsn)
    task = asyncio.create_task(victim.execute("select pg_sleep(60) /* seam-lock-victim */"))
    data = tmp_path / "data"
    data.mkdir()
    store = SQLiteStore(data / "incidents.db")
    cfg = AppConfig(databases=[DatabaseTarget("main", dsn)],
                    postgres=PostgresOptions(min_duration=Duration(0.2)))
    app = OpsConsoleApp(cfg, RunOptions(data_dir=data, refresh=0.5), Services(incident_store=store))
    other = sqlite3.connect(data / "incidents.db", isolation_level=None, timeout=1)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("3")
            slow = app.pane("slow")
            key = str(victim.get_server_pid())
            await wait_for(pilot, lambda: any(r[0] == key for r in table_rows(slow)), timeout=15)
            slow.query_one(DataTable).move_cursor(row=[r[0] for r in table_rows(slow)].index(key))
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen))
            other.execute("BEGIN IMMEDIATE")  # another writer holds the store's write lock
            await past_guard(pilot, app.screen)
            await pilot.press("y")
            with pytest.raises(asyncpg.QueryCanceledError):  # the cancel itself went through
                await asyncio.wait_for(task, 10)
            await wait_for(pilot, lambda: app.screen.id == "main")
            await pilot.press("4")  # the console still answers while the event waits
            await wait_for(pilot, lambda: app.current_pane == "locks", timeout=3)
            assert not store.events_after(0)
            other.execute("ROLLBACK")
            await wait_for(pilot, lambda: [e.type for e in store.events_after(0)] == ["db.cancel"])
            assert not (data / "journal.jsonl").exists()
    finally:
        other.close()
        victim.terminate()
        store.close()
