"""The tab line: every pane's worst state, in words and symbols, whichever pane is focused."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace as NS

from opsconsole.config import Thresholds
from opsconsole.incidents.timeline import IncidentState
from opsconsole.sources.host import FsUsage, HostSnapshot
from opsconsole.ui import glyphs
from opsconsole.ui.tabs import (
    STALE,
    Badge,
    health_badge,
    incidents_badge,
    locks_badge,
    pane_badge,
    resources_badge,
    slow_badge,
    tabs_text,
)

TITLES = [("health", 1, "Health"), ("resources", 2, "Resources"), ("slow", 3, "Slow queries"),
          ("locks", 4, "Blocking locks"), ("incidents", 5, "Incidents")]


def host(**kw) -> HostSnapshot:
    base = HostSnapshot(taken_at=0.0, cpu_total=10.0, per_core=(10.0,), load=(0.1, 0.1, 0.1),
                        cores=1, mem_total=100, mem_used=10, mem_percent=10.0, swap_total=0,
                        swap_used=0, swap_percent=0.0, filesystems=(), disk_read=None,
                        disk_write=None, net=(), processes=(), process_count=1)
    return replace(base, **kw)


def test_health_counts_checks_not_ok():
    states = [NS(state=s) for s in ("CRITICAL", "CRITICAL", "OK", "WARNING", "PENDING")]
    assert health_badge(states) == Badge("✗2 !1", "critical")
    assert health_badge([NS(state="UNKNOWN")]) == Badge("✗1", "critical")
    assert health_badge([NS(state="WARNING")]) == Badge("!1", "warning")
    assert not health_badge([NS(state="OK")])


def test_resources_counts_figures_over_threshold():
    th = Thresholds()
    assert not resources_badge(host(), th)
    fs = FsUsage("/", "sda1", "ext4", 100, 95, 5, 95.0)
    assert resources_badge(host(mem_percent=75.0, filesystems=(fs,)), th) == Badge("✗2", "critical")
    assert resources_badge(host(cpu_total=72.0), th) == Badge("!1", "warning")
    assert not resources_badge(None, th)


def test_slow_counts_queries_over_the_threshold_and_locks_count_blocked_sessions():
    snap = NS(min_duration=1.0, backends=[NS(age=0.5), NS(age=3.0), NS(age=None), NS(age=9.0)])
    assert slow_badge(snap) == Badge("●2", "warning")
    assert not slow_badge(NS(statements=[]))  # the top-statements view
    locks = NS(nodes=[NS(blocked_by=()), NS(blocked_by=(1,)), NS(blocked_by=(1, 2))])
    assert locks_badge(locks) == Badge("●2", "critical")
    assert not locks_badge(NS(nodes=[NS(blocked_by=())]))


def test_incidents_show_the_worst_active_severity():
    states = [IncidentState("a", severity="SEV3"), IncidentState("b", severity="SEV1"),
              IncidentState("c", severity="SEV2", status="resolved")]
    assert incidents_badge(states) == Badge("SEV1+1", "critical")
    assert not incidents_badge([IncidentState("c", severity="SEV1", status="resolved")])


def test_a_stale_pane_says_stale():
    pane = NS(state="stale", pane_id="locks", snapshot=NS(nodes=[NS(blocked_by=(1,))]))
    assert pane_badge(pane) == STALE


def test_tab_line_at_80_columns_keeps_every_badge():
    badges = {"health": Badge("✗2", "critical"), "locks": Badge("●1", "critical"),
              "incidents": Badge("SEV1", "critical"), "slow": STALE}
    wide = tabs_text(TITLES, badges, "resources", 200).plain
    assert wide == (" 1 Health ✗2 │[2 Resources]│ 3 Slow queries STALE │ 4 Blocking locks ●1 "
                    "│ 5 Incidents SEV1 ")
    narrow = tabs_text(TITLES, badges, "resources", 80).plain
    assert len(narrow) <= 80
    for part in ("1 Health ✗2", "[2 Resources]", "3 Slow STALE", "4 Locks ●1", "5 Incidents SEV1"):
        assert part in narrow
    glyphs.configure(True)
    try:
        assert tabs_text(TITLES, {"locks": locks_badge(NS(nodes=[NS(blocked_by=(1,))]))},
                         "health", 80).plain.isascii()
    finally:
        glyphs.configure(False)
