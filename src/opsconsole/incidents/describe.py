"""Every event as one readable sentence, for the timeline, the CLI and exports.

Never imports Textual.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from opsconsole.events import (
    ACTION_ADDED,
    ACTION_STATUS,
    ALERT_ACK,
    ALERT_AUTO_RUN,
    ALERT_DECLARED,
    ALERT_NOTIFIED,
    ALERT_TRANSITION,
    COMMS_SENT,
    CONTEXT_ATTACHED,
    DB_CANCEL,
    DB_TERMINATE,
    DECLARED,
    HEALTH_AT_DECLARATION,
    HEALTH_CHANGED,
    MILESTONE_SET,
    NOTE,
    RECORD_SET,
    ROLE_ASSIGNED,
    RUNBOOK_FINISHED,
    RUNBOOK_RECOVERED,
    RUNBOOK_RUN_STOPPED,
    RUNBOOK_SKIPPED,
    RUNBOOK_STARTED,
    SERVICES_CHANGED,
    SEVERITY_CHANGED,
    SILENCE_ADDED,
    SILENCE_EXPIRED,
    SNAPSHOT,
    STATUS_CHANGED,
    TAGS_CHANGED,
    TITLE_CHANGED,
    Actor,
    Event,
)
from opsconsole.fmt import duration, human_bytes, one_line
from opsconsole.incidents.timeline import MILESTONES, _ts, pick
from opsconsole.secrets import mask_tokens


def _when(value: Any) -> str:
    t = _ts(value)
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if t else str(value)


def host_figures(d: dict[str, Any]) -> str:
    """``cpu 12% · load 0.50 · mem 40% · swap 0% · / 71%`` from the key host figures
    (:func:`opsconsole.sources.host.key_figures`)."""
    parts = []
    if "cpu" in d:
        parts.append(f"cpu {float(d['cpu']):.0f}%")
    if "load1" in d:
        parts.append(f"load {float(d['load1']):.2f}")
    elif isinstance(d.get("load"), list | tuple) and d["load"]:
        parts.append(f"load {float(d['load'][0]):.2f}")
    if "mem" in d:
        mem = f"mem {float(d['mem']):.0f}%"
        if "mem_used" in d and "mem_total" in d:
            mem += f" ({human_bytes(d['mem_used'])}/{human_bytes(d['mem_total'])})"
        parts.append(mem)
    if "swap" in d:
        parts.append(f"swap {float(d['swap']):.0f}%")
    for fs in d.get("filesystems", []) or []:
        if isinstance(fs, dict) and "mount" in fs:
            parts.append(f"{fs['mount']} {float(fs.get('percent', 0)):.0f}%")
    if "processes" in d:
        parts.append(f"{d['processes']} procs")
    return " · ".join(parts) if parts else ", ".join(f"{k}={v}" for k, v in d.items())


def shown(e: Event) -> Event:
    """The event as a timeline shows it: an attached event (``incident.context_attached``)
    at its ORIGINAL time and actor; any other event as it is."""
    if e.type != CONTEXT_ATTACHED:
        return e
    d = e.data or {}
    at = _ts(d.get("ts")) or e.ts
    a = d.get("actor") if isinstance(d.get("actor"), dict) else {}
    actor = Actor(str(a.get("user") or e.actor.user), a.get("client"), a.get("tty"),
                  str(a.get("host") or e.actor.host)) if a else e.actor
    return Event(type=e.type, data=d, actor=actor, ts=at, incident_id=e.incident_id, seq=e.seq)


def inner_type(e: Event) -> str:
    """The type of what happened (an attached event's original type)."""
    if e.type == CONTEXT_ATTACHED:
        return str((e.data or {}).get("type", e.type))
    return e.type


def _step(d: dict[str, Any]) -> str:
    """``Runbook pg-locks step 2 “cancel blocker”``."""
    rb = pick(d, "runbook", "runbook_title", default="?")
    num = d.get("step")
    title = pick(d, "step_title", "title")
    s = f"Runbook {rb} step {num}" if num not in (None, "") else f"Runbook {rb}"
    if title and str(title) != str(num):
        s += f" “{one_line(str(title), 60)}”"
    return s


def _finished(d: dict[str, Any]) -> str:
    """``Runbook X step 2 “cancel blocker”: ok in 76ms`` (failed: with its reason)."""
    result = pick(d, "status", "result")
    code = pick(d, "exit_status", "exit_code", "returncode")
    if result is None:
        result = "finished" if code is None else ("ok" if code == 0 else "failed")
    s = f"{_step(d)}: {one_line(str(result), 20)}"
    dur = pick(d, "duration", "elapsed")
    if isinstance(dur, int | float) and not isinstance(dur, bool):
        s += f" in {duration(max(float(dur), 0))}"
    if code is not None:
        s += f" (exit {code})"
    reason = pick(d, "reason", "message")
    if reason:
        s += f" — {one_line(str(reason), 100)}"
    cmd = pick(d, "command", "sql")
    if cmd:  # the folded row is the only one: what ran stays on it
        s += f" — {one_line(str(cmd), 80)}"
    last = pick(d, "output_last", "last_lines", "output_tail")
    if last and str(result) not in ("ok", "dry-run"):
        s += f" — {one_line(last if isinstance(last, str) else ' / '.join(map(str, last)), 80)}"
    return s


def describe(e: Event) -> str:
    """One readable line for the timeline and exports (secrets masked, no control chars)."""
    return one_line(mask_tokens(_describe(e)))


def _describe(e: Event) -> str:
    d = e.data or {}
    t = e.type
    if t == CONTEXT_ATTACHED:
        inner = Event(type=str(d.get("type", "?")),
                      data=d.get("data") if isinstance(d.get("data"), dict) else {},
                      actor=e.actor, ts=e.ts)
        return f"[before declaration, #{d.get('seq', '?')}] {_describe(inner)}"
    if t == HEALTH_AT_DECLARATION:
        checks = [c for c in d.get("checks", []) or [] if isinstance(c, dict)]
        if not checks:
            return "Health at declaration: every check OK"
        parts = []
        for c in checks:
            p = f"{c.get('check', '?')} {c.get('state', '?')}"
            if isinstance(c.get("for"), int | float):
                p += f" for {duration(max(float(c['for']), 0))}"
            if c.get("message"):
                p += f" ({one_line(str(c['message']), 60)})"
            parts.append(p)
        return "Health at declaration, not OK: " + "; ".join(parts)
    if t == DECLARED:
        s = f"Declared {d.get('severity', '?')} “{d.get('title', '')}”"
        if d.get("services"):
            s += f" — services: {', '.join(map(str, d['services']))}"
        if d.get("commander"):
            s += f" — commander {d['commander']}"
        for name in MILESTONES:
            if d.get(name):
                s += f" — {name} {_when(d[name])}"
        n = d.get("context_attached")
        if n:
            s += f" — {n} earlier event{'s' if n != 1 else ''} attached"
        return s
    if t == STATUS_CHANGED:
        prev = d.get("previous")
        return f"Status {prev} → {d.get('status')}" if prev else f"Status → {d.get('status')}"
    if t == SEVERITY_CHANGED:
        prev = d.get("previous")
        return (f"Severity {prev} → {d.get('severity')}" if prev
                else f"Severity → {d.get('severity')}")
    if t == TITLE_CHANGED:
        return f"Title → “{d.get('title', '')}”"
    if t == SERVICES_CHANGED:
        return f"Services → {', '.join(map(str, d.get('services', []))) or 'none'}"
    if t == TAGS_CHANGED:
        return f"Tags → {', '.join(map(str, d.get('tags', []))) or 'none'}"
    if t == MILESTONE_SET:
        at = d.get("at")
        name = str(d.get("milestone", "?")).capitalize()
        return f"Milestone {name} at {_when(at)}" if at else f"Milestone {name} cleared"
    if t == ROLE_ASSIGNED:
        person = d.get("person")
        prev = d.get("previous")
        role = d.get("role", "?")
        if not person:
            return f"Role {role} unassigned"
        if prev and prev != person:
            return f"Role {role} handed over: {prev} → {person}"
        return f"Role {role} → {person}"
    if t == NOTE:
        sup = d.get("supersedes")
        pre = f"Note (corrects #{sup}): " if sup else "Note: "
        return pre + str(d.get("text", ""))
    if t == SNAPSHOT:
        return "Host snapshot: " + host_figures(d)
    if t == HEALTH_CHANGED:
        name = pick(d, "check", "name", "target", default="?")
        old = pick(d, "previous", "old", "from")
        new = pick(d, "state", "new", "to", default="?")
        s = f"Health {name}: {old} → {new}" if old else f"Health {name}: {new}"
        detail = pick(d, "detail", "message", "reason", "error")
        return s + (f" ({detail})" if detail else "")
    if t in (DB_CANCEL, DB_TERMINATE):
        verb = "Cancelled query" if t == DB_CANCEL else "Terminated backend"
        pid = pick(d, "pid", default="?")
        s = f"{verb} pid {pid}"
        who = [str(x) for x in (pick(d, "user", "usename"), pick(d, "database", "datname",
                                                             "db")) if x]
        if who:
            s += " (" + "@".join(who) + ")"
        target = pick(d, "target", "server")
        if target:
            s += f" on {target}"
        if d.get("application"):
            s += f", app {one_line(str(d['application']), 40)}"
        if isinstance(d.get("blocks"), int) and d["blocks"] > 0:
            s += f", root blocker of {d['blocks']} session(s)"
        if d.get("stale"):
            s += f" [confirmed on STALE data: {one_line(str(d['stale']), 60)}]"
        ok = pick(d, "ok", "result", "success")
        if ok is not None:
            s += f" → {'ok' if ok is True else ('failed' if ok is False else ok)}"
        q = pick(d, "query", "sql")
        if q:
            s += f": {one_line(str(q), 80)}"
        return s
    if t == RUNBOOK_STARTED:
        cmd = pick(d, "command", "sql")
        s = f"{_step(d)} started"
        if isinstance(d.get("attempt"), int) and int(d.get("attempts") or 1) > 1:
            s += f" (attempt {d['attempt']} of {d['attempts']})"
        return s + (f" — {one_line(str(cmd), 80)}" if cmd else "")
    if t == RUNBOOK_RECOVERED:  # issue 11
        rb = pick(d, "runbook", "runbook_title", default="?")
        step = pick(d, "step_title", "step", default="?")
        why = pick(d, "failure", "reason")
        return f"Runbook {rb}: step {step} recovered by its on_failure steps" + (
            f" (it had failed: {one_line(str(why), 120)})" if why else "")
    if t == RUNBOOK_RUN_STOPPED:  # issue 11
        rb = pick(d, "runbook", "runbook_title", default="?")
        step = pick(d, "step_title", "step", default="?")
        why = pick(d, "reason", default="its stop_when condition held")
        return f"Runbook {rb}: run ended after step {step} — {one_line(str(why), 120)}"
    if t == RUNBOOK_FINISHED:
        return _finished(d)
    if t == RUNBOOK_SKIPPED:
        reason = pick(d, "reason", "message")
        return f"{_step(d)} skipped" + (f": {one_line(str(reason), 100)}" if reason else "")
    if t == RECORD_SET:
        from opsconsole.incidents.fields import FIELDS, field_text

        name = str(d.get("field", "?"))
        label = FIELDS[name][0] if name in FIELDS else name.replace("_", " ").capitalize()
        if d.get("value") is None:
            return f"{label} cleared"
        return f"{label}: {field_text(name, d.get('value'))}"
    if t == ACTION_ADDED:
        owner = f" (owner {d['owner']})" if d.get("owner") else ""
        return f"Action item added: {d.get('text', '')}{owner}"
    if t == ACTION_STATUS:
        return f"Action item #{d.get('action', '?')} → {d.get('status', 'done')}"
    if t in (ALERT_TRANSITION, ALERT_NOTIFIED, SILENCE_ADDED, SILENCE_EXPIRED,
             ALERT_DECLARED, ALERT_AUTO_RUN, ALERT_ACK):
        from opsconsole.incidents.alertwords import describe_alert_event

        return describe_alert_event(t, d)
    if t == COMMS_SENT:
        how = {"copied": "copied to the clipboard", "written": "written to a file"}.get(
            str(d.get("how")), str(d.get("how") or "shared"))
        s = f"Comms draft “{d.get('template', '?')}” {how}"
        return s + (f": {d['path']}" if d.get("path") else "")
    if d:
        body = ", ".join(f"{k}={one_line(str(v), 60)}" for k, v in sorted(d.items()))
        return f"{t}: {body}"
    return t
