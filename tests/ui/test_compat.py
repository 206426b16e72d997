"""Canaries for the Textual and Rich internals that ui/compat.py relies on.

Each test names one private attribute: when a Textual (or Rich) upgrade renames or removes
it, the failure says which one, and ui/compat.py is the only module to adapt.
"""

from __future__ import annotations

import inspect

import pytest
from rich.console import Console
from rich.style import Style
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from opsconsole.ui import compat


def upgrade_hint(name: str) -> str:
    return (f"{name} is gone or changed in this Textual/Rich version: adapt "
            "src/opsconsole/ui/compat.py (and this canary)")


def test_compositor_update_classes_import() -> None:
    from textual import _compositor

    for name in ("ChopsUpdate", "LayoutUpdate", "CompositorUpdate"):
        assert hasattr(_compositor, name), upgrade_hint(f"textual._compositor.{name}")
    assert issubclass(compat.ChopsUpdate, compat.CompositorUpdate), upgrade_hint("ChopsUpdate")
    assert issubclass(compat.LayoutUpdate, compat.CompositorUpdate), upgrade_hint("LayoutUpdate")
    for cls in (compat.ChopsUpdate, compat.LayoutUpdate):
        assert callable(getattr(cls, "render_segments", None)), upgrade_hint(
            f"{cls.__name__}.render_segments")
    assert hasattr(compat.ChopsUpdate, "__init__") and "spans" in inspect.signature(
        compat.ChopsUpdate.__init__).parameters, upgrade_hint("ChopsUpdate(spans=…)")


def test_two_way_dict_imports() -> None:
    from textual._two_way_dict import TwoWayDict

    d = TwoWayDict({RowKey("a"): 0})
    assert d.get_key(0) == RowKey("a"), upgrade_hint("TwoWayDict.get_key")


def test_app_display_exists_with_screen_and_renderable() -> None:
    display = getattr(App, "_display", None)
    assert callable(display), upgrade_hint("App._display")
    params = list(inspect.signature(display).parameters)
    assert params == ["self", "screen", "renderable"], upgrade_hint(
        f"App._display(self, screen, renderable) (now {params})")
    assert "_display" in compat.DiffDisplay.__dict__


def test_app_binding_internals() -> None:
    assert hasattr(App, "_check_action_state"), upgrade_hint("App._check_action_state")
    assert hasattr(Screen, "_binding_chain"), upgrade_hint("Screen._binding_chain")
    app = App()
    assert callable(getattr(app._bindings, "_add_binding", None)), upgrade_hint(
        "App._bindings._add_binding")


@pytest.mark.parametrize("name", ["_row_locations", "_data", "_new_rows", "_updated_cells",
                                  "_require_update_dimensions", "_update_count"])
def test_datatable_instance_internals(name: str) -> None:
    table: DataTable[str] = DataTable()
    assert hasattr(table, name), upgrade_hint(f"DataTable.{name}")


@pytest.mark.parametrize("name", ["_update_dimensions", "_clear_caches"])
def test_datatable_methods(name: str) -> None:
    assert callable(getattr(DataTable, name, None)), upgrade_hint(f"DataTable.{name}()")


def test_rich_internals() -> None:
    console = Console(color_system="truecolor", force_terminal=True)
    assert hasattr(console, "_color_system"), upgrade_hint("Console._color_system")
    codes = compat.ansi_codes(Style(bold=True), compat.color_system(console))
    assert codes == "1", upgrade_hint("Style._make_ansi_codes")


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable()


async def test_compat_table_helpers_work_on_a_live_table() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        table.add_column("A", key="A")
        for k in ("x", "y", "z"):
            table.add_row(k, key=k)
        await pilot.pause()
        assert compat.row_order(table) == ["x", "y", "z"]
        assert compat.row_cells(table)[RowKey("y")]["A"] == "y"  # type: ignore[index]
        compat.drop_row_data(table, RowKey("y"))
        compat.set_row_order(table, [RowKey("z"), RowKey("x")])
        compat.invalidate_table_render(table)
        compat.measure_new_rows(table)
        assert compat.row_order(table) == ["z", "x"]
        compat.forget_column_widths(table)
        await pilot.pause()
        assert table.row_count == 2
        assert [c for c, _ in compat.binding_chain(app.screen)]


class _KeyApp(App[None]):
    """Records what App.on_event sees of one key (what ui/keyhold.py relies on)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def compose(self) -> ComposeResult:
        from textual.widgets import Input

        yield Input()

    async def on_event(self, event) -> None:
        from textual import events

        if isinstance(event, events.Key) and event.key == "tab":
            self.seen.append(compat.is_terminal_key(event))
        await super().on_event(event)


async def test_terminal_keys_reach_app_on_event_first_unforwarded() -> None:
    assert "on_event" in App.__dict__, upgrade_hint("App.on_event")
    app = _KeyApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("tab")  # the Input does not take it: it bubbles back to the app
        await pilot.pause()
        assert app.seen[:1] == [True], upgrade_hint("App.on_event gets driver keys unforwarded")
        assert False in app.seen[1:], upgrade_hint("a key bubbling back to the app is forwarded")


class _Tables(App[None]):
    """Two live tables side by side: one with bounded render caches, one as Textual makes it."""

    def compose(self) -> ComposeResult:
        yield compat.bound_table_caches(DataTable(id="bounded"))
        yield DataTable(id="plain")


async def test_bounded_table_caches_stay_bounded_and_show_the_latest_cells() -> None:
    """A pane's table changes every refresh; Textual keys its render caches by the table's
    update count, so each refresh adds renders never shown again (the soak's RSS growth).
    The bounded table keeps at most TABLE_CACHE_BOUNDS entries and still shows the latest
    values; the plain one (the oracle that the workload does fill caches) goes past them."""
    from opsconsole.ui.widgets import sync_table

    def cpu(pid: int, tick: int) -> str:
        return f"{(pid * tick) % 97:2d}.{tick % 10}"

    columns = ["PID", "CPU", "NAME"]
    app = _Tables()
    async with app.run_test(size=(120, 60)) as pilot:
        tables = [app.query_one("#bounded", DataTable), app.query_one("#plain", DataTable)]
        for t in tables:
            for c in columns:
                t.add_column(c, key=c)
        ticks = 30  # 40 rows x 3 cells re-rendered per tick: 3,600 renders > the bound
        for tick in range(ticks):
            rows = [(str(pid), (str(pid), cpu(pid, tick), f"proc-{pid}")) for pid in range(40)]
            for t in tables:
                sync_table(t, rows, columns)
            await pilot.pause()
        bounded, plain = tables
        for name, bound in compat.TABLE_CACHE_BOUNDS.items():
            assert len(getattr(bounded, name)) <= bound, upgrade_hint(f"DataTable.{name}")
        assert len(plain._cell_render_cache) > compat.TABLE_CACHE_BOUNDS["_cell_render_cache"]
        # what is shown is the last tick's data, in both
        for t in tables:
            assert t.get_row("7") == ["7", cpu(7, ticks - 1), "proc-7"]
            line = "".join(seg.text for seg in t.render_line(8))  # header, rows 0..6, row 7
            assert cpu(7, ticks - 1) in line and "proc-7" in line, line


async def test_bounded_table_keeps_only_the_current_renders_of_a_small_changing_table() -> None:
    """A table of 3 rows that changes every refresh (the locks pane) fills even bounded
    caches slowly, one refresh at a time, for minutes (the soak's slow climb). Every render
    is keyed by the table's update count, so the bounded table drops the older ones when the
    count moves: after 60 refreshes it holds about one render's worth, the plain table (the
    oracle that the workload does leave stale renders) holds dozens of refreshes' worth; the
    bounded one still shows the latest values."""
    from opsconsole.ui.widgets import sync_table

    columns = ["PID", "STATE", "QUERY"]
    app = _Tables()
    async with app.run_test(size=(120, 40)) as pilot:
        tables = [app.query_one("#bounded", DataTable), app.query_one("#plain", DataTable)]
        for t in tables:
            for c in columns:
                t.add_column(c, key=c)
        ticks = 60
        for tick in range(ticks):
            rows = [(str(pid), (str(pid), f"waiting {tick:02d}s", f"UPDATE t{pid}"))
                    for pid in range(3)]
            for t in tables:
                sync_table(t, rows, columns)
            await pilot.pause()
        bounded, plain = tables
        one_render = 3 * len(columns) + len(columns)  # the rows' cells and the header's
        assert len(bounded._cell_render_cache) <= 2 * one_render, upgrade_hint(
            "DataTable render caches keyed by _update_count")
        assert len(bounded._row_render_cache) <= 2 * 4
        assert len(bounded._line_cache) <= 2 * 4
        assert len(plain._cell_render_cache) > 10 * one_render
        assert bounded.get_row("2") == ["2", f"waiting {ticks - 1}s", "UPDATE t2"]
        line = "".join(seg.text for seg in bounded.render_line(3))  # header, rows 0, 1, 2
        assert f"waiting {ticks - 1}s" in line and "UPDATE t2" in line, line
