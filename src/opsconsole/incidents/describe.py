"""Every event as one readable sentence, for the timeline, the CLI and exports.

Never imports Textual.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from opsconsole.events import (
    CONTEXT_ATTACHED,
    DB_CANCEL,
    DB_TERMINATE,
    DECLARED,
    HEALTH_AT_DECLARATION,
    HEALTH_CHANGED,
    MILESTONE_SET,
    NOTE,
    ROLE_ASSIGNED,
    RUNBOOK_FINISHED,
    RUNBOOK_STARTED,
    SERVICES_CHANGED,
    SEVERITY_CHANGED,
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
        ok = pick(d, "ok", "result", "success")
        if ok is not None:
            s += f" → {'ok' if ok is True else ('failed' if ok is False else ok)}"
        q = pick(d, "query", "sql")
        if q:
            s += f": {one_line(str(q), 80)}"
        return s
    if t == RUNBOOK_STARTED:
        rb = pick(d, "runbook", "runbook_title", default="?")
        step = pick(d, "step_title", "step", "title", default="?")
        cmd = pick(d, "command", "sql")
        return f"Runbook {rb}: started step {step}" + (f" — {one_line(str(cmd), 80)}"
                                                         if cmd else "")
    if t == RUNBOOK_FINISHED:
        rb = pick(d, "runbook", "runbook_title", default="?")
        step = pick(d, "step_title", "step", "title", default="?")
        status = pick(d, "exit_status", "exit_code", "returncode", "status")
        s = f"Runbook {rb}: finished step {step}"
        if status is not None:
            s += f" — exit {status}"
        if d.get("status") == "stopped" and d.get("message"):  # why: x, a quit, a hang-up
            s += f" ({one_line(str(d['message']), 60)})"
        dur = pick(d, "duration", "elapsed")
        if isinstance(dur, int | float):
            s += f" in {duration(float(dur))}"
        last = pick(d, "output_last", "last_lines", "output_tail")
        if last:
            s += f" — {one_line(last if isinstance(last, str) else ' / '.join(map(str, last)), 80)}"
        return s
    if d:
        body = ", ".join(f"{k}={one_line(str(v), 60)}" for k, v in sorted(d.items()))
        return f"{t}: {body}"
    return t
