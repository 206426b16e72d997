"""LineBlock repaints only changed lines; sync_table repaints only changed rows and keeps the
cursor on the same row key."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from opsconsole.ui.widgets import LineBlock, selected_key, sync_table

COLS = ("PID", "CMD", "CPU")


def rows_of(*specs: tuple[str, str, str]) -> list[tuple[str, tuple[str, str, str]]]:
    return [(pid, (pid, cmd, cpu)) for pid, cmd, cpu in specs]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LineBlock()
        table: DataTable[str] = DataTable(cursor_type="row")
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for c in COLS:
            table.add_column(c, key=c, width=8)


def visible_rows(table: DataTable) -> list[str]:
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def screen_text(table: DataTable, y: int) -> str:
    return "".join(seg.text for seg in table.render_line(y))


async def test_sync_table_repaints_only_the_row_that_changed():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(DataTable)
        first = rows_of(("1", "init", "0.0"), ("2", "sshd", "0.1"), ("3", "postgres", "0.2"))
        r = sync_table(table, first, COLS)
        assert r.added == ["1", "2", "3"] and r.full_refresh
        await pilot.pause()
        r = sync_table(table, first, COLS)
        assert r.changed == [] and not r.full_refresh and not r.added and not r.removed
        second = rows_of(("1", "init", "0.0"), ("2", "sshd", "7.5"), ("3", "postgres", "0.2"))
        r = sync_table(table, second, COLS)
        assert r.changed == ["2"] and not r.full_refresh
        await pilot.pause()
        assert table.get_cell("2", "CPU") == "7.5"
        assert "7.5" in screen_text(table, 2)  # header is line 0; row "2" is line 2


async def test_sync_table_keeps_the_cursor_on_the_same_row_key_when_rows_reorder():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(DataTable)
        table.focus()
        sync_table(table, rows_of(("10", "a", "3.0"), ("20", "b", "2.0"), ("30", "c", "1.0")), COLS)
        await pilot.pause()
        await pilot.press("down")  # cursor on pid 20, second row
        assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == "20"
        # 20 becomes the busiest: it moves to the top, the others shift down
        r = sync_table(table, rows_of(("20", "b", "9.0"), ("10", "a", "3.0"), ("30", "c", "1.0")),
                       COLS)
        await pilot.pause()
        assert visible_rows(table) == ["20", "10", "30"]
        assert table.cursor_row == 0
        assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == "20"
        assert set(r.changed) == {"20", "10"} and not r.full_refresh  # 30 neither moved nor changed
        # a row leaves and another arrives: the cursor still follows 20
        r = sync_table(table, rows_of(("40", "d", "5.0"), ("20", "b", "4.0")), COLS)
        await pilot.pause()
        assert r.removed == ["10", "30"] and r.added == ["40"] and r.full_refresh
        assert visible_rows(table) == ["40", "20"]
        assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == "20"
        assert selected_key(table) == "20"
        assert "4.0" in screen_text(table, 2)
        sync_table(table, [], COLS)
        await pilot.pause()
        assert selected_key(table) is None  # an empty table has no selected row


async def test_line_block_repaints_only_changed_lines():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        block = app.query_one(LineBlock)
        block.set_lines([Text("CPU  12%"), Text("MEM  40%"), Text("LOAD 0.10")])
        await pilot.pause()
        assert block.full_repaints == 1 and block.repainted == (0, 1, 2)
        block.set_lines([Text("CPU  12%"), Text("MEM  41%"), Text("LOAD 0.10")])
        assert block.repainted == (1,) and block.full_repaints == 1
        block.set_lines([Text("CPU  12%"), Text("MEM  41%", style="bold"), Text("LOAD 0.10")])
        assert block.repainted == (1,)  # a style change is a change
        block.set_lines([Text("CPU  12%"), Text("MEM  41%", style="bold"), Text("LOAD 0.10")])
        assert block.repainted == ()
        await pilot.pause()
        assert "".join(s.text for s in block.render_line(1)).startswith("MEM  41%")
        block.set_lines([Text("CPU  12%")])
        assert block.full_repaints == 2


async def test_sync_table_refuses_a_column_the_table_does_not_have():
    app = TableApp()
    async with app.run_test(size=(60, 12)):
        table = app.query_one(DataTable)
        with pytest.raises(ValueError, match="CPUU"):
            sync_table(table, [("1", ("1", "init", "0.0"))], ("PID", "CMD", "CPUU"))


async def test_sync_table_replacing_a_row_repaints_only_the_lines_that_change():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(DataTable)
        table.focus()
        sync_table(table, rows_of(("20", "b", "9.0"), ("10", "a", "3.0"), ("30", "c", "1.0")), COLS)
        await pilot.pause()
        await pilot.press("down")  # on pid 10
        # 10 exits, 40 arrives at the top: same row count
        r = sync_table(table, rows_of(("40", "d", "9.5"), ("20", "b", "9.0"), ("30", "c", "1.0")),
                       COLS)
        assert r.removed == ["10"] and r.added == ["40"]
        assert not r.full_refresh
        assert r.changed == ["40", "20"]  # line 3 (pid 30) shows the same as before
        await pilot.pause()
        assert visible_rows(table) == ["40", "20", "30"]
        assert [screen_text(table, y).split()[:3] for y in (1, 2, 3)] == [
            ["40", "d", "9.5"], ["20", "b", "9.0"], ["30", "c", "1.0"]]
        # the cursor's row left; the cursor stays on the same line, inside the table
        assert table.cursor_row == 1
        assert table.get_cell("40", "CMD") == "d"
        with pytest.raises(CellDoesNotExist):
            table.get_cell("10", "CMD")


def test_one_age_formatter_keeps_both_texts():
    from opsconsole.fmt import age, duration

    assert [age(s) for s in (-3, 4, 192, 7500, 273600)] == ["0s", "4s", "3m12s", "2h05m", "3d04h"]
    assert [age(s, coarse=True) for s in (4, 192, 7500, 273600)] == ["<1m", "3m", "2h05m", "3d04h"]
    assert [duration(s) for s in (None, 0.85, 4.2, 12, 192)] == ["–", "850ms", "4.2s", "12s", "3m12s"]


def test_level_styles_from_theme_variables():
    from opsconsole.ui.styles import level_styles

    v = {"success": "green", "accent": "blue", "warning": "yellow", "error": "red"}
    assert level_styles(v, ("ok", "careful", "warning", "critical", "unknown")) == {
        "ok": "green", "careful": "blue", "warning": "bold yellow", "critical": "bold red",
        "unknown": "bold blue"}


class AutoWidthApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for c in COLS:
            table.add_column(c, key=c)  # measured from the content


async def test_sync_table_widens_a_column_when_a_kept_row_gets_a_longer_value():
    """An alert row going FIRING → FIRING+ACK in place must not be cut to the old width."""
    app = AutoWidthApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(DataTable)
        sync_table(table, rows_of(("1", "init", "0.0"), ("2", "sshd", "0.1")), COLS)
        await pilot.pause()
        r = sync_table(table, rows_of(("1", "init", "0.0"),
                                      ("2", "sshd: accepted publickey for root", "0.1")), COLS)
        assert r.changed == ["2"]
        await pilot.pause()
        assert "sshd: accepted publickey for root" in screen_text(table, 2)
        assert "0.1" in screen_text(table, 2)  # the next column moved over, still shown
