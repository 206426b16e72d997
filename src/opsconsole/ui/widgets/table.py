"""DataTable helpers: the selected row's key, and updating a table in place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from opsconsole.text import for_terminal
from opsconsole.ui import compat


def safe_cell(value: object) -> object:
    """A cell a DataTable draws as it is: DataTable parses a ``str`` cell as Rich markup
    (``[KMG]`` vanishes, ``:smile:`` becomes an emoji), so a str with ``[`` or ``:`` becomes
    a ``Text``; control characters are made visible. Other strings stay ``str``."""
    if not isinstance(value, str):
        return value
    value = for_terminal(value)
    if "[" in value or ":" in value:
        return Text(value, no_wrap=True, end="")
    return value


def selected_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the table's cursor (None: an empty table, or no key)."""
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:
        return None

@dataclass
class TableSync:
    """What :func:`sync_table` did (for tests and curiosity)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # keys of the rows repainted
    full_refresh: bool = False  # the whole table was repainted (the row count changed)


def sync_table(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[object]]],
               columns: Sequence[str]) -> TableSync:
    """Make a DataTable show ``rows`` ([(key, cells)], in order) without clearing it.

    Rows are removed/added/updated by key, changed cells only, then re-ordered; the cursor
    stays on the same row key (never jumps to another row because the data moved).

    Only the lines whose row or cells changed are repainted (``DataTable.update_cell`` would
    repaint the whole table for each cell, ``remove_row`` re-lays it out); when the number of
    rows or a column's width changes the whole table is repainted. Column widths are not re-measured for updated
    cells (as ``update_cell`` by default); new rows may widen columns (as ``add_row``).
    """
    assert isinstance(table, DataTable)
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        raise ValueError(f"sync_table: no such column(s) {unknown}; table has {list(table.columns)}")
    result = TableSync()
    cursor_key = selected_key(table)
    widths = [c.get_render_width(table) for c in table.ordered_columns]
    old_order = compat.row_order(table)
    old_count = len(old_order)
    wanted = [k for k, _ in rows]
    wanted_set = set(wanted)
    data = compat.row_cells(table)
    # what each row shows now, to repaint only the screen lines that change
    old_cells = {k: tuple(data[RowKey(k)].get(c) for c in columns)  # type: ignore[call-overload]
                 for k in old_order}
    for rk in list(table.rows):
        if rk.value not in wanted_set:
            # DataTable.remove_row repaints and re-lays-out the whole table; drop the row's
            # data here and let the repaint below cover only the lines that change
            compat.drop_row_data(table, rk)
            result.removed.append(str(rk.value))
    rows = [(key, [safe_cell(c) for c in cells]) for key, cells in rows]
    updated: list[tuple[RowKey, Any]] = []
    for key, cells in rows:
        row = data.get(RowKey(key))
        if row is not None:
            for col, val in zip(columns, cells, strict=True):
                if row.get(col) != val:  # type: ignore[call-overload]
                    row[col] = val  # type: ignore[index]
                    updated.append((RowKey(key), col))
        else:
            # appended at the end (no repaint of its own; its widths are measured below)
            table.add_row(*cells, key=key)
            result.added.append(key)
    keys = {rk.value: rk for rk in table.rows}
    if result.removed or compat.row_order(table) != wanted:
        compat.set_row_order(table, (keys[k] for k in wanted))
    new_cells = {k: tuple(c) for k, c in rows}
    lines = [i for i, k in enumerate(wanted)
             if i >= old_count or old_order[i] != k or old_cells.get(k) != new_cells[k]]
    result.changed = [wanted[i] for i in lines]
    if lines or result.removed:
        compat.invalidate_table_render(table)  # its render caches (and its row order)
    if updated:  # a longer value in a kept row widens its column (never cut mid-word)
        compat.widen_columns(table, updated)
    # measure new rows now, not when idle: lines repainted below must use final widths
    # (the table's render caches do not know about widths)
    compat.measure_new_rows(table)
    widths_changed = widths != [c.get_render_width(table) for c in table.ordered_columns]
    if widths_changed:
        compat.invalidate_table_render(table)  # lines rendered with the old widths are stale
    if len(wanted) != old_count or widths_changed:
        table.refresh()  # the table's height or columns change: everything moves
        result.full_refresh = True
    else:
        for i in lines:
            table.refresh_row(i)
    if result.removed:
        table.cursor_coordinate = table.cursor_coordinate  # keep it inside the table
        table.hover_coordinate = table.hover_coordinate
    if cursor_key is not None and cursor_key in wanted_set:
        idx = wanted.index(cursor_key)
        if table.cursor_row != idx:
            table.move_cursor(row=idx, animate=False, scroll=False)
    return result
