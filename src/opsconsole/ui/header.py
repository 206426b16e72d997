"""The console's header line: ``opsconsole · host · ● LIVE every 2s · 21:43 UTC``, with the
active incident when there is one; and, while events cannot be written (a full or read-only
disk), a second line: ``recording failed: disk full — events kept in memory, 3 pending``."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from opsconsole.fmt import age
from opsconsole.ui.glyphs import g
from opsconsole.ui.runbook_runs import with_running_step

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp


class ConsoleHeader(Static):
    """The header widget. Calm: repaints when the text changes (the clock shows minutes
    unless ``clock_seconds``)."""

    DEFAULT_CSS = """
    ConsoleHeader { height: 1; }
    ConsoleHeader.-alert { height: 2; }
    """

    def __init__(self) -> None:
        super().__init__("", id="console-header")
        self._last = ""

    def show(self, text: Text, alert: Text | None = None) -> None:
        """The header line; ``alert`` (if any) is a second line under it."""
        content = text if alert is None else Text("\n").join([text, alert])
        if content.plain != self._last:
            grows = (alert is not None) != self.has_class("-alert")
            self._last = content.plain
            self.set_class(alert is not None, "-alert")
            # one line, usually: re-layout the screen only when the alert line comes or goes
            self.update(content, layout=grows)


def recording_text(app: OpsConsoleApp, width: int) -> Text | None:
    """``recording failed: disk full — events kept in memory, 3 pending`` while the sink
    keeps events it could not write (None when everything is written)."""
    pending = int(getattr(app.sink, "pending", 0) or 0)
    failure = getattr(app.sink, "failure", None)
    if not pending and not failure:
        # the shared store (issue 17): "shared store unreachable — recording locally (N
        # waiting)"; a counter the store keeps, no I/O here
        status = getattr(app.incident_store, "status_line", None)
        line = status() if callable(status) else None
        if not line:
            return None
        t = Text(f" {g('✖')} {line.replace('—', g('—'))} ", style="bold reverse")
        if t.cell_len > width:
            t.truncate(max(width - len(g("…")), 0))
            t.append(g("…"))
        return t
    why = str(failure or "cannot write").split(" (")[0]
    t = Text(f" {g('✖')} recording failed: {why} {g('—')} events kept in memory, {pending} pending; "
             "retrying ", style="bold reverse")
    if t.cell_len > width:
        t.truncate(max(width - len(g("…")), 0))
        t.append(g("…"))
    return t


def header_text(app: OpsConsoleApp, width: int) -> Text:
    """The header line. The state and the clock always show; when the line is too long
    for ``width`` (an 80-column SSH window with an active incident), the brand goes
    first, then words, then the host and incident are cut with an ellipsis."""
    now = app.services.clock().astimezone(UTC)
    clock = now.strftime("%H:%M:%S" if app.config.clock_seconds else "%H:%M")
    extra = with_running_step(app, header_extra(app))  # ▶ runbook … step 2/7 … 42s
    dot = g("·")

    def right(long: bool) -> Text:
        r = Text()
        if app.paused:
            r.append(f"{g('‖')} PAUSED", style="bold")
        else:
            r.append(f"{g('●')} LIVE every {app.refresh_interval:g}s" if long
                     else f"{g('●')} LIVE {app.refresh_interval:g}s")
        if app.read_only:
            r.append(f" {dot} READ-ONLY" if long else f" {dot} RO", style="bold")
        r.append(f" {dot} {clock} UTC")
        return r

    def left(brand: bool) -> Text:
        t = Text()
        if brand:
            t.append(" opsconsole ", style="bold reverse")
        t.append(f" {app.services.hostname} ")
        who = alerts_who(app)
        if who:
            t.append(f" {dot} {who}")
        if extra:
            t.append(f" {dot} ")
            t.append_text(extra)
        t.append(f" {dot} ")
        return t

    for brand, long in ((True, True), (False, True), (False, False)):
        line = left(brand) + right(long)
        if line.cell_len <= width:
            return line
    r = right(False)
    room = max(width - r.cell_len, 0)
    lt = left(False)
    if lt.cell_len > room:
        ell = g("…")[:room]
        lt.truncate(max(room - len(ell), 0))
        lt.append(ell)
    return lt + r


def alerts_who(app: OpsConsoleApp) -> str:
    """Who evaluates the alerts (``alerts: this console``), once the console knows."""
    alerts = getattr(app, "alerts", None)
    if alerts is None or not alerts.ticks:
        return ""
    from opsconsole.text import one_line

    return one_line(alerts.view.who(), 60)


def header_extra(app: OpsConsoleApp) -> Text | None:
    """The active incident: ``INC-20261124-3 SEV2 investigating 12m``."""
    if not app.active_incident:
        return None
    t = Text()
    t.append(f"{g('▲')} {app.active_incident}", style="bold")
    try:
        state = app.pane("incidents").states.get(app.active_incident)  # type: ignore[attr-defined]
    except (LookupError, AttributeError):
        state = None
    if state is not None:
        t.append(f" {state.severity} {state.status}", style="bold")
        if state.started_at is not None:
            since = (app.services.clock() - state.started_at).total_seconds()
            t.append(f" {age(since, coarse=True)}")
    return t
