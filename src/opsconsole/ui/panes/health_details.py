"""The health pane's details screen: one check's state, since when, its last result with
performance data and output, and its history of state changes (split from ``health``)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from opsconsole.checks.perfdata import with_unit
from opsconsole.checks.tracker import PENDING, CheckStatus, CheckTracker
from opsconsole.fmt import age, duration, human_bytes, one_line
from opsconsole.secrets import mask_command_line, mask_tokens
from opsconsole.text import for_terminal
from opsconsole.ui.widgets import sparkline
from opsconsole.ui.widgets.keybar import KeyBar

WORD = {"OK": "OK", "WARNING": "WARN", "CRITICAL": "CRIT", "UNKNOWN": "UNKNOWN", PENDING: "PENDING"}
SYMBOL = {"OK": "✓", "WARNING": "!", "CRITICAL": "✗", "UNKNOWN": "?", PENDING: "…"}


def state_label(state: str) -> str:
    return f"{SYMBOL.get(state, '?')} {WORD.get(state, state)}"


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
