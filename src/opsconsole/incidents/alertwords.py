"""Sentences for the alert events (issue 14) on the timeline, the CLI and exports.

The events carry plain dicts (``Transition.to_dict()``, ``Delivery.to_dict()``,
``Silence.to_dict()`` from :mod:`opsconsole.alerts`, which sits above this package), so the
sentences are built from the dicts alone; anything missing reads as ``?``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from opsconsole.events import (
    ALERT_ACK,
    ALERT_AUTO_RUN,
    ALERT_DECLARED,
    ALERT_NOTIFIED,
    ALERT_TRANSITION,
    CONTEXT_ATTACHED,
    SILENCE_ADDED,
    SILENCE_EXPIRED,
    Event,
)
from opsconsole.fmt import duration, one_line
from opsconsole.secrets import mask_tokens

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


def _declared(d: dict[str, Any]) -> str:
    rule = str(d.get("rule", "?"))
    if d.get("action") == "attached":
        return f"Alert {rule} attached to the open incident {d.get('incident', '?')}"
    sev = d.get("incident_severity") or d.get("severity") or "?"
    return f"Alert {rule} declared this incident ({sev})"


def _auto_run(d: dict[str, Any]) -> str:
    rule, status = str(d.get("rule", "?")), str(d.get("status", "?"))
    step = f"runbook {d.get('runbook', '?')} step {d.get('step', '?')}"
    if d.get("step_title"):
        step += f" “{one_line(str(d['step_title']), 60)}”"
    if status == "refused":
        return (f"Alert {rule} did not run {step} automatically: "
                f"{one_line(str(d.get('reason') or '?'), 120)}")
    if status == "started":
        return f"Alert {rule} ran {step} automatically"
    s = f"Automatic run of {step} for alert {rule}: {status}"
    if d.get("exit_status") is not None:
        s += f" (exit {d['exit_status']})"
    return s


def describe_alert_event(t: str, d: dict[str, Any]) -> str:
    if t == ALERT_TRANSITION:
        s = _transition(d)
        if d.get("silenced_by"):
            s += f" (silenced: {one_line(str(d['silenced_by']), 100)}; nobody notified)"
        return s
    if t == ALERT_DECLARED:
        return _declared(d)
    if t == ALERT_AUTO_RUN:
        return _auto_run(d)
    if t == ALERT_NOTIFIED:
        return _delivery(d)
    if t == ALERT_ACK:
        return (f"Alert {one_line(str(d.get('alert', '?')), 80)} acknowledged by "
                f"{one_line(str(d.get('who') or '?'), 80)}")
    if t in (SILENCE_ADDED, SILENCE_EXPIRED):
        return _silence(t, d)
    return t


ALERT_TYPES = (ALERT_TRANSITION, ALERT_NOTIFIED, ALERT_DECLARED, ALERT_AUTO_RUN, SILENCE_ADDED,
               SILENCE_EXPIRED)


def alert_sentences(events: Iterable[Event]) -> list[dict[str, Any]]:
    """The incident's alert story for the postmortem: one ``{at, type, alert, text}`` per
    alert event (transitions, notifications sent and failed, silences, acknowledgements,
    escalations, declarations, automatic runs; attached ones too), in the order they
    happened (a transition at its own ``at``, which the evaluator's clock gave)."""
    out: list[tuple[datetime, int, dict[str, Any]]] = []
    for n, e in enumerate(events):
        t, d, ts = e.type, e.data or {}, e.ts
        if t == CONTEXT_ATTACHED:
            t = str(d.get("type", ""))
            inner = d.get("data")
            try:
                ts = datetime.fromisoformat(str(d.get("ts")))
            except ValueError:
                pass
            d = inner if isinstance(inner, dict) else {}
        if t not in ALERT_TYPES:
            continue
        at = d.get("at") if t in (ALERT_TRANSITION, ALERT_DECLARED) else None
        when = datetime.fromtimestamp(float(at), UTC) if isinstance(at, int | float) else ts
        out.append((when, n, {"at": when, "type": t,
                              "alert": d.get("rule") or d.get("alert"),
                              "text": one_line(mask_tokens(describe_alert_event(t, d)))}))
    out.sort(key=lambda x: (x[0], x[1]))
    return [x[2] for x in out]
