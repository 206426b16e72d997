"""Sentences for the alert events (issue 14) on the timeline, the CLI and exports.

The events carry plain dicts (``Transition.to_dict()``, ``Delivery.to_dict()``,
``Silence.to_dict()`` from :mod:`opsconsole.alerts`, which sits above this package), so the
sentences are built from the dicts alone; anything missing reads as ``?``.
"""

from __future__ import annotations

from typing import Any

from opsconsole.events import ALERT_NOTIFIED, ALERT_TRANSITION, SILENCE_ADDED, SILENCE_EXPIRED
from opsconsole.fmt import duration, one_line

_VERBS = {
    "pending": "is pending",
    "firing": "is FIRING",
    "resolved": "resolved",
    "inactive": "stopped pending (the condition no longer holds)",
    "nodata": "has NO DATA",
    "escalated": "escalated",
    "acknowledged": "acknowledged",
}


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "?" if v is None else str(v)


def _transition(d: dict[str, Any]) -> str:
    rule = str(d.get("rule", "?"))
    event = str(d.get("event", "?"))
    sev = str(d.get("severity", ""))
    s = f"Alert {rule}" + (f" ({sev})" if sev else "") + " " + _VERBS.get(event, event)
    if event == "escalated" and d.get("escalation"):
        s += f" to level {d['escalation']}"
    if event == "acknowledged" and d.get("who"):
        s += f" by {d['who']}"
    if "value" in d and event not in ("acknowledged",):
        s += f": value {_value(d.get('value'))}"
        if d.get("threshold") is not None:
            s += f" (threshold {_value(d['threshold'])})"
    since, at = d.get("since"), d.get("at")
    if event == "resolved" and isinstance(since, int | float) and isinstance(at, int | float):
        s += f" after {duration(max(float(at) - float(since), 0))}"
    if d.get("summary"):
        s += f" — {one_line(str(d['summary']), 120)}"
    if event == "firing" and d.get("runbook"):
        s += f" — runbook {d['runbook']}"
    return s


def _delivery(d: dict[str, Any]) -> str:
    target, kind = d.get("target", "?"), d.get("kind", "?")
    what = f"{d.get('alert', '?')} {d.get('state', '?')}"
    if d.get("level"):
        what += f" (level {d['level']})"
    attempts = int(d.get("attempts") or 0)
    if d.get("ok"):
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return f"Notified {target} ({kind}) of {what}{tries}"
    err = one_line(str(d.get("error") or "?"), 120)
    return (f"Notification to {target} ({kind}) of {what} FAILED after {attempts} "
            f"attempt{'s' if attempts != 1 else ''}: {err}")


def _silence(t: str, d: dict[str, Any]) -> str:
    matchers = ", ".join(map(str, d.get("matchers") or [])) or "?"
    if t == SILENCE_EXPIRED:
        return f"Silence {d.get('id', '?')} ({matchers}) expired"
    by = f" by {d['created_by']}" if d.get("created_by") else ""
    until = f" until {d['ends_at']}" if d.get("ends_at") else ""
    reason = f": {one_line(str(d['reason']), 100)}" if d.get("reason") else ""
    return f"Silenced {matchers}{until}{by}{reason}"


def describe_alert_event(t: str, d: dict[str, Any]) -> str:
    if t == ALERT_TRANSITION:
        return _transition(d)
    if t == ALERT_NOTIFIED:
        return _delivery(d)
    if t in (SILENCE_ADDED, SILENCE_EXPIRED):
        return _silence(t, d)
    return t
