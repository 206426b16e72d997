"""Fold semantics: state from events, corrections supersede, milestones and MTTx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsconsole import events as ev
from opsconsole.events import Actor, Event, current_actor
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.describe import describe

T0 = datetime(2026, 11, 24, 20, 0, 0, tzinfo=UTC)
ALICE = Actor("alice", "10.0.0.5", "/dev/pts/1", "ops1")


class Log:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, type: str, minutes: float, **data: object) -> Event:
        e = Event(type=type, data=dict(data), actor=ALICE, ts=T0 + timedelta(minutes=minutes),
                  incident_id="INC-20261124-1", seq=len(self.events) + 1)
        self.events.append(e)
        return e


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def test_declared_state_and_derived_milestones():
    log = Log()
    log.add(ev.DECLARED, 10, title="API 500s", severity="SEV2", services=["api", "db"])
    s = tl.fold(log.events)
    assert (s.id, s.title, s.severity, s.status) == ("INC-20261124-1", "API 500s", "SEV2",
                                                    "investigating")
    assert s.services == ["api", "db"] and s.is_open
    assert list(s.milestones) == ["started", "detected"]
    assert s.durations() == tl.Durations(0.0, None, None, None)


def test_backdated_milestones_kept_in_chronological_order_and_mttx():
    log = Log()
    log.add(ev.DECLARED, 10, title="API 500s", severity="SEV2")
    log.add(ev.ROLE_ASSIGNED, 12, role="commander", person="bob")
    log.add(ev.STATUS_CHANGED, 20, status="identified", previous="investigating")
    log.add(ev.STATUS_CHANGED, 30, status="monitoring", previous="identified")
    # recorded late: impact really started at 20:02, was detected at 20:05
    log.add(ev.MILESTONE_SET, 31, milestone="started", at=at(2))
    log.add(ev.MILESTONE_SET, 32, milestone="detected", at=at(5))
    log.add(ev.STATUS_CHANGED, 45, status="resolved", previous="monitoring")
    s = tl.fold(log.events)
    assert list(s.milestones.items()) == [
        ("started", T0 + timedelta(minutes=2)),
        ("detected", T0 + timedelta(minutes=5)),
        ("acknowledged", T0 + timedelta(minutes=12)),
        ("mitigated", T0 + timedelta(minutes=30)),
        ("resolved", T0 + timedelta(minutes=45)),
    ]
    d = s.durations()
    assert d.detect == 3 * 60  # MTTD detected - started
    assert d.acknowledge == 7 * 60  # MTTA acknowledged - detected
    assert d.mitigate == 28 * 60  # MTTM mitigated - started
    assert d.resolve == 43 * 60  # MTTR resolved - started
    assert not s.is_open and s.roles == {"commander": "bob"}


def test_a_later_milestone_event_supersedes_and_order_follows_time():
    log = Log()
    log.add(ev.DECLARED, 10, title="t", severity="SEV3")
    log.add(ev.MILESTONE_SET, 11, milestone="mitigated", at=at(11))
    log.add(ev.MILESTONE_SET, 12, milestone="mitigated", at=at(9))  # correction, backdated
    log.add(ev.MILESTONE_SET, 13, milestone="started", at=at(1))
    s = tl.fold(log.events)
    assert s.milestones["mitigated"] == T0 + timedelta(minutes=9)
    assert list(s.milestones) == ["started", "mitigated", "detected"]
    assert s.durations().mitigate == 8 * 60
    # explicit clear falls back to what the timeline says (nothing, here)
    log.add(ev.MILESTONE_SET, 14, milestone="mitigated", at=None)
    assert "mitigated" not in tl.fold(log.events).milestones


def test_corrections_supersede_notes_and_nothing_is_lost():
    log = Log()
    log.add(ev.DECLARED, 0, title="t", severity="SEV3")
    n = log.add(ev.NOTE, 1, text="restarted db1")
    log.add(ev.NOTE, 2, text="restarted db2 (not db1)", supersedes=n.seq)
    s = tl.fold(log.events)
    assert s.notes == {n.seq: "restarted db2 (not db1)"}
    assert s.event_count == 3  # the original note is still on the timeline
    assert describe(log.events[2]).startswith(f"Note (corrects #{n.seq}): ")


def test_severity_title_roles_handover_and_reopen():
    log = Log()
    log.add(ev.DECLARED, 0, title="t", severity="SEV3", commander="alice")
    log.add(ev.SEVERITY_CHANGED, 1, severity="SEV1", previous="SEV3")
    log.add(ev.TITLE_CHANGED, 2, title="Checkout down")
    log.add(ev.ROLE_ASSIGNED, 3, role="commander", person="bob", previous="alice")
    log.add(ev.ROLE_ASSIGNED, 3, role="scribe", person="carol")
    log.add(ev.STATUS_CHANGED, 4, status="resolved")
    log.add(ev.STATUS_CHANGED, 5, status="investigating")  # reopened
    s = tl.fold(log.events)
    assert (s.severity, s.title, s.status) == ("SEV1", "Checkout down", "investigating")
    assert s.roles == {"commander": "bob", "scribe": "carol"}
    assert s.milestones["acknowledged"] == T0  # declared with a commander
    assert "resolved" not in s.milestones and s.is_open
    assert describe(log.events[3]) == "Role commander handed over: alice → bob"


def test_incremental_fold_equals_full_fold():
    log = Log()
    log.add(ev.DECLARED, 0, title="t", severity="SEV4")
    for i in range(1, 20):
        log.add(ev.NOTE, i, text=f"n{i}")
    log.add(ev.STATUS_CHANGED, 30, status="monitoring")
    part = tl.fold(log.events[:7])
    tl.fold(log.events[7:], state=part)
    assert part == tl.fold(log.events)


def test_response_clock_and_live_durations():
    log = Log()
    log.add(ev.DECLARED, 0, title="t", severity="SEV1")
    s = tl.fold(log.events)
    assert s.response_clock(T0 + timedelta(minutes=2), 300) == ("3m00s left", False)
    assert s.response_clock(T0 + timedelta(minutes=7), 300) == ("OVERDUE 2m00s", True)
    live = s.live_durations(T0 + timedelta(minutes=7))
    assert live["MTTD"] == "0ms" and live["MTTA"] == "7m00s…" and live["MTTR"] == "7m00s…"
    log.add(ev.ROLE_ASSIGNED, 8, role="commander", person="bob")
    s = tl.fold(log.events)
    assert s.response_clock(T0 + timedelta(minutes=9), 300) == ("acked 8m00s", True)


@pytest.mark.parametrize("text,expected", [
    ("now", T0 + timedelta(hours=1)),
    ("-15m", T0 + timedelta(minutes=45)),
    ("15m ago", T0 + timedelta(minutes=45)),
    ("20:10", T0 + timedelta(minutes=10)),
    ("2026-11-24T20:05:00Z", T0 + timedelta(minutes=5)),
    ("2026-11-24 21:05:00+01:00", T0 + timedelta(minutes=5)),
])
def test_parse_when(text, expected):
    assert tl.parse_when(text, T0 + timedelta(hours=1)) == expected


@pytest.mark.parametrize("text,msg", [
    ("yesterday-ish", "expected now, -15m"),
    ("25:00", "00:00..23:59"),
    ("2030-01-01T00:00:00Z", "in the future"),
])
def test_parse_when_rejects(text, msg):
    with pytest.raises(tl.BadInput, match=msg):
        tl.parse_when(text, T0)


def test_parsers():
    assert tl.parse_severity("2") == "SEV2" and tl.parse_severity("sev1") == "SEV1"
    assert tl.parse_role("ic") == "commander" and tl.parse_role("comms") == "communications"
    with pytest.raises(tl.BadInput, match="SEV1, SEV2, SEV3, SEV4"):
        tl.parse_severity("SEV9")
    with pytest.raises(tl.BadInput, match="investigating, identified"):
        tl.parse_status("fixed")


def test_describe_renders_other_areas_events_readably():
    def e(type: str, **data: object) -> Event:
        return Event(type=type, data=dict(data), actor=ALICE, ts=T0, seq=1)

    assert describe(e("health.state_changed", check="api", previous="ok",
                         state="critical", detail="HTTP 503")) == \
        "Health api: ok → critical (HTTP 503)"
    assert describe(e("db.cancel", pid=4242, user="app", database="shop", ok=True,
                         query="select * from orders where token='x'")) .startswith(
        "Cancelled query pid 4242 (app@shop) → ok: select * from orders")
    assert describe(e("db.terminate", pid=7)) == "Terminated backend pid 7"
    assert describe(e("runbook.step_started", runbook="disk-full", step_title="Find big files",
                         command="du -sh /var/*")) == \
        "Runbook disk-full “Find big files” started — du -sh /var/*"
    assert describe(e("runbook.step_finished", runbook="disk-full", step_title="Find big files",
                         exit_status=0, duration=1.5, output_last=["4.0G /var/log"])) == \
        "Runbook disk-full “Find big files”: ok in 1.5s (exit 0)"
    assert describe(e(ev.NOTE, text="api_key=abcdef123 used")) == "Note: api_key=•••• used"
    assert describe(e("custom.thing", a=1)) == "custom.thing: a=1"


def test_current_actor_from_environment():
    a = current_actor({"SUDO_USER": "alice", "USER": "root",
                       "SSH_CONNECTION": "10.1.2.3 5555 10.0.0.1 22"})
    assert a.user == "alice" and a.client == "10.1.2.3" and a.host
