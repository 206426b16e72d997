"""From what the evaluator decides to what is told and recorded: an alert
:class:`~opsconsole.alerts.rules.Transition` becomes the
:class:`~opsconsole.alerts.notify.Notification` the targets get (one firing episode keeps
one dedup key, so a PagerDuty incident is triggered, escalated and resolved as one), and
both the transition and each delivery become events for the store and the timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opsconsole.alerts.notify import Delivery, Notification, make_dedup_key
from opsconsole.alerts.rules import Transition
from opsconsole.events import ALERT_NOTIFIED, ALERT_TRANSITION

# evaluator event -> notification state; events not listed are recorded, never notified
# (a pending that stopped holding, no data: the rule's no_data: says whether that fires)
NOTIFIED_EVENTS = {"pending": "pending", "firing": "firing", "resolved": "resolved",
                   "escalated": "escalated", "acknowledged": "acknowledged"}


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _value(v: Any) -> float | str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float):
        return float(v)
    return str(v)


def notification_for(t: Transition, host: str) -> Notification | None:
    """The notification for one transition, or None when it is not one to tell anyone."""
    state = NOTIFIED_EVENTS.get(t.event)
    if state is None:
        return None
    since = _utc(t.since if t.since is not None else t.at)
    labels = {"alertname": t.rule, "severity": t.severity, **t.labels}
    return Notification(
        alert=t.rule, state=state, severity=t.severity, summary=t.summary,
        description=t.description, at=_utc(t.at), value=_value(t.value), labels=labels,
        host=host, level=t.escalation, runbook=t.runbook,
        dedup_key=make_dedup_key(t.rule, t.labels, since),
        starts_at=since, ends_at=_utc(t.at) if state == "resolved" else None)


def transition_event(t: Transition) -> tuple[str, dict[str, Any]]:
    """(type, data) of the event that records a transition."""
    return ALERT_TRANSITION, t.to_dict()


def delivery_event(d: Delivery) -> tuple[str, dict[str, Any]]:
    """(type, data) of the event that records a delivery (no secret is in a Delivery)."""
    return ALERT_NOTIFIED, d.to_dict()
