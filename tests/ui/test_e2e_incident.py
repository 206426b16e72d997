"""End to end, with real parts: everything seen and done in the console lands on the active
incident's timeline, and the postmortem is written from it.

A real HTTP server on 127.0.0.1 (an ``http`` health check every 0.3 s), the throwaway
PostgreSQL cluster with a real ``pg_sleep`` query, a runbook directory with a safe shell step
that sets the ``mitigated`` milestone, and the console's default sink (the incident store in
its data directory). The operator declares with ``i``, the check goes CRITICAL, the slow
query is cancelled through the confirmation, the runbook step runs from ``r``, a note is
added with ``n``; then ``opsconsole incident export`` (a subprocess on the same data
directory) writes the postmortem."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import pytest
from test_pg_ui import table_rows
from textual.widgets import DataTable

from opsconsole import events as ev
from opsconsole.checks.spec import HttpCheck
from opsconsole.config import AppConfig
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.schema import Duration
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.modals import DeclareModal, TextModal
from opsconsole.ui.screens.incident import IncidentScreen
from opsconsole.ui.screens.pg import ConfirmSignalScreen
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from opsconsole.ui.screens.runbook_walkthrough import RunbookScreen
from opsconsole.ui.widgets import TimelineView
from uihelpers import past_guard, wait_for

pytestmark = pytest.mark.pg

RUNBOOK = """\
id: e2e-failover
title: Fail the web tier over
tags: [e2e]
when_to_use: The web health check is critical.
steps:
  - title: Switch traffic to the standby
    kind: shell
    run: echo traffic-switched-to-standby
    milestone: mitigated
"""


def timeline_section(md: str) -> list[str]:
    return md.split("## Timeline", 1)[1].split("\n## ", 1)[0].splitlines()


async def test_everything_seen_and_done_is_on_the_timeline_and_in_the_postmortem(
        pg_cluster, tmp_path, switch_web, run_cli):
    data = tmp_path / "cli-data"  # the data dir run_cli uses: the export reads the same store
    rbdir = tmp_path / "runbooks"
    rbdir.mkdir()
    (rbdir / "e2e-failover.yaml").write_text(RUNBOOK)
    dsn = pg_cluster.dsn()
    cfg = AppConfig(
        checks=[HttpCheck(name="web", url=switch_web.url, interval=Duration(0.3), timeout=Duration(10))],
        databases=[DatabaseTarget("main", dsn)],
        postgres=PostgresOptions(min_duration=Duration(0.2)),
        runbook_dirs=[str(rbdir)],
    )
    # no sink, no store given: the console's own default (the incident store in the data dir)
    app = OpsConsoleApp(cfg, RunOptions(refresh=0.5, data_dir=data),
                        Services(hostname="ops-e2e"))
    victim = await asyncpg.connect(dsn)
    slow = asyncio.create_task(victim.execute("select pg_sleep(120) /* e2e-victim */"))

    def events(*types: str) -> list[ev.Event]:
        store = app.incident_store
        return [e for e in store.events(iid) if not types or e.type in types] if store else []

    iid = ""
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.incident_store is not None, timeout=10)
            health = app.pane("health")
            await wait_for(pilot, lambda: "1 OK" in health.summary, timeout=15)

            # 1. declare with i: the header shows the active incident
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, DeclareModal))
            await pilot.press(*"web tier down", "tab", "2", "tab", *"web", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen))
            iid = app.screen.incident_id
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen.id == "main")
            await wait_for(pilot, lambda: f"▲ {iid} SEV2 investigating" in app.header_text().plain,
                           timeout=10)
            assert [e.type for e in events()] == [ev.DECLARED]

            # 2. the web server fails: the check goes CRITICAL, recorded on its own
            switch_web.healthy.clear()
            await wait_for(pilot, lambda: events("health.state_changed"), timeout=15)
            change = events("health.state_changed")[0]
            assert (change.data["check"], change.data["old"], change.data["new"]) == \
                ("web", "OK", "CRITICAL")
            await wait_for(pilot, lambda: "1 CRIT" in health.summary, timeout=5)  # and shown

            # 3. cancel the slow query from the slow queries pane, through the confirmation
            await pilot.press("3")
            pane = app.pane("slow")
            pid = str(victim.get_server_pid())
            await wait_for(pilot, lambda: any(r[0] == pid for r in table_rows(pane)), timeout=15)
            pane.query_one(DataTable).move_cursor(row=[r[0] for r in table_rows(pane)].index(pid))
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSignalScreen))
            assert app.screen.backend.pid == int(pid)
            await past_guard(pilot, app.screen)
            await pilot.press("y")
            await wait_for(pilot, lambda: events("db.cancel"), timeout=15)
            with pytest.raises(asyncpg.QueryCanceledError):
                await asyncio.wait_for(slow, 10)
            assert events("db.cancel")[0].data["pid"] == int(pid)

            # 4. the runbook from r: its step runs, and sets the mitigated milestone
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen)
                           and bool(app.screen.shown))
            await pilot.press(*"fail the web")
            await wait_for(pilot, lambda: app.screen.shown[0].runbook
                           and app.screen.shown[0].runbook.id == "e2e-failover")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
            walk = app.screen
            await pilot.press("enter")
            await wait_for(pilot, lambda: walk.session.states[0] == "ok", timeout=15)
            await wait_for(pilot, lambda: events(ev.MILESTONE_SET), timeout=10)
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is not walk)
            if isinstance(app.screen, RunbookPickerScreen):
                await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen.id == "main")

            # 5. a note with n
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, TextModal))
            await pilot.press(*"standby serving; root cause next", "enter")
            await wait_for(pilot, lambda: events(ev.NOTE), timeout=10)

            # the timeline (t) shows all of it, in order
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen))
            screen = app.screen
            await wait_for(pilot, lambda: screen.state is not None
                           and screen.state.event_count == len(events()), timeout=10)
            shown = screen.query_one(TimelineView).plain
            for words in ("Declared SEV2", "Health web: OK → CRITICAL", f"Cancelled query pid {pid}",
                          "“Switch traffic to the standby”: ok in", "Milestone Mitigated",
                          "Note: standby serving"):
                assert words in shown, words
            assert "mitigated" in screen.state.milestones
    finally:
        victim.terminate()
        slow.cancel()

    # the postmortem, written by the CLI from the same store: everything, in the order it happened
    md_run = await asyncio.to_thread(run_cli, "incident", "export", iid, "--format", "md")
    assert md_run.returncode == 0, md_run.stderr
    md = md_run.stdout
    lines = timeline_section(md)

    def at(words: str) -> int:
        hits = [n for n, line in enumerate(lines) if words in line]
        assert hits, f"{words!r} is not on the postmortem's timeline:\n" + "\n".join(lines)
        return hits[0]

    steps = [at("Declared SEV2 “web tier down”"),
             at("Health web: OK → CRITICAL"),
             at(f"Cancelled query pid {pid}"),
             # a step's start and finish: one row, at its start, with its result
             at("“Switch traffic to the standby”: ok in"),
             at("Milestone Mitigated"),
             at("Note: standby serving; root cause next")]
    assert steps == sorted(steps), "\n".join(lines)
    # the runbook execution, with its output's checksum
    runs = md.split("## Runbook executions", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in runs.splitlines() if "Switch traffic to the standby" in line)
    assert "| e2e-failover |" in row and "echo traffic-switched-to-standby" in row and "| 0 |" in row
    assert hashlib.sha256(b"traffic-switched-to-standby\n").hexdigest()[:16] in row
    # the time to mitigate is measured from the recorded milestones
    mttm = next(line for line in md.splitlines() if "(MTTM)" in line)
    assert mttm.split("|")[2].strip() != "–" and "mitigated 20" in mttm, mttm
