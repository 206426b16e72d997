"""The tab line under the header: every pane with its worst state, so a red pane shows
while another one is focused — ``[1 Health ✗2]│ 2 Resources │ 3 Slow │ 4 Locks ●1 │ 5 Incidents SEV1``.

Each badge is a pure function of the pane's latest snapshot (unit-tested without a
terminal); a stale pane says ``STALE`` whatever its last data said.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from opsconsole.ui.glyphs import g

SHORT = {"health": "Health", "resources": "Resources", "slow": "Slow", "locks": "Locks",
         "incidents": "Incidents"}
ORDER = ("health", "resources", "slow", "locks", "incidents")


@dataclass(frozen=True)
class Badge:
    """What a tab says after its title: ``✗2``, ``!1``, ``●3``, ``SEV1``, ``STALE`` or ""."""

    text: str = ""
    level: str = "ok"  # ok | warning | critical | stale

    def __bool__(self) -> bool:
        return bool(self.text)


NONE = Badge()
STALE = Badge("STALE", "stale")


def health_badge(statuses: Iterable[Any]) -> Badge:
    """Checks not OK: ``✗n`` counts CRITICAL and UNKNOWN, ``!n`` WARNING (both when both)."""
    crit = warn = 0
    for s in statuses:
        if s.state in ("CRITICAL", "UNKNOWN"):
            crit += 1
        elif s.state == "WARNING":
            warn += 1
    parts = ([f"{g('✗')}{crit}"] if crit else []) + ([f"!{warn}"] if warn else [])
    if not parts:
        return NONE
    return Badge(" ".join(parts), "critical" if crit else "warning")


def resources_badge(snap: Any, thresholds: Any) -> Badge:
    """Figures at or over their warning threshold: total CPU, memory, swap, 1-minute load
    per core, each filesystem. ``✗n`` when one is critical, else ``!n``."""
    if snap is None:
        return NONE
    levels = [thresholds.cpu.level(snap.cpu_total), thresholds.memory.level(snap.mem_percent)]
    if snap.swap_total:
        levels.append(thresholds.swap.level(snap.swap_percent))
    if snap.load:
        levels.append(thresholds.load.level(snap.load[0] / max(snap.cores, 1)))
    levels += [thresholds.disk.level(fs.percent) for fs in snap.filesystems]
    over = [lv for lv in levels if lv in ("warning", "critical")]
    if not over:
        return NONE
    if "critical" in over:
        return Badge(f"{g('✗')}{len(over)}", "critical")
    return Badge(f"!{len(over)}", "warning")


def slow_badge(snap: Any) -> Badge:
    """Sessions running (or idle in a transaction) longer than the slow threshold: ``●n``.
    The top-statements view counts nothing (no running sessions in it)."""
    backends = getattr(snap, "backends", None)
    if backends is None:
        return NONE
    limit = float(getattr(snap, "min_duration", 0.0) or 0.0)
    n = sum(1 for b in backends if b.age is not None and b.age >= limit)
    return Badge(f"{g('●')}{n}", "warning") if n else NONE


def locks_badge(snap: Any) -> Badge:
    """Blocked sessions (waiting on another one's lock): ``●n``."""
    nodes = getattr(snap, "nodes", None)
    if nodes is None:
        return NONE
    n = sum(1 for node in nodes if node.blocked_by)
    return Badge(f"{g('●')}{n}", "critical") if n else NONE


def incidents_badge(states: Iterable[Any]) -> Badge:
    """The worst severity among open incidents (``SEV1``), with ``+n`` when there are more."""
    open_ = sorted((s for s in states if s.is_open), key=lambda s: s.severity_rank)
    if not open_:
        return NONE
    more = f"+{len(open_) - 1}" if len(open_) > 1 else ""
    worst = open_[0].severity
    return Badge(f"{worst}{more}", "critical" if worst in ("SEV1", "SEV2") else "warning")


def alerts_badge(firing: int, pending: int, critical: bool = False) -> Badge:
    """Alerts not silenced: ``▲n`` firing, ``△n`` pending (both when both)."""
    parts = ([f"{g('▲')}{firing}"] if firing else []) + ([f"{g('△')}{pending}"] if pending else [])
    if not parts:
        return NONE
    return Badge(" ".join(parts), "critical" if firing and critical else "warning")


def with_alerts(badge: Badge, alerts: Badge) -> Badge:
    """The health tab's badge: the checks' then the alerts' (``✗2 ▲3``)."""
    if not alerts:
        return badge
    if not badge:
        return alerts
    level = "critical" if "critical" in (badge.level, alerts.level) else badge.level
    return Badge(f"{badge.text} {alerts.text}", level)


def pane_badge(pane: Any) -> Badge:
    """The badge of a live pane object (reads its latest snapshot; no I/O)."""
    if getattr(pane, "state", "") == "stale":
        return STALE
    pid = pane.pane_id
    if pid == "health":
        checks = health_badge(pane.tracker.statuses()) if pane._tracker is not None else NONE
        return with_alerts(checks, getattr(pane, "alerts_badge", lambda: NONE)())
    if pid == "resources":
        return resources_badge(pane.snapshot, pane.thresholds)
    if pid == "slow":
        return slow_badge(pane.snapshot)
    if pid == "locks":
        return locks_badge(pane.snapshot)
    if pid == "incidents":
        return incidents_badge(pane.states.values())
    return NONE


BADGE_STYLE = {"critical": "bold reverse", "stale": "bold reverse", "warning": "bold", "ok": ""}


def tabs_text(titles: Sequence[tuple[str, int, str]], badges: Mapping[str, Badge],
              current: str, width: int) -> Text:
    """The tab line for ``titles`` [(pane id, number, title)]: the full titles when they fit
    in ``width``, else short ones, else numbers only — the badges always show."""
    bar = g("│")

    def build(names: Mapping[str, str]) -> Text:
        t = Text()
        for i, (pid, number, _title) in enumerate(titles):
            badge = badges.get(pid, NONE)
            name = names[pid]
            cur = "bold reverse" if pid == current else ""
            t.append("[" if cur else " ", style=cur)
            t.append(f"{number}{' ' + name if name else ''}", style=cur)
            if badge:
                t.append(" ", style=cur)
                # on the current (reversed) tab the badge is bold in the tab's colours
                t.append(badge.text, style=cur or BADGE_STYLE.get(badge.level, ""))
            t.append("]" if cur else " ", style=cur)
            if i < len(titles) - 1:
                t.append(bar)
        return t

    full = {pid: title for pid, _n, title in titles}
    short = {pid: SHORT.get(pid, title) for pid, _n, title in titles}
    line = Text()
    for names in (full, short, {pid: "" for pid, _n, _t in titles}):
        line = build(names)
        if line.cell_len <= width:
            return line
    line.truncate(width)
    return line


def draw_tabs(app: Any) -> None:
    """Draw the main screen's tab line (``#pane-tabs``) from the panes' badges."""
    from opsconsole.ui.widgets import LineBlock

    try:
        main = app.main
        block = main.query_one("#pane-tabs", LineBlock)
    except Exception:
        return  # not composed yet
    panes = main.panes
    titles = [(pid, panes[pid].number, panes[pid].title) for pid in ORDER if pid in panes]
    badges = {pid: pane_badge(panes[pid]) for pid, _n, _t in titles}
    block.set_lines([tabs_text(titles, badges, app.current_pane, app.size.width or 80)])
