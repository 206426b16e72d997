"""Keys typed right after start, or right after a modal closes, reach the app's bindings,
not the hidden filter input Textual's auto-focus would pick."""

from __future__ import annotations

from opsconsole.incidents.sink import MemorySink
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.panes.base import FilterInput


def make_app(tmp_path) -> OpsConsoleApp:
    return OpsConsoleApp(options=RunOptions(data_dir=tmp_path), services=Services(sink=MemorySink()))


async def test_a_key_pressed_at_start_is_not_swallowed_by_a_hidden_filter(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert not isinstance(app.focused, FilterInput)
        await pilot.press("2")
        await pilot.pause()
        assert app.current_pane == "resources"
        assert app.pane("health").filter_text == ""


async def test_after_help_closes_keys_still_reach_the_bindings(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1")
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("escape")
        for _ in range(20):
            await pilot.pause()
            if app.screen is app.main:
                break
        assert app.screen is app.main
        assert not isinstance(app.focused, FilterInput)
        await pilot.press("2")
        await pilot.pause()
        assert app.current_pane == "resources"
        assert app.pane("health").filter_text == ""
