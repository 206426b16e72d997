"""The footer and the tab line as the operator sees them at 80x24 and 200x50."""

from __future__ import annotations

from test_health_pane import snapshot_app
from test_incident_ui import make_app as incident_app
from test_incident_ui import until

from opsconsole.incidents.store import SQLiteStore
from opsconsole.ui.modals import DeclareModal
from opsconsole.ui.screens.help import HelpScreen
from opsconsole.ui.screens.incident import IncidentScreen
from opsconsole.ui.widgets.keybar import KeyBar
from uihelpers import make_app, resources_ready, wait_for


def footer(app) -> str:
    return app.screen.query_one(KeyBar).plain


async def test_main_footer_at_80_columns_keeps_n_r_t_and_says_more():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await wait_for(pilot, lambda: "? more" in footer(app), what="footer drawn")
        text = footer(app)
        for key in ("i incident", "n note", "r runbooks", "t timeline"):
            assert key in text
        assert len(text) <= 80
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        described = {row.description for row in app.screen.rows}
        # what the footer left out is on the help screen
        assert {"Refresh less often", "Filter the focused pane", "Quit (asks first during an incident or a running step)",
                "Open the runbook picker"} <= described


async def test_main_footer_at_200_columns_shows_everything_and_no_more():
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await wait_for(pilot, lambda: "? help" in footer(app), what="footer drawn")
        text = footer(app)
        assert "? more" not in text
        for key in ("n note", "r runbooks", "t timeline", "- slower", "/ filter", "q quit"):
            assert key in text


async def test_read_only_footer_has_no_dangerous_keys():
    app = make_app(read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await wait_for(pilot, lambda: "r runbooks" in footer(app), what="footer drawn")
        text = footer(app)
        assert "i incident" not in text and "n note" not in text
        assert "t timeline" in text


async def test_incident_screen_footer_at_80_columns_keeps_export_comms_back(tmp_path):
    store = SQLiteStore(tmp_path / "incidents.db")
    try:
        app = incident_app(tmp_path, store)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.screen.id == "main" and app.main.panes, "main")
            await pilot.press("i")
            await until(pilot, lambda: isinstance(app.screen, DeclareModal), "declare modal")
            await pilot.press(*"DB down", "enter")
            await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "incident screen")
            await until(pilot, lambda: "? more" in footer(app), "footer drawn")
            text = footer(app)
            for key in ("esc back", "e export", "c comms", "n note"):
                assert key in text, text
            assert len(text) <= 80
    finally:
        store.close()


async def test_tab_line_shows_a_red_health_pane_while_resources_is_focused():
    app = snapshot_app()  # a check CRITICAL, a plugin UNKNOWN, two WARNING (one soft failure)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, resources_ready(app))
        await pilot.press("2")
        await wait_for(pilot, lambda: "[2 Resources" in app.main.query_one("#pane-tabs").plain,
                       what="resources focused")
        tabs = app.main.query_one("#pane-tabs").plain
        assert " 1 Health ✗2 !2 " in tabs, tabs
        assert app.pane("health").summary.startswith("1 CRIT · 1 UNKNOWN · 2 WARN")
        assert len(tabs) <= 80


async def test_incident_clocks_tick_every_second(tmp_path):
    """The MTTx clocks show seconds, so they move when a second passes (the test moves
    the console's clock) — not 15 s later — and only their line is repainted."""
    from datetime import UTC, datetime, timedelta

    from opsconsole.ui.widgets import LineBlock

    offset = [timedelta(0)]
    store = SQLiteStore(tmp_path / "incidents.db")
    try:
        app = incident_app(tmp_path, store, clock=lambda: datetime.now(UTC) + offset[0])
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.id == "main" and app.main.panes, "main")
            await pilot.press("i")
            await until(pilot, lambda: isinstance(app.screen, DeclareModal), "declare modal")
            await pilot.press(*"DB down", "enter")
            await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "incident screen")
            block = app.screen.query_one("#incident-summary", LineBlock)
            await until(pilot, lambda: "MTTA" in block.plain, "clocks drawn")
            offset[0] = timedelta(seconds=95)
            await until(pilot, lambda: "MTTA 1m3" in block.plain, "the clock moved", seconds=5.0)
            # the clock lines only (MTTx, and the next update due, which counts down too)
            assert 2 in block.repainted and set(block.repainted) <= {2, 3}
    finally:
        store.close()
