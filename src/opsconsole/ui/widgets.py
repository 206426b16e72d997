"""Small widgets that repaint only what changed (see FIELD-NOTES: bytes over SSH)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

SPARK = "▁▂▃▄▅▆▇█"
ASCII_SPARK = "_.-=+*#@"


def sparkline(values: Iterable[float], width: int, top: float | None = None,
              chars: str = SPARK) -> str:
    """The last ``width`` values as a fixed-width sparkline (left-padded with spaces)."""
    vals = list(values)[-width:] if width > 0 else []
    if not vals:
        return " " * max(width, 0)
    hi = top if top is not None else max(max(vals), 1e-9)
    n = len(chars) - 1
    out = []
    for v in vals:
        frac = 0.0 if hi <= 0 else min(max(v / hi, 0.0), 1.0)
        out.append(chars[round(frac * n)])
    return " " * (width - len(out)) + "".join(out)


def bar(percent: float, width: int, fill: str = "|", empty: str = " ") -> str:
    """A htop-like bar of ``width`` cells for a percentage."""
    if width <= 0:
        return ""
    n = round(min(max(percent, 0.0), 100.0) / 100.0 * width)
    return fill * n + empty * (width - n)


class LineBlock(Widget):
    """A block of text lines that repaints only the lines whose content changed.

    ``set_lines`` takes Rich ``Text`` lines; unchanged lines are not sent to the terminal.
    """

    DEFAULT_CSS = """
    LineBlock { height: auto; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._lines: list[Text] = []
        self._keys: list[tuple[str, tuple]] = []
        self._strips: dict[int, tuple[int, Strip]] = {}
        self.repainted: tuple[int, ...] = ()  # lines the last set_lines asked to repaint
        self.full_repaints = 0  # set_lines calls that repainted everything (count changed)

    @property
    def lines(self) -> list[Text]:
        return list(self._lines)

    @property
    def plain(self) -> str:
        return "\n".join(t.plain for t in self._lines)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self._lines)

    def set_lines(self, lines: Sequence[Text]) -> None:
        keys = [(t.plain, tuple((s.start, s.end, str(s.style)) for s in t.spans) + (str(t.style),))
                for t in lines]
        if len(keys) != len(self._keys):
            self._lines = list(lines)
            self._keys = keys
            self._strips.clear()
            self.repainted = tuple(range(len(keys)))
            self.full_repaints += 1
            self.refresh(layout=True)
            return
        width = self.size.width
        repainted = []
        for y, key in enumerate(keys):
            if key != self._keys[y]:
                self._lines[y] = lines[y]
                self._keys[y] = key
                self._strips.pop(y, None)
                repainted.append(y)
                self.refresh(Region(0, y, max(width, 1), 1))
        self.repainted = tuple(repainted)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        cached = self._strips.get(y)
        if cached is not None and cached[0] == width:
            return cached[1]
        text = self._lines[y]
        base: Style = self.rich_style
        segments = list(text.render(self.app.console))
        segments = [Segment(s.text.replace("\n", " "), base + s.style if s.style else base)
                    for s in segments if not s.control]
        strip = Strip(segments).crop_extend(0, width, base)
        self._strips[y] = (width, strip)
        return strip

    def on_resize(self) -> None:
        self._strips.clear()


@dataclass
class TableSync:
    """What :func:`sync_table` did (for tests and curiosity)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # keys of the rows repainted
    full_refresh: bool = False  # the whole table was repainted (the row count changed)


def sync_table(table: object, rows: Sequence[tuple[str, Sequence[object]]],
               columns: Sequence[str]) -> TableSync:
    """Make a DataTable show ``rows`` ([(key, cells)], in order) without clearing it.

    Rows are removed/added/updated by key, changed cells only, then re-ordered; the cursor
    stays on the same row key (never jumps to another row because the data moved).

    Only the lines whose row or cells changed are repainted (``DataTable.update_cell`` would
    repaint the whole table for each cell, ``remove_row`` re-lays it out); when the number of
    rows or a column's width changes the whole table is repainted. Column widths are not re-measured for updated
    cells (as ``update_cell`` by default); new rows may widen columns (as ``add_row``).
    """
    from textual._two_way_dict import TwoWayDict
    from textual.widgets import DataTable
    from textual.widgets._data_table import RowKey

    assert isinstance(table, DataTable)
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        raise ValueError(f"sync_table: no such column(s) {unknown}; table has {list(table.columns)}")
    result = TableSync()
    cursor_key = None
    if table.row_count:
        try:
            cursor_key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        except Exception:
            cursor_key = None
    widths = [c.get_render_width(table) for c in table.ordered_columns]
    locations = table._row_locations
    old_order = [locations.get_key(i).value for i in range(table.row_count)]
    old_count = len(old_order)
    wanted = [k for k, _ in rows]
    wanted_set = set(wanted)
    data = table._data
    # what each row shows now, to repaint only the screen lines that change
    old_cells = {k: tuple(data[RowKey(k)].get(c) for c in columns)  # type: ignore[call-overload]
                 for k in old_order}
    for rk in list(table.rows):
        if rk.value not in wanted_set:
            # DataTable.remove_row repaints and re-lays-out the whole table; drop the row's
            # data here and let the repaint below cover only the lines that change
            del table.rows[rk]
            del data[rk]
            table._new_rows.discard(rk)
            table._updated_cells = {ck for ck in table._updated_cells if ck.row_key != rk}
            result.removed.append(str(rk.value))
    if result.removed:
        table._require_update_dimensions = True
    for key, cells in rows:
        row = data.get(RowKey(key))
        if row is not None:
            for col, val in zip(columns, cells, strict=True):
                if row.get(col) != val:  # type: ignore[call-overload]
                    row[col] = val  # type: ignore[index]
        else:
            # appended at the end (no repaint of its own; its widths are measured below)
            table.add_row(*cells, key=key)
            result.added.append(key)
    keys = {rk.value: rk for rk in table.rows}
    if result.removed or [table._row_locations.get_key(i).value
                          for i in range(table.row_count)] != wanted:
        # DataTable.sort() hands the key function row values, not row keys; order by key
        # directly (the same thing sort() does internally).
        table._row_locations = TwoWayDict({keys[k]: i for i, k in enumerate(wanted)})
    new_cells = {k: tuple(c) for k, c in rows}
    lines = [i for i, k in enumerate(wanted)
             if i >= old_count or old_order[i] != k or old_cells.get(k) != new_cells[k]]
    result.changed = [wanted[i] for i in lines]
    if lines or result.removed:
        table._update_count += 1  # drop the table's render caches (and its row order)
    if table._require_update_dimensions:
        # measure new rows now, not when idle: lines repainted below must use final widths
        # (the table's render caches do not know about widths)
        new_rows = set(table._new_rows)
        table._new_rows.clear()
        table._require_update_dimensions = False
        table._update_dimensions(new_rows)
    widths_changed = widths != [c.get_render_width(table) for c in table.ordered_columns]
    if widths_changed:
        table._update_count += 1  # lines rendered with the old widths are stale
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
