"""The timeline sentences of alert events, from the dicts the events carry."""

from __future__ import annotations

from datetime import UTC, datetime

from opsconsole import events as ev
from opsconsole.alerts.silences import Silence, parse_matchers
from opsconsole.events import Actor, Event
from opsconsole.incidents.describe import describe

ACTOR = Actor("alice", None, None, "ops-01")
AT = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)


def line(type_: str, data: dict) -> str:
    return describe(Event(type=type_, data=data, actor=ACTOR, ts=AT))


def test_a_failed_delivery_says_so_with_its_error_and_no_secret():
    s = line(ev.ALERT_NOTIFIED, {"target": "chat", "kind": "slack", "alert": "high-cpu",
                                 "state": "escalated", "level": 2, "ok": False,
                                 "attempts": 4, "error": "HTTP 500 from http://h:1/••••"})
    assert s == ("Notification to chat (slack) of high-cpu escalated (level 2) FAILED after "
                 "4 attempts: HTTP 500 from http://h:1/••••")


def test_escalation_acknowledgement_and_silences():
    assert line(ev.ALERT_TRANSITION, {"rule": "high-cpu", "event": "escalated",
                                      "escalation": 2, "severity": "warning", "value": 91.5,
                                      "threshold": 80}) == (
        "Alert high-cpu (warning) escalated to level 2: value 91.5 (threshold 80)")
    assert line(ev.ALERT_TRANSITION, {"rule": "high-cpu", "event": "acknowledged",
                                      "who": "bob"}) == "Alert high-cpu acknowledged by bob"
    sil = Silence("s1", parse_matchers(["check=api"]), AT, AT.replace(hour=15), "alice",
                  "deploy \x1b[2J")
    added = line(ev.SILENCE_ADDED, sil.to_dict())
    assert added.startswith("Silenced check=\"api\"") or added.startswith("Silenced check=api")
    assert "by alice" in added and "deploy" in added and "\x1b" not in added
    assert "expired" in line(ev.SILENCE_EXPIRED, sil.to_dict())
