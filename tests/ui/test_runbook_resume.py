"""Runbooks that tell the truth (Pilot): parameters pre-filled from the panes whatever pane
has focus, each saying where it came from (real PostgreSQL for the blocker); a walk that
survives escape; the running step's elapsed time on the screen, in the header and on the
incidents pane; the output following its end at 80x24."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from test_pg_ui import table_rows
from textual.widgets import Input, RichLog, Static

from opsconsole.config import AppConfig, parse_config
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.schema import Duration
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from opsconsole.ui.screens.runbook_walkthrough import RunbookParamsScreen, RunbookScreen
from pghelpers import waits_on_lock
from uihelpers import make_app, wait_for


async def pick(pilot, query: str, runbook_id: str) -> None:
    app = pilot.app
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
    await pilot.press(*query)
    await wait_for(pilot, lambda: app.screen.shown and app.screen.shown[0].runbook.id == runbook_id)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen | RunbookScreen))


async def back_to_main(pilot) -> None:
    app = pilot.app
    while isinstance(app.screen, RunbookPickerScreen | RunbookParamsScreen | RunbookScreen):
        await pilot.press("escape")
        await pilot.pause()


def steps_runbook(tmp_path: Path) -> Path:
    d = tmp_path / "rb"
    d.mkdir(exist_ok=True)
    (d / "steps.yaml").write_text("""\
id: steps
title: Steps test
params:
  - name: who
    default: world
steps:
  - title: Greet
    kind: shell
    run: echo hello {{ who }}
  - title: Count
    kind: shell
    run: seq -f 'line-%g' 1 100
  - title: Hang
    kind: shell
    text: |
      A step with a long explanation, so the detail above the output grows when the
      cursor comes here and the output pane gets shorter.
      One.
      Two.
      Three.
      Four.
    run: echo hanging; sleep 300
""")
    return d


@pytest.mark.pg
async def test_lock_runbook_from_the_health_pane_gets_the_blocker_and_says_when_it_is_gone(
        pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    tbl = f"truth_{uuid.uuid4().hex[:6]}"
    pg_cluster.psql(f"create table {tbl} (id int primary key, v int); insert into {tbl} values (1, 0)")
    root = await asyncpg.connect(dsn, server_settings={"application_name": "billing"})
    waiter = await asyncpg.connect(dsn)
    await root.execute(f"begin; update {tbl} set v = 1 where id = 1")
    wait = asyncio.create_task(waiter.execute(f"update {tbl} set v = 2 where id = 1"))
    await waits_on_lock(root, waiter.get_server_pid())
    pid = root.get_server_pid()
    cfg = AppConfig(databases=[DatabaseTarget("orders", dsn)],
                    postgres=PostgresOptions(min_duration=Duration(0.2)))
    app = make_app(cfg, refresh=0.5, data_dir=tmp_path / "data")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            locks = app.pane("locks")
            await wait_for(pilot, lambda: len(table_rows(locks)) >= 2, timeout=15)
            assert app.current_pane == "health"  # not the locks pane: the blocker all the same
            await pick(pilot, "lock contention", "pg-lock-contention")
            params = app.screen
            assert params.query_one("#param-pid", Input).value == str(pid)
            assert params.source_text("pid") == f"↳ from the locks pane: root blocker pid {pid}, app billing"
            # the shipped runbook says `default: main`: the watched target wins
            assert params.query_one("#param-database", Input).value == "orders"
            assert "database target the PostgreSQL panes watch" in params.source_text("database")
            await back_to_main(pilot)
            # the blocker goes away: the field is empty and says so, with the one that was
            await root.close()
            await wait_for(pilot, lambda: locks.snapshot is not None and not locks.snapshot.nodes,
                           timeout=15)
            await pick(pilot, "lock contention", "pg-lock-contention")
            params = app.screen
            assert params.query_one("#param-pid", Input).value == ""
            assert params.source_text("pid") == f"⚠ no blocking session now (was {pid}, app billing at 03:12)"
    finally:
        if not root.is_closed():
            root.terminate()
        waiter.terminate()
        wait.cancel()


async def test_escape_and_reopen_resume_at_the_next_step_with_the_done_ones_shown(tmp_path):
    app = make_app(parse_config(f"runbook_dirs: [{steps_runbook(tmp_path)}]\n"), data_dir=tmp_path / "d")
    async with app.run_test(size=(100, 30)) as pilot:
        await pick(pilot, "steps test", "steps")
        await pilot.press("enter")  # the parameters as pre-filled (the default)
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.session.states[0] == "ok")
        await back_to_main(pilot)
        await pick(pilot, "steps test", "steps")
        screen = app.screen
        assert isinstance(screen, RunbookScreen)  # no parameters asked again: the same walk
        lines = screen.query_one("#runbook-steps").plain.splitlines()
        assert lines[0].startswith(" ✓  1 Greet") and lines[1].startswith("▸○  2 Count")
        assert "Step 2 of 3" in str(screen.query_one("#runbook-detail", Static).render())
        assert "resumed: 1 of 3 steps done" in str(screen.query_one("#runbook-status", Static).render())
        log = screen.query_one("#runbook-output", RichLog)
        await wait_for(pilot, lambda: any("hello world" in s.text for s in log.lines))


async def test_the_running_step_shows_its_elapsed_time_in_the_walkthrough_header_and_incidents(tmp_path):
    app = make_app(parse_config(f"runbook_dirs: [{steps_runbook(tmp_path)}]\n"), data_dir=tmp_path / "d")
    async with app.run_test(size=(160, 40)) as pilot:
        await pick(pilot, "steps test", "steps")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: screen.session.running == 2)

        def status() -> str:
            return str(screen.query_one("#runbook-status", Static).render())

        await wait_for(pilot, lambda: "▶ running step 3 · " in status())
        first = status()
        await wait_for(pilot, lambda: status() != first and "▶ running step 3 · " in status(),
                       what="the elapsed time moves")
        await back_to_main(pilot)
        header = lambda: app.header_text(160).plain  # noqa: E731
        await wait_for(pilot, lambda: "▶ runbook steps step 3/3 'Hang'" in header())
        shown = header()
        await wait_for(pilot, lambda: header() != shown, what="the header's elapsed time moves")
        incidents = app.pane("incidents")
        await wait_for(pilot, lambda: "▶ runbook steps step 3/3 'Hang'" in incidents.header_text().plain)
        screen.session.stop()
        await wait_for(pilot, lambda: screen.session.running is None, timeout=15)
        await wait_for(pilot, lambda: "▶ runbook" not in header())


async def test_the_output_follows_its_end_at_80x24(tmp_path):
    app = make_app(parse_config(f"runbook_dirs: [{steps_runbook(tmp_path)}]\n"), data_dir=tmp_path / "d")
    async with app.run_test(size=(80, 24)) as pilot:
        await pick(pilot, "steps test", "steps")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.session.states[1] == "ok")

        def visible() -> str:
            from screentext import screen_text

            return screen_text(app) + "\n"

        await wait_for(pilot, lambda: "line-100" in visible(), what="the last line on screen")
        assert "line-1 " not in visible() and "line-1\n" not in visible()
