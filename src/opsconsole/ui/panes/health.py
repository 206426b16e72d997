"""The health pane: one row per check, worst first, "what is broken, since when, how badly".

Checks run on their own intervals through a :class:`CheckScheduler` (each check its own
asyncio task with its own timeout, so a hung target never holds the others or the UI); the
:class:`CheckTracker` applies ``failures_before_critical`` and records every state change.
``health_rows`` is a pure function of statuses (unit-tested without a terminal); the table is
updated by row key with ``sync_table`` so the cursor stays on its check when rows re-sort.
``enter`` opens the check's details and its history of state changes.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from opsconsole.checks.engine import SEVERITY
from opsconsole.checks.perfdata import with_unit
from opsconsole.checks.scheduler import CheckScheduler
from opsconsole.checks.tracker import PENDING, CheckStatus, CheckTracker
from opsconsole.fmt import age, duration, human_bytes, one_line
from opsconsole.secrets import mask_command_line, mask_tokens
from opsconsole.text import for_terminal
from opsconsole.ui import compat
from opsconsole.ui.actions import ActionSpec, bindings
from opsconsole.ui.console import console_app
from opsconsole.ui.panes.base import Pane
from opsconsole.ui.styles import level_styles as theme_level_styles
from opsconsole.ui.widgets import selected_key, sparkline, sync_table
from opsconsole.ui.widgets.keybar import KeyBar

COLUMNS = ("STATE", "CHECK", "LATENCY", "FOR", "MESSAGE")
WORD = {"OK": "OK", "WARNING": "WARN", "CRITICAL": "CRIT", "UNKNOWN": "UNKNOWN", PENDING: "PENDING"}
SYMBOL = {"OK": "✓", "WARNING": "!", "CRITICAL": "✗", "UNKNOWN": "?", PENDING: "…"}
RANK = {PENDING: -1, **SEVERITY}  # worst first: CRITICAL, UNKNOWN, WARNING, OK, PENDING
NAME_W = 16
SPARK_W = 6
FIXED_W = 9 + NAME_W + (6 + 1 + SPARK_W) + 6 + 2 * len(COLUMNS)


def state_label(state: str) -> str:
    return f"{SYMBOL.get(state, '?')} {WORD.get(state, state)}"


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


def health_rows(statuses: Sequence[CheckStatus], now: datetime, filter_text: str = "",
                message_width: int = 60, styles: dict[str, str] | None = None,
                ) -> list[tuple[str, tuple[Any, ...]]]:
    """[(row key, cells)] for the table: filtered, sorted worst first."""
    st = styles or {}
    rows = []
    for s in sort_statuses([s for s in statuses if matches(s, filter_text)], now):
        t = s.time_in_state(now)
        state = Text(state_label(s.state), style=st.get(s.state, ""))
        msg = s.message if s.state != PENDING else "not run yet"
        rows.append((s.name, (
            state,
            one_line(s.name, NAME_W),
            latency_cell(s),
            age(t) if t is not None and s.state != PENDING else "–",
            one_line(msg, max(message_width, 12)),
        )))
    return rows


def summary(statuses: Sequence[CheckStatus]) -> str:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.state] = counts.get(s.state, 0) + 1
    order = ("CRITICAL", "UNKNOWN", "WARNING", "OK", PENDING)
    parts = [f"{counts[k]} {WORD[k]}" for k in order if counts.get(k)]
    return " · ".join(parts) if parts else "no checks"


OUTPUT_LINES = 8  # of a plugin's output shown until `o` shows it all


def perfdata_text(s: CheckStatus) -> Text:
    """The plugin's performance data: each label with its value in units, thresholds and
    a sparkline of its last values (the tracker keeps them)."""
    t = Text()
    if s.result is None or not s.result.perfdata:
        return t
    history = dict(s.perf_history)
    items = s.result.perfdata
    label_w = min(max(len(d.label) for d in items), 24)
    t.append("\nPerformance data\n", style="bold underline")
    for d in items:
        limits = [f"{k} {v}" for k, v in (("warn", d.warn), ("crit", d.crit)) if v]
        limits += [f"{k} {with_unit(v, d.uom)}" for k, v in (("min", d.min), ("max", d.max))
                   if v is not None]
        values = history.get(d.label, ())
        spark = sparkline(values, min(len(values), 20)) if len(values) > 1 else ""
        t.append(f"  {one_line(d.label, label_w):<{label_w}}  "
                 f"{one_line(with_unit(d.value, d.uom), 16):>16}  {spark}")
        if limits:
            t.append(f"  ({one_line(' · '.join(limits), 80)})", style="dim")
        t.append("\n")
    skipped = s.result.details.get("perfdata_skipped")
    if skipped:
        t.append(f"  {skipped} malformed item(s) skipped\n", style="dim")
    return t


def has_more_output(r: Any) -> bool:
    return len(str(r.details.get("output", "")).splitlines()) > OUTPUT_LINES


def output_text(r: Any, full: bool) -> Text:
    """The plugin's output: the first lines, or all of them with ``full``, saying how many
    lines are not shown and whether the output was cut at ``max_output``."""
    t = Text()
    lines = str(r.details.get("output", "")).splitlines()
    shown = lines if full else lines[:OUTPUT_LINES]
    t.append("  output:\n")
    for line in shown:
        t.append(f"    {one_line(mask_tokens(line), 150)}\n")
    hidden = len(lines) - len(shown)
    if hidden:
        t.append(f"    … +{hidden} lines (o shows all)\n", style="italic")
    elif full and len(lines) > OUTPUT_LINES:
        t.append(f"    ({len(lines)} lines; o shows the first {OUTPUT_LINES})\n", style="italic")
    if r.details.get("output_truncated"):
        t.append(f"    (output cut at {human_bytes(len(str(r.details.get('output', ''))))} of "
                 f"{human_bytes(r.details.get('output_bytes') or 0)})\n", style="italic")
    return t


def masked(text: object) -> str:
    """Text shown in check details with its secrets masked: a command check's command line
    (``check_pgsql -p pw``, ``--password=…``) word by word, anything else token by token."""
    raw = str(text)
    try:
        words = shlex.split(raw)
    except ValueError:
        return str(mask_command_line(raw))
    if not words:
        return raw
    out = mask_command_line(words)
    return raw if list(out) == words else shlex.join(out)


def details_text(s: CheckStatus, now: datetime, styles: dict[str, str] | None = None,
                 full_output: bool = False) -> Text:
    """The details screen body: state and since when, last result, performance data,
    history of changes; ``full_output`` shows all of a plugin's output."""
    st = styles or {}
    t = Text()
    t.append(one_line(s.name), style="bold")
    t.append("  (" + one_line(f"{s.kind}{' · ' + masked(s.target) if s.target else ''}") + ")\n\n")
    t.append(state_label(s.state), style=st.get(s.state, "bold"))
    since = s.time_in_state(now)
    if since is not None and s.state != PENDING:
        t.append(f" for {age(since)}")
        if s.since is not None:
            t.append(f" (since {s.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)")
    if s.soft:
        t.append(f"  · {s.failures} consecutive failure(s), not critical yet")
    t.append("\n")
    t.append(for_terminal(mask_tokens(str(s.message)), keep_newlines=True) + "\n", style="")
    if s.result is not None:
        r = s.result
        t.append(f"\nlast run  {r.checked_at.astimezone(UTC):%H:%M:%S} UTC · raw state {r.state}")
        if r.latency is not None:
            t.append(f" · latency {duration(r.latency)}")
        t.append("\n")
        if s.latencies:
            lats = list(s.latencies)
            t.append(f"latency   {sparkline(lats, min(len(lats), 40))}  min {duration(min(lats))}"
                     f" · max {duration(max(lats))} · {len(lats)} runs\n")
        t.append_text(perfdata_text(s))
        if r.details:
            t.append("\nDetails\n", style="bold underline")
            for k, v in r.details.items():
                if k in ("perfdata", "perfdata_skipped", "long_output_lines"):
                    continue  # shown above, or by the output itself
                if k == "output":
                    t.append_text(output_text(r, full_output))
                    continue
                if k == "processes" and isinstance(v, list):
                    t.append(f"  {k}:\n")
                    for p in v[:10]:
                        cpu = "–" if p.get("cpu") is None else f"{p.get('cpu')}%"
                        t.append("    " + one_line(f"pid {p.get('pid')}  {masked(p.get('name'))}  cpu {cpu}"
                                                   f"  mem {p.get('mem')}%") + "\n")
                    continue
                t.append(f"  {k}: {one_line(masked(v), 150)}\n")
    t.append("\nState changes (newest first)\n", style="bold underline")
    if not s.changes:
        t.append("  none yet\n")
    for c in reversed(s.changes):
        old = WORD.get(c.old, c.old) if c.old else "start"
        t.append(f"  {c.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}  ")
        t.append(f"{old} → ")
        t.append(WORD.get(c.new, c.new), style=st.get(c.new, "bold"))
        t.append(f"  {one_line(mask_tokens(str(c.message)), 100)}\n")
    return t


class HealthDetailsScreen(Screen[None]):
    """One check: state, since when, last result and its details, history of changes."""

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("escape,q", "close", "back", id="health-details-close"),
        Binding("o", "toggle_output", "full output", id="health-details-output"),
    ]
    DEFAULT_CSS = """
    HealthDetailsScreen { background: $surface; }
    #health-details-box { padding: 0 1; height: 1fr; }
    #health-details-foot { height: 1; padding: 0 1; }
    """

    def __init__(self, tracker: CheckTracker, name: str, clock: Callable[[], datetime],
                 styles: dict[str, str] | None = None) -> None:
        super().__init__(id="health-details")
        self.tracker = tracker
        self.check_name = name
        self.clock = clock
        self.state_styles = styles or {}
        self.full_output = False
        self._last = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="health-details-box"):
            yield Static(self._text(), id="health-details-text")
        yield Static(Text("escape closes · ↑↓ pgup pgdn home end scroll", style="italic"),
                     id="health-details-foot")  # fixed: never scrolls away
        yield KeyBar()

    def _text(self) -> Text:
        return details_text(self.tracker.status(self.check_name), self.clock(), self.state_styles,
                            self.full_output)

    def on_mount(self) -> None:
        self.query_one("#health-details-box", VerticalScroll).focus()  # the keys scroll it
        self.set_interval(1.0, self.redraw)

    def redraw(self) -> None:
        text = self._text()
        if text.plain != self._last:  # repaint only when something changed
            self._last = text.plain
            self.query_one("#health-details-text", Static).update(text)
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_output":  # offered only when there is more output to see
            r = self.tracker.status(self.check_name).result
            return r is not None and has_more_output(r)
        return super().check_action(action, parameters)

    def action_toggle_output(self) -> None:
        """Show all of a plugin's output (scroll through it), or its first lines again."""
        self.full_output = not self.full_output
        self.redraw()

    def action_close(self) -> None:
        self.dismiss(None)


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
        self._dirty = True
        self._last_draw = 0.0
        self._keys: list[str] = []

    @property
    def tracker(self) -> CheckTracker:
        assert self._tracker is not None
        return self._tracker

    def compose_body(self) -> ComposeResult:
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
        table = self.query_one(DataTable)
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
        # Redraw when results came in, and for the "for 4m12s" column at the refresh interval.
        now = self.app_time()
        interval = float(console_app(self).refresh_interval)
        if self._dirty or now - self._last_draw >= interval:
            self.redraw()

    def app_time(self) -> float:
        import time

        return time.monotonic()

    def _on_status(self, status: CheckStatus) -> None:
        self._dirty = True

    # ------------------------------------------------------------------ drawing
    def level_styles(self) -> dict[str, str]:
        styles = theme_level_styles(self.app.theme_variables, ("ok", "warning", "critical", "unknown"))
        return {**{level.upper(): style for level, style in styles.items()}, PENDING: ""}

    def redraw(self) -> None:
        if self._tracker is None:
            return
        self._dirty = False
        self._last_draw = self.app_time()
        statuses = self.tracker.statuses()
        width = self.size.width or 80
        rows = health_rows(statuses, self.clock(), self.filter_text,
                           message_width=max(width - FIXED_W - 2, 12), styles=self.level_styles())
        try:
            table: DataTable[Any] = self.query_one(DataTable)
        except Exception:
            return
        if not table.columns:
            return
        with self.app.batch_update():
            self._fit_message_column(table, width)
            sync_table(table, rows, COLUMNS)
        self._keys = [k for k, _ in rows]
        text = summary(statuses)
        if text != self.summary:
            self.summary = text
            self.update_header()

    def _fit_message_column(self, table: DataTable[Any], width: int) -> None:
        """The message takes the rest of the pane's width (fixed, so it never scrolls)."""
        want = max(width - FIXED_W - 2, 12)
        col = table.columns.get(ColumnKey("MESSAGE"))  # type: ignore[call-overload]
        if col is None or col.width == want:
            return
        col.width = want
        col.auto_width = False
        compat.forget_column_widths(table)
        table.refresh(layout=True)

    def apply_filter(self, text: str) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    # ------------------------------------------------------------------ actions
    def selected_check(self) -> str | None:
        try:
            table: DataTable[Any] = self.query_one(DataTable)
        except Exception:
            return None
        return selected_key(table)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "details" and not isinstance(self.app.focused, DataTable):
            return False  # enter in the filter box keeps the filter
        return super().check_action(action, parameters)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_details(self) -> None:
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
