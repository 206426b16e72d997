"""The health pane: one row per check, worst first, "what is broken, since when, how badly".

Checks run on their own intervals through a :class:`CheckScheduler` (each check its own
asyncio task with its own timeout, so a hung target never holds the others or the UI); the
:class:`CheckTracker` applies ``failures_before_critical`` and records every state change.
``health_rows`` is a pure function of statuses (unit-tested without a terminal); the table is
updated by row key (``sync_table``, or only the rows whose cells changed when the order holds)
so the cursor stays on its check when rows re-sort and unchanged rows are never rewritten.
``enter`` opens the check's details and its history of state changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey, RowKey

from opsconsole.checks.engine import SEVERITY
from opsconsole.checks.scheduler import CheckScheduler
from opsconsole.checks.tracker import PENDING, CheckStatus, CheckTracker
from opsconsole.fmt import age, duration, one_line
from opsconsole.ui import compat
from opsconsole.ui.actions import ActionSpec, bindings
from opsconsole.ui.console import console_app
from opsconsole.ui.glyphs import g
from opsconsole.ui.panes.base import Pane
from opsconsole.ui.panes.health_details import (  # noqa: F401 - re-exported
    SYMBOL,
    WORD,
    HealthDetailsScreen,
    details_text,
    state_label,
)
from opsconsole.ui.styles import level_styles as theme_level_styles
from opsconsole.ui.widgets import selected_key, sparkline, sync_table
from opsconsole.ui.widgets.table import safe_cell

COLUMNS = ("STATE", "CHECK", "LATENCY", "FOR", "MESSAGE")
RANK = {PENDING: -1, **SEVERITY}  # worst first: CRITICAL, UNKNOWN, WARNING, OK, PENDING
NAME_W = 16
SPARK_W = 6
FIXED_W = 9 + NAME_W + (6 + 1 + SPARK_W) + 6 + 2 * len(COLUMNS)


def sort_statuses(statuses: Sequence[CheckStatus], now: datetime) -> list[CheckStatus]:
    """Worst first; within a state the longest-standing first; then by name."""
    def key(s: CheckStatus) -> tuple[int, float, str]:
        t = s.time_in_state(now)
        return (-RANK.get(s.state, 0), -(t or 0.0), s.name)

    return sorted(statuses, key=key)


def matches(s: CheckStatus, text: str) -> bool:
    f = text.lower().strip()
    if not f:
        return True
    hay = " ".join((s.name, s.kind, s.state, WORD.get(s.state, ""), s.message, s.target)).lower()
    return all(part in hay for part in f.split())


def latency_cell(s: CheckStatus) -> str:
    last = s.result.latency if s.result is not None else None
    lat = duration(last) if last is not None else "–"
    spark = sparkline(s.latencies, SPARK_W) if s.latencies else " " * SPARK_W
    return f"{lat:>6} {spark}"


RowCache = dict[str, tuple[CheckStatus, str, int, Any, tuple[Any, ...]]]


def health_rows(statuses: Sequence[CheckStatus], now: datetime, filter_text: str = "",
                message_width: int = 60, styles: dict[str, str] | None = None,
                cache: RowCache | None = None) -> list[tuple[str, tuple[Any, ...]]]:
    """[(row key, cells)] for the table: filtered, sorted worst first.

    With a ``cache`` (kept by the caller between calls), a check whose status, "for" text,
    width and styles are the same as last time gets the very same cells tuple back (not
    rebuilt, and recognisable by identity: its row needs no rewrite)."""
    st = styles or {}
    style_key = tuple(sorted(st.items()))
    width = max(message_width, 12)
    rows = []
    for s in sort_statuses([s for s in statuses if matches(s, filter_text)], now):
        t = s.time_in_state(now)
        for_text = age(t) if t is not None and s.state != PENDING else "–"
        hit = cache.get(s.name) if cache is not None else None
        if hit is not None and hit[0] is s and hit[1] == for_text and hit[2] == width \
                and hit[3] == style_key:
            rows.append((s.name, hit[4]))
            continue
        state = Text(state_label(s.state), style=st.get(s.state, ""))
        msg = s.message if s.state != PENDING else "not run yet"
        cells = (
            state,
            one_line(s.name, NAME_W),
            latency_cell(s),
            for_text,
            one_line(msg, width),
        )
        if hit is not None and hit[4] == cells:
            cells = hit[4]  # same as shown: keep the tuple the table has
        if cache is not None:
            cache[s.name] = (s, for_text, width, style_key, cells)
        rows.append((s.name, cells))
    return rows


def summary(statuses: Sequence[CheckStatus]) -> str:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.state] = counts.get(s.state, 0) + 1
    order = ("CRITICAL", "UNKNOWN", "WARNING", "OK", PENDING)
    parts = [f"{counts[k]} {WORD[k]}" for k in order if counts.get(k)]
    return " · ".join(parts) if parts else "no checks"


class _AppSink:
    """Records through whatever ``app.sink`` is at the time of the event (the incident work
    may swap in a sink that routes events to the active incident's timeline). Called from a
    worker thread: the sink must be thread-safe (JournalSink and MemorySink are)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None) -> Any:
        return self.app.sink.record(type, data, incident_id=incident_id)


class HealthPane(Pane):
    pane_id = "health"
    number = 1
    title = "Health"
    hint = "add checks: to the config file (see README: Configuration)"
    tick_seconds: ClassVar[float] = 0.5
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("health-details", "enter", "details", "details",
                   "Show the check's details and its history of state changes", priority=True),
        ActionSpec("health-run-now", "R", "run_now", "check now",
                   "Run every check now instead of waiting for its interval", key_display="R"),
    )
    # Pane.__init_subclass__ sets BINDINGS after Textual has merged them (so pane ACTIONS
    # would never be bound); declaring them in the class body makes them take effect.
    BINDINGS = bindings(ACTIONS)  # type: ignore[assignment]

    def __init__(self, specs: Sequence[Any] = (), config: Any = None, runner: Any = None,
                 tracker: CheckTracker | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.specs = list(specs)
        self.config = config
        self.runner = runner
        self._tracker = tracker
        self.clock = clock or (lambda: datetime.now(UTC))
        self.scheduler: CheckScheduler | None = None
        self._urgent = True  # a result changed a check's state: draw at the next tick
        self._drawn_states: dict[str, str] = {}  # each check's state as last drawn
        self._last_draw = 0.0
        self._keys: list[str] = []
        self._row_cache: RowCache = {}
        self._shown: dict[str, tuple[Any, ...]] = {}  # the cells the table has, by check
        self.rows_written = 0  # rows rewritten since mount (added or with changed cells)
        self.last_written: list[str] = []  # the rows the last redraw rewrote

    @property
    def tracker(self) -> CheckTracker:
        assert self._tracker is not None
        return self._tracker

    def compose_body(self) -> ComposeResult:
        from opsconsole.ui.alerts_view import AlertsStrip

        yield AlertsStrip(id="alerts-strip")  # the alerts above the checks (hidden if none)
        if not self.specs and self._tracker is None:
            yield Static(Text(f"no checks configured\n{self.hint}"),
                         classes="pane-body pane-empty")
            return
        table: DataTable[Any] = DataTable(classes="health-table", cursor_type="row",
                                          zebra_stripes=False)
        yield compat.bound_table_caches(table)

    def on_mount(self) -> None:
        super().on_mount()
        if not self.specs and self._tracker is None:
            self.state = "off"
            self.update_header()
            return
        table = self.query_one(".health-table", DataTable)
        widths = {"STATE": 9, "CHECK": NAME_W, "LATENCY": 6 + 1 + SPARK_W, "FOR": 6,
                  "MESSAGE": 12}
        for col in COLUMNS:
            table.add_column(col, key=col, width=widths[col])
        if self._tracker is None:
            self._tracker = CheckTracker(self.specs, sink=_AppSink(self.app))
        self.scheduler = CheckScheduler(self.specs, self.config, self.tracker,
                                        runner=self.runner, on_status=self._on_status)
        self.state = "live"
        self.redraw()
        self.set_interval(self.tick_seconds, self._tick)
        self._tick()

    def on_unmount(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()

    # ------------------------------------------------------------------ loop
    def _tick(self) -> None:
        if self.scheduler is None:
            return
        paused = bool(console_app(self).paused)
        state = "paused" if paused else "live"
        if state != self.state:
            self.state = state
            self.update_header()
        if not paused:
            self.scheduler.start_due()
        # Redraw at once when a check changed state; for other results (a new latency, the
        # same state's new message) and the "for 4m12s" column at the refresh interval, so a
        # burst of results is drawn once, not at every tick.
        now = self.app_time()
        interval = float(console_app(self).refresh_interval)
        if self._urgent or now - self._last_draw >= interval:
            self.redraw()

    def app_time(self) -> float:
        import time

        return time.monotonic()

    def _on_status(self, status: CheckStatus) -> None:
        if self._drawn_states.get(status.name) != status.state:
            self._urgent = True

    # ------------------------------------------------------------------ drawing
    def level_styles(self) -> dict[str, str]:
        styles = theme_level_styles(self.app.theme_variables, ("ok", "warning", "critical", "unknown"))
        return {**{level.upper(): style for level, style in styles.items()}, PENDING: ""}

    def redraw(self) -> None:
        if self._tracker is None:
            return
        self._urgent = False
        self._last_draw = self.app_time()
        statuses = self.tracker.statuses()
        self._drawn_states = {st.name: st.state for st in statuses}
        width = self.size.width or 80
        rows = health_rows(statuses, self.clock(), self.filter_text,
                           message_width=max(width - FIXED_W - 2, 12), styles=self.level_styles(),
                           cache=self._row_cache)
        try:
            table: DataTable[Any] = self.query_one(".health-table", DataTable)
        except Exception:
            return
        if not table.columns:
            return
        with self.app.batch_update():
            if self._fit_message_column(table, width):
                self._shown = {}  # every row is drawn again at the new width
            self.last_written = self._sync(table, rows)
        self.rows_written += len(self.last_written)
        if len(self._row_cache) > 2 * len(rows) + 16:  # checks filtered out, or gone
            keep = {k for k, _ in rows}
            self._row_cache = {k: v for k, v in self._row_cache.items() if k in keep}
        self._keys = [k for k, _ in rows]
        text = summary(statuses)
        if text != self.summary:
            self.summary = text
            self.update_header()

    def _sync(self, table: DataTable[Any], rows: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
        """Make the table show ``rows``; returns the keys of the rows rewritten.

        When the rows are the same checks in the same order as shown (the usual case: a few
        results came in), only the rows whose cells changed are written and repainted; an
        unchanged row is not touched. Otherwise :func:`sync_table` does the whole job."""
        keys = [k for k, _ in rows]
        shown = self._shown
        if keys != self._keys or len(shown) != len(keys) or table.row_count != len(keys):
            changes = sync_table(table, rows, COLUMNS)
            self._shown = dict(rows)
            return changes.added + [k for k in changes.changed if k not in changes.added]
        written: list[tuple[int, str]] = []
        data = compat.row_cells(table)
        for i, (key, cells) in enumerate(rows):
            old = shown.get(key)
            if old is cells:
                continue
            shown[key] = cells
            if old == cells:
                continue
            row = data[RowKey(key)]
            for col, val in zip(COLUMNS, cells, strict=True):
                row[col] = safe_cell(val)  # type: ignore[index]
            written.append((i, key))
        if written:
            compat.invalidate_table_render(table)  # rows off screen are drawn when scrolled to
            top, height = table.scroll_offset.y, table.size.height
            if height <= 0:
                table.refresh()
            else:  # refresh_row costs O(rows) each: only the lines on screen (one line a row)
                for i, _ in written:
                    if top - 1 <= i <= top + height:
                        table.refresh_row(i)
        return [k for _, k in written]

    def _fit_message_column(self, table: DataTable[Any], width: int) -> bool:
        """The message takes the rest of the pane's width (fixed, so it never scrolls);
        returns whether its width changed."""
        want = max(width - FIXED_W - 2, 12)
        col = table.columns.get(ColumnKey("MESSAGE"))  # type: ignore[call-overload]
        if col is None or col.width == want:
            return False
        col.width = want
        col.auto_width = False
        compat.forget_column_widths(table)
        table.refresh(layout=True)
        return True

    def apply_filter(self, text: str) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    # ------------------------------------------------------------------ alerts
    def show_alerts(self, view: Any) -> None:
        """Draw the alerts strip from the console's latest alerts view (ui/alerts_console)."""
        from opsconsole.ui.alerts_view import AlertsStrip

        try:
            strip = self.query_one(AlertsStrip)
        except Exception:
            return
        firing, pending, silenced = view.counts()
        title = Text()
        title.append("ALERTS", style="bold")
        counts = [f"{firing} firing"] * bool(firing) + [f"{pending} pending"] * bool(pending) \
            + [f"{silenced} silenced"] * bool(silenced)
        title.append(f" {g('·')} " + (", ".join(counts) or "none") + f" {g('·')} {view.who()}")
        was_shown = strip.has_class("-shown")
        styles = theme_level_styles(self.app.theme_variables, ("warning", "critical"))
        strip.show_rows(view.rows, title, {**styles, "info": ""})
        if view.rows and not was_shown and firing and self.has_class("-current"):
            self.focus_primary()

    def alerts_badge(self) -> Any:
        from opsconsole.ui.tabs import alerts_badge

        view = getattr(console_app(self), "alerts", None)
        if view is None:
            return alerts_badge(0, 0)
        rows = view.view.rows
        firing, pending, _ = view.view.counts()
        crit = any(r["state"] == "firing" and r["severity"] == "critical"
                   and not r.get("silenced_by") for r in rows)
        return alerts_badge(firing, pending, crit)

    def focus_primary(self) -> None:
        """The alerts when one fires (not silenced), else the checks."""
        from opsconsole.ui.alerts_view import AlertsTable

        try:
            alerts = self.query_one(AlertsTable)
        except Exception:
            alerts = None
        view = getattr(console_app(self), "alerts", None)
        if alerts is not None and view is not None and view.view.counts()[0]:
            alerts.focus()
            return
        try:
            self.query_one(".health-table", DataTable).focus()
        except Exception:
            super().focus_primary()

    # ------------------------------------------------------------------ actions
    def selected_check(self) -> str | None:
        try:
            table: DataTable[Any] = self.query_one(".health-table", DataTable)
        except Exception:
            return None
        return selected_key(table)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        focused = self.app.focused
        if action == "details" and not (isinstance(focused, DataTable)
                                        and focused.has_class("health-table")):
            return False  # enter in the filter box keeps the filter; on an alert, its own
        if action == "run_now" and not self.app.config.checks:
            return False  # nothing to run
        return super().check_action(action, parameters)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_details(self) -> None:
        from opsconsole.ui.alerts_view import AlertsTable

        if isinstance(self.app.focused, AlertsTable):  # enter on an alert: its runbook
            self.app.focused.action_alert_runbook()
            return
        name = self.selected_check()
        if name is None or self._tracker is None:
            return
        self.app.push_screen(HealthDetailsScreen(self.tracker, name, self.clock,
                                                 self.level_styles()))

    def action_run_now(self) -> None:
        if self.scheduler is not None and not console_app(self).paused:
            n = self.scheduler.run_now()
            self.notify(f"running {n} check(s) now" if n else "every check is already running",
                        title="health", timeout=3)
