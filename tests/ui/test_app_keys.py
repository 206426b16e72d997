"""Pilot tests for every global key of the console."""

from __future__ import annotations

import asyncio

from textual.command import CommandPalette
from textual.widgets import DataTable, Input

from opsconsole.config import parse_config
from opsconsole.ui.panes.base import FilterInput
from opsconsole.ui.screens.help import HelpScreen
from uihelpers import make_app, resources_ready, wait_for


async def test_opens_with_five_panes_and_header():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        assert set(app.main.panes) == {"health", "resources", "slow", "locks", "incidents"}
        for pane in app.main.panes.values():
            assert pane.display and pane.region.width > 0 and pane.region.height > 0
        header = app.header_text().plain
        assert "ops-01" in header and "03:12 UTC" in header and "LIVE every 3600s" in header
        # panes without a source say so instead of crashing
        assert "not configured yet" in str(app.pane("slow").query_one(".pane-body").render())


async def test_number_keys_focus_panes():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("2")
        assert app.current_pane == "resources"
        assert isinstance(app.focused, DataTable)
        assert app.pane("resources").header_text().plain.startswith("▶ 2 RESOURCES")
        for key, pid in [("1", "health"), ("3", "slow"), ("4", "locks"), ("5", "incidents")]:
            await pilot.press(key)
            assert app.current_pane == pid
            assert app.pane(pid).header_text().plain.startswith(f"▶ {key}")
            assert not app.pane("resources").header_text().plain.startswith("▶")


async def test_tab_cycles_panes_both_ways():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("1")
        seen = []
        for _ in range(5):
            await pilot.press("tab")
            seen.append(app.current_pane)
        assert seen == ["resources", "slow", "locks", "incidents", "health"]
        await pilot.press("shift+tab")
        assert app.current_pane == "incidents"


async def test_zoom_shows_only_the_focused_pane_and_escape_restores():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("2", "z")
        await pilot.pause()
        res = app.pane("resources")
        assert res.display and res.region.height >= 40
        assert not app.pane("health").display
        assert "[2 Resources" in app.main.query_one("#pane-tabs").plain
        await pilot.press("z")
        await pilot.pause()
        assert app.pane("health").display and res.region.height < 40
        await pilot.press("z", "escape")
        await pilot.pause()
        assert app.zoomed is False and app.pane("health").display


async def test_pause_and_resume():
    app = make_app(refresh=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("p")
        assert app.paused and "PAUSED" in app.header_text().plain
        res = app.pane("resources")
        await wait_for(pilot, lambda: res.state == "paused")
        polls = res.polls
        assert "PAUSED" in res.header_text().plain
        await pilot.press("p")
        assert not app.paused and "LIVE" in app.header_text().plain
        await wait_for(pilot, lambda: res.polls > polls)
        assert res.state == "live"


async def test_plus_minus_change_interval():
    app = make_app(refresh=2)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("plus")
        assert app.refresh_interval == 1.0
        await pilot.press("plus", "plus", "plus")
        assert app.refresh_interval == 0.5  # the fastest step
        await pilot.press("minus", "minus")
        assert app.refresh_interval == 2.0
        assert "every 2s" in app.header_text().plain
        await pilot.press("minus")
        assert "every 5s" in app.header_text().plain


async def test_slash_filters_the_focused_pane():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("2")
        table = app.pane("resources").query_one(DataTable)
        assert table.row_count == 6
        await pilot.press("slash")
        assert isinstance(app.focused, FilterInput)
        await pilot.press(*"nginx")
        await wait_for(pilot, lambda: table.row_count == 1)
        assert table.get_row_at(0)[0] == "2001"
        await pilot.press("enter")
        assert isinstance(app.focused, DataTable)
        assert "filter: nginx" in app.pane("resources").header_text().plain
        await pilot.press("slash", "escape")  # escape clears the filter
        await wait_for(pilot, lambda: table.row_count == 6)
        assert "filter" not in app.pane("resources").header_text().plain


async def test_question_mark_lists_bindings_of_focused_pane():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("2", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert "Resources pane" in text and "Sort processes by CPU" in text
        assert "Global" in text
        for words in ["Zoom the focused pane", "Pause or resume", "Filter the focused pane",
                      "Declare an incident", "Quit (asks first during an incident or a running step)", "Focus the next pane"]:
            assert words in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_ctrl_p_opens_palette_with_console_commands():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"zoom")
        await wait_for(pilot, lambda: "Zoom" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.zoomed)


async def test_palette_switches_theme():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert app.theme == "opsconsole-dark"
        await pilot.press("ctrl+p")
        await pilot.press(*"opsconsole-contrast")
        await wait_for(pilot, lambda: "contrast" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "opsconsole-contrast")


async def test_first_key_after_start_reaches_the_console():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("z")  # no pause: the very first key
        assert app.zoomed


async def test_q_quits():
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        for _ in range(200):  # bounded: the app stops its own loop, so don't pause it
            if not app.is_running:
                break
            await asyncio.sleep(0.02)
        assert not app.is_running and app.return_code == 0


async def test_read_only_removes_dangerous_keys():
    app = make_app(read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        keys = {ab.binding.action for ab in app.main.active_bindings.values() if ab.enabled}
        assert "app.declare_incident" not in keys and "app.note" not in keys
        assert "app.zoom" in keys
        assert "READ-ONLY" in app.header_text().plain
        commands = [c.title for c in app.get_system_commands(app.main)]
        assert "Zoom" in commands and "Incident" not in commands


async def test_keys_can_be_remapped_by_id():
    app = make_app(parse_config("keys:\n  zoom: Z\n"))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("z")
        assert not app.zoomed
        await pilot.press("Z")
        assert app.zoomed


async def test_small_terminal_is_tabbed_and_survives_resizes():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, resources_ready(app))
        assert app.narrow
        visible = [p.pane_id for p in app.main.panes.values() if p.display]
        assert visible == ["health"]
        await pilot.press("2")
        await pilot.pause()
        assert [p.pane_id for p in app.main.panes.values() if p.display] == ["resources"]
        for size in [(60, 15), (20, 5), (160, 48), (80, 24)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
        assert app.narrow and app.is_running
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert not app.narrow
        assert all(p.display for p in app.main.panes.values())


async def test_cursor_stays_on_same_process_when_rows_reorder():
    from dataclasses import replace

    from hostdata import FixedCollector, fixed_snapshot
    from opsconsole.sources.host import ProcRow

    collector = FixedCollector()
    app = make_app(host_collector=collector)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("2", "down", "down")  # cursor on the third row: nginx (2001)
        table = app.pane("resources").query_one(DataTable)
        assert table.get_row_at(table.cursor_row)[0] == "2001"
        snap = fixed_snapshot()
        procs = tuple(replace(p, cpu=99.0) if p.pid == 1 else p for p in snap.processes)
        procs += (ProcRow(9999, "root", 80.0, 1.0, "stress --cpu 1"),)
        collector.snap = replace(snap, processes=procs, process_count=len(procs))
        polls = app.pane("resources").polls
        app.pane("resources").poll_now()
        await wait_for(pilot, lambda: app.pane("resources").polls > polls)
        assert table.get_row_at(0)[0] == "1"
        assert table.get_row_at(table.cursor_row)[0] == "2001"


async def test_broken_theme_notifies_once_and_falls_back(tmp_path, monkeypatch):
    xdg = tmp_path / "xdg"
    (xdg / "opsconsole" / "themes").mkdir(parents=True)
    (xdg / "opsconsole" / "themes" / "broken.yaml").write_text("name: broken\nprimary: [1\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    app = make_app(theme="broken")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "opsconsole-dark"
        notes = list(app._notifications)
        assert len(notes) == 1
        assert "broken.yaml:3:1" in notes[0].message and "theme 'broken' not found" in notes[0].message


async def test_help_works_in_read_only_and_filter_input_takes_letters():
    app = make_app(read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("2", "slash", "q")  # q inside the filter is a letter, not quit
        assert app.is_running
        assert isinstance(app.focused, Input) and app.focused.value == "q"


async def test_header_keeps_state_and_clock_in_narrow_windows():
    app = make_app(read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.services.hostname = "a-very-long-database-host-name.prod.example.internal"
        for width in (160, 80, 60, 40):
            text = app.header_text(width).plain
            assert text.endswith("03:12 UTC"), (width, text)
            assert "LIVE" in text and ("READ-ONLY" in text or " RO " in text)
            assert len(text) <= width, (width, text)
        assert app.header_text(160).plain.startswith(" opsconsole ")


async def test_runbook_picker_prefills_the_selected_process_pid():
    from opsconsole.ui.screens.runbook_picker import context_of

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("2", "down")  # second row by CPU: gunicorn, pid 1337
        assert context_of(app) == {"pid": "1337"}
        await pilot.press("r", *"high cpu")  # the shipped high-cpu runbook asks a pid
        # the runbooks load in a child process: enter once they are listed
        await wait_for(pilot, lambda: bool(getattr(app.screen, "shown", None))
                       and app.screen.shown[0].runbook.id == "high-cpu")
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(app.screen.query("#param-pid")))
        assert app.screen.query_one("#param-pid").value == "1337"
