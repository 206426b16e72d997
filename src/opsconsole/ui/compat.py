"""Every use of a private Textual or Rich name, in one place.

opsconsole leans on a few internals where the public API would repaint too much (DataTable
updates, the compositor's output) or does not say what it dispatches (the binding chain of
a modal screen). Each one is wrapped here and checked by a canary test
(tests/ui/test_compat.py), so a Textual or Rich upgrade that renames or removes one fails
there, with its name, instead of somewhere in the UI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual._compositor import ChopsUpdate, CompositorUpdate, InlineUpdate, LayoutUpdate
from textual._two_way_dict import TwoWayDict
from textual.app import App
from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from opsconsole.ui import glyphs

__all__ = [
    "ChopsUpdate",
    "CompositorUpdate",
    "DiffDisplay",
    "LayoutUpdate",
    "add_app_binding",
    "ansi_codes",
    "binding_chain",
    "check_action_state",
    "clean_update",
    "color_system",
    "drop_row_data",
    "drop_stale_renders",
    "forget_column_widths",
    "invalidate_table_render",
    "is_terminal_key",
    "measure_new_rows",
    "row_cells",
    "row_order",
    "set_row_order",
]


# ---------------------------------------------------------------------- DataTable
def row_order(table: DataTable[Any]) -> list[str]:
    """The row keys in display order (``DataTable._row_locations``)."""
    locations = table._row_locations
    return [locations.get_key(i).value for i in range(table.row_count)]  # type: ignore[misc]


def row_cells(table: DataTable[Any]) -> dict[RowKey, dict[Any, Any]]:
    """The table's cell values by row key, then column key (``DataTable._data``)."""
    return table._data  # type: ignore[return-value]


def drop_row_data(table: DataTable[Any], rk: RowKey) -> None:
    """Forget a row without the repaint and re-layout of ``DataTable.remove_row``; the
    caller repaints the lines that change and calls :func:`measure_new_rows`."""
    del table.rows[rk]
    del table._data[rk]
    table._new_rows.discard(rk)
    table._updated_cells = {ck for ck in table._updated_cells if ck.row_key != rk}
    table._require_update_dimensions = True


def set_row_order(table: DataTable[Any], keys: Iterable[RowKey]) -> None:
    """Put the rows in this order (what ``DataTable.sort`` does internally; ``sort`` hands
    its key function row values, not row keys)."""
    table._row_locations = TwoWayDict({rk: i for i, rk in enumerate(keys)})


def invalidate_table_render(table: DataTable[Any]) -> None:
    """Drop the table's render caches (lines, and its row order)."""
    table._update_count += 1


# DataTable's render caches are sized for big tables that rarely change (10,000 cells, 1,000
# rows, renderables and lines) and keyed by the table's update count: a pane's table, which
# changes every refresh, fills them with renders that are never shown again, and the
# console's RSS grows for many minutes before they are full (bench/bench_soak.py: +45 MB in
# 8 minutes at a 1 s refresh). A pane shows at most a screenful of rows; these bounds keep
# a few refreshes' worth of a 200-column, 100-row table.
TABLE_CACHE_BOUNDS = {"_cell_render_cache": 1500, "_row_render_cache": 300,
                      "_row_renderable_cache": 300, "_line_cache": 300}


def bound_table_caches(table: DataTable[Any]) -> DataTable[Any]:
    """Lower the table's render cache sizes to :data:`TABLE_CACHE_BOUNDS` and drop its stale
    renders before each render (:func:`drop_stale_renders`); call it on a new table, before
    it renders. Returns the table."""
    for name, bound in TABLE_CACHE_BOUNDS.items():
        cache = getattr(table, name, None)
        if cache is not None and hasattr(cache, "maxsize"):
            cache.maxsize = min(cache.maxsize, bound)
    render_lines = table.render_lines
    seen = {"count": table._update_count}

    def render_lines_fresh(crop: Any) -> list[Strip]:
        if table._update_count != seen["count"]:
            seen["count"] = table._update_count
            drop_stale_renders(table)
        return render_lines(crop)

    table.render_lines = render_lines_fresh  # type: ignore[method-assign]
    return table


def drop_stale_renders(table: DataTable[Any]) -> None:
    """Forget the renders of older versions of the table. Every entry of the four render
    caches is keyed by the table's update count, so once the count moved on none of them
    can be looked up again; bounded caches alone keep them until they are pushed out, and a
    table that changes a few cells a refresh (the locks pane's 3 rows) takes many minutes
    to fill its bound: the soak's slow climb. Clearing them keeps each cache at about one
    render's worth of entries."""
    for name in TABLE_CACHE_BOUNDS:
        cache = getattr(table, name, None)
        if cache is not None:
            cache.clear()


def measure_new_rows(table: DataTable[Any]) -> None:
    """Measure rows added (or removed) since the last layout now, not when idle, so lines
    repainted next use the final column widths."""
    if table._require_update_dimensions:
        new_rows = set(table._new_rows)
        table._new_rows.clear()
        table._require_update_dimensions = False
        table._update_dimensions(new_rows)


def widen_columns(table: DataTable[Any], cells: Iterable[tuple[Any, Any]]) -> None:
    """Widen the columns whose updated cells (row key, column key) no longer fit (never
    narrows: that would re-measure the whole column for every cell, as update_cell does)."""
    from textual.widgets._data_table import default_cell_formatter
    from textual.widgets._data_table import measure as cell_measure

    console = table.app.console
    grown = False
    for row_key, column_key in cells:
        column, row = table.columns.get(column_key), table.rows.get(row_key)
        if column is None or row is None:
            continue
        renderable = default_cell_formatter(table._data[row_key][column_key],
                                            wrap=row.height != 1, height=row.height)
        width = cell_measure(console, renderable, 1)
        if width > column.content_width:
            column.content_width = width
            grown = True
    if grown:
        table._require_update_dimensions = True


def forget_column_widths(table: DataTable[Any]) -> None:
    """A column's width was set by hand: drop the caches and measure again."""
    table._clear_caches()
    table._require_update_dimensions = True


# ---------------------------------------------------------------------- App, bindings
def add_app_binding(app: App[Any], binding: Binding) -> None:
    """Add a binding to the app's own map after ``__init__`` (keymaps apply to it)."""
    app._bindings._add_binding(binding)


def binding_chain(screen: Screen[Any]) -> list[tuple[DOMNode, BindingsMap]]:
    """What Textual dispatches keys to on ``screen``, keymap applied, nearest first."""
    return screen._binding_chain


def check_action_state(app: App[Any], action: str, node: DOMNode) -> bool | None:
    """Whether ``action`` is enabled (True), disabled (None) or hidden (False) on ``node``."""
    return app._check_action_state(action, node)


def is_terminal_key(event: events.Event) -> bool:
    """A key as the terminal delivered it: ``App.on_event`` sees it first unforwarded, then
    (forwarded) when it bubbles back from the focused widget. ui/keyhold.py holds these."""
    return isinstance(event, events.Key) and not event.is_forwarded


# C0, DEL and C1: what a terminal may read as (part of) a control sequence. Each becomes
# one visible cell (C0 its control picture ␛ ␇ …, DEL ␡, C1 �) so a line grows by as few
# cells as possible (for_terminal's <U+009B> would take 8).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# ASCII mode (ui/glyphs.py: --ascii, TERM=linux, LANG=C): anything not printable ASCII
_NOT_ASCII = re.compile("[^\x20-\x7e]")


def _dirty_pattern() -> re.Pattern[str]:
    return _NOT_ASCII if glyphs.ascii_only() else _CONTROL
_ONE_CELL = {cp: chr(0x2400 + cp) for cp in range(0x20)} | {0x7F: "\u2421"} | {
    cp: "\ufffd" for cp in range(0x80, 0xA0)}


def _clean_strip(strip: Strip) -> Strip:
    """``strip`` with control characters in its segments' *text* made visible (Rich's own
    control segments, cursor moves the compositor adds, are left alone). The strip keeps
    its cell length: a control takes no cell, its picture one, so the end is cropped by
    one cell per control."""
    segments = list(strip)
    dirty = False
    for i, seg in enumerate(segments):
        if not seg.control and _dirty_pattern().search(seg.text):
            text = seg.text.translate(_ONE_CELL)
            if glyphs.ascii_only():
                text = glyphs.cells_to_ascii(text)
            segments[i] = Segment(text, seg.style, seg.control)
            dirty = True
    if not dirty:
        return strip
    return Strip(segments).adjust_cell_length(strip.cell_length)


def _clean_line(line: Iterable[Strip]) -> list[Strip]:
    return [_clean_strip(strip) for strip in line]


# Strips known to hold no control, by id. Textual reuses the strips of lines that did not
# change, so most of an update is a dict lookup. The dict holds the strip itself, so its id
# cannot be reused by another object while it is in here.
_KNOWN_CLEAN: dict[int, Strip] = {}
# the strips kept here stay alive (with their segments and Textual's per-strip caches): a
# 200x50 screen shows a few hundred; 8,192 held ~10 MB of strips nothing else needed any
# more (the soak's slow RSS climb after the table caches were bounded)
_KNOWN_MAX = 2048
_KNOWN_MODE = {"ascii": False}  # the mode the strips were checked in


def _has_control(strips: Iterable[Strip | None]) -> bool:
    known = _KNOWN_CLEAN
    if _KNOWN_MODE["ascii"] != glyphs.ascii_only():
        known.clear()
        _KNOWN_MODE["ascii"] = glyphs.ascii_only()
    search = _dirty_pattern().search
    for strip in strips:
        if strip is None or known.get(id(strip)) is strip:
            continue
        if search("".join([seg.text for seg in strip])):
            return True
        if len(known) >= _KNOWN_MAX:
            known.clear()
        known[id(strip)] = strip
    return False


def clean_update(update: RenderableType) -> RenderableType:
    """A compositor update whose text cannot carry a control character to the terminal.

    The last line of defence behind :mod:`opsconsole.text`: untrusted text that reached a
    widget raw (ESC of an OSC 52, BEL, a C1 CSI) is drawn visibly instead of being written.
    Costs a dict lookup per strip already seen and one regex scan of each new strip's
    text; the update is passed as it is unless it holds a control, and only then rebuilt."""
    if isinstance(update, ChopsUpdate):
        if not _has_control([strip for line in update.chops for strip in line.values()]):
            return update
        chops = [{x: None if strip is None else _clean_strip(strip) for x, strip in line.items()}
                 for line in update.chops]
        return ChopsUpdate(chops, update.spans, update.chop_ends)
    if isinstance(update, LayoutUpdate):
        # each line is a list or a dict view of strips: iterable more than once
        if not _has_control([strip for line in update.strips for strip in line]):
            return update
        return LayoutUpdate([_clean_line(line) for line in update.strips], update.region)
    if isinstance(update, InlineUpdate):
        if not _has_control(update.strips):
            return update
        return InlineUpdate(_clean_line(update.strips), update.clear)
    return update


class DiffDisplay:
    """App mixin: overrides ``App._display`` so Textual's whole-region repaints reach the
    terminal as only the cells that differ (``screen_diff``; None sends them as they are),
    and no update carries a control character inside its text (:func:`clean_update`)."""

    screen_diff: Any = None  # a ui.screendiff.ScreenDiff

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        app: Any = self
        if renderable is not None:
            renderable = clean_update(renderable)
        if (self.screen_diff is not None and not app.is_inline
                and isinstance(renderable, ChopsUpdate | LayoutUpdate)):
            from opsconsole.ui.screendiff import DiffUpdate

            renderable = DiffUpdate(renderable, self.screen_diff, app.size)
        super()._display(screen, renderable)  # type: ignore[misc]


# ---------------------------------------------------------------------- Rich
def color_system(console: Console) -> Any:
    """The console's colour system (None: no colour)."""
    return console._color_system


def ansi_codes(style: Style, system: Any) -> str:
    """The SGR parameters Rich sends for ``style``."""
    return style._make_ansi_codes(system)
