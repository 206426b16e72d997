"""The wall's text, from a :class:`WallView` (pure: no widget, no I/O).

States are always written in words (OVERDUE, FIRING, CRITICAL), so a wall without colour
(``NO_COLOR``, ``TERM=linux``) says the same; glyphs go through :func:`glyphs.g`. Every
string from outside was made one safe line by the model (``one_line``); here lines are only
joined, never cut: a name wraps whole to the next line instead.
"""

from __future__ import annotations

from rich.text import Text

from opsconsole.fmt import age
from opsconsole.ui.glyphs import g
from opsconsole.ui.wall.wall_model import (
    STALE_AFTER,
    BoardRow,
    IncidentView,
    RunningStep,
    WallView,
    clock_text,
    clock_unit,
    elapsed,
)

OVERDUE_STYLE = "bold reverse red"
SEV_STYLE = ("bold reverse red", "bold reverse yellow", "bold reverse", "bold")


def sev_style(rank: int) -> str:
    return SEV_STYLE[min(rank, len(SEV_STYLE) - 1)]


def head_text(inc: IncidentView) -> Text:
    """`` SEV1  INVESTIGATING  INC-…  title`` (severity and status large by style)."""
    t = Text()
    t.append(f" {inc.severity} ", style=sev_style(inc.severity_rank))
    t.append("  ")
    t.append(f" {inc.status.upper()} ", style="bold reverse")
    t.append("  ")
    t.append(inc.id, style="bold")
    t.append("  ")
    t.append(inc.title, style="bold")
    return t


def response_label(inc: IncidentView) -> str:
    if inc.response_seconds is None:
        return inc.response_text.upper() if inc.response_text != "–" else "RESPONSE –"
    unit = clock_unit(abs(inc.response_seconds), countdown=True)
    if inc.overdue:
        return f"RESPONSE OVERDUE BY  {unit}"
    return f"RESPONSE TARGET: LEFT  {unit}"


def since_label(inc: IncidentView) -> str:
    if inc.started_seconds is None:
        return "SINCE START"
    return f"SINCE START  {clock_unit(inc.started_seconds)}"


def response_digits(inc: IncidentView) -> str:
    if inc.response_seconds is None:
        return ""
    return ("-" if inc.overdue else "") + clock_text(abs(inc.response_seconds), countdown=True)


def clocks_text(inc: IncidentView) -> Text:
    """The clocks as one line of text (below 120x36, where no big digits are drawn)."""
    t = Text()
    t.append("since start ", style="bold")
    t.append(elapsed(inc.started_seconds) if inc.started_seconds is not None else "–")
    t.append(f"  {g('·')}  response ", style="bold")
    t.append(("! " if inc.overdue else "") + inc.response_text,
             style=OVERDUE_STYLE if inc.overdue else "")
    if inc.update_text:
        t.append(f"  {g('·')}  ")
        t.append(inc.update_text, style=OVERDUE_STYLE if inc.update_overdue else "")
    return t


def roles_text(inc: IncidentView) -> Text:
    t = Text()
    for n, role in enumerate(("commander", "scribe", "communications")):
        if n:
            t.append(f"  {g('·')}  ")
        t.append(f"{role} ", style="bold")
        t.append(inc.roles.get(role, "none"), style="" if role in inc.roles else "italic")
    if inc.present:
        t.append(f"  {g('·')}  ")
        t.append("open on: ", style="bold")
        t.append(", ".join(inc.present))
    return t


def step_lines(steps: list[RunningStep], now_ts: float, with_incident: bool = False) -> Text:
    t = Text()
    for n, r in enumerate(steps):
        if n:
            t.append("\n")
        t.append(f"{g('▶')} RUNNING ", style="bold reverse")
        t.append(" ")
        t.append(r.runbook_title, style="bold")
        t.append(f"  step {r.step}: ")
        t.append(r.step_title, style="bold")
        t.append(f"  {g('·')}  by {r.who}  {g('·')}  for "
                 f"{elapsed(max(now_ts - r.started_at.timestamp(), 0))}")
        if with_incident and r.incident_id:
            t.append(f"  {g('·')}  {r.incident_id}")
        t.append("\n  next: ", style="bold")
        t.append(r.next_title or "–")
    return t


def others_text(incs: list[IncidentView]) -> Text:
    """The other open incidents, one line each."""
    t = Text()
    for n, inc in enumerate(incs):
        if n:
            t.append("\n")
        t.append(f" {inc.severity} ", style=sev_style(inc.severity_rank))
        t.append(f" {inc.status.upper()}  {inc.id}  ")
        t.append(inc.title)
        t.append(f"  {g('·')}  since ")  # to the minute: the big clock is the worst one's
        t.append(age(inc.started_seconds, coarse=True) if inc.started_seconds is not None
                 else "–")
        t.append(f"  {g('·')}  response ")
        t.append(("! " if inc.overdue else "") + inc.response_text,
                 style=OVERDUE_STYLE if inc.overdue else "")
    return t


def timeline_text(inc: IncidentView) -> Text:
    t = Text()
    t.append("LAST EVENTS (newest first)", style="bold underline")
    for hms, who, sentence in inc.timeline:
        t.append("\n")
        t.append(hms, style="bold")
        t.append(f"  {who}  ")
        t.append(sentence)
    if not inc.timeline:
        t.append("\nnothing recorded yet")
    return t


def board_row(t: Text, row: BoardRow) -> None:
    bad = row.state in ("FIRING", "CRITICAL", "NO DATA", "UNKNOWN")
    t.append(f"{g('●') if bad else g('▲')} {row.state}", style="bold reverse red" if bad
             else "bold yellow")
    t.append(f"  {row.kind} ")
    t.append(row.name, style="bold")
    if row.for_seconds is not None:
        t.append(f"  for {elapsed(row.for_seconds)}")
    if row.detail:
        t.append(f"  {g('·')}  {row.detail}")


def board_text(view: WallView, title: str = "HEALTH AND ALERTS") -> Text:
    t = Text()
    t.append(title, style="bold underline")
    if view.alerts_stale:
        t.append("\n")
        t.append(" ALERTS STALE ", style="bold reverse red")
        t.append(f"  {view.alerts_stale}")
    if not view.board:
        t.append("\n")
        t.append(f"{g('✓')} ALL GREEN", style="bold green")
        t.append(f"  {view.checks_known} check(s) recorded, {view.alerts_known} alert(s) "
                 "known, none firing or failing")
    for row in view.board:
        t.append("\n")
        board_row(t, row)
    return t


def status_board_text(view: WallView, now_ts: float) -> Text:
    """No open incident: the status page (what is not green, with for how long)."""
    t = Text()
    t.append(" NO OPEN INCIDENT ", style="bold reverse green")
    t.append("\n\n")
    t.append_text(board_text(view, "NOT GREEN"))
    if view.other_steps:
        t.append("\n\n")
        t.append_text(step_lines(view.other_steps, now_ts, with_incident=True))
    return t


def small_print(view: WallView, clock: str) -> Text:
    t = Text()
    t.append(f"host {view.host}  {g('·')}  {clock}  {g('·')}  data ")
    if view.data_age is None:
        t.append("never read")
    elif view.live:  # read within STALE_AFTER: an age ticking each second would say nothing
        t.append(f"read within {STALE_AFTER:g}s")
    else:
        t.append(f"{age(view.data_age)} old")  # stale: to the second
    t.append("  ")
    if view.live:
        t.append(" LIVE ", style="bold reverse green")
    else:
        t.append(" STALE ", style="bold reverse red")
    if view.error:
        t.append(f"  {view.error}")
    t.append(f"  {g('·')}  read-only · q quits")
    return t
