"""Incident event types and the fold that turns a timeline into the incident's state.

The timeline is append-only and the source of truth. Nothing is ever updated or deleted:
a correction is a new event that supersedes an older one (a later ``milestone_set`` for the
same milestone wins; a ``note`` with ``supersedes: SEQ`` replaces that note's text). The
current state of an incident is :func:`fold` over its events, in sequence order.

Never imports Textual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opsconsole.events import Actor, Event, EventSink, current_actor, utcnow
from opsconsole.fmt import duration, human_bytes, one_line
from opsconsole.secrets import mask_tokens

__all__ = [
    "Actor", "Event", "EventSink", "current_actor", "utcnow",
    "DECLARED", "STATUS_CHANGED", "SEVERITY_CHANGED", "TITLE_CHANGED", "MILESTONE_SET",
    "ROLE_ASSIGNED", "SERVICES_CHANGED", "TAGS_CHANGED", "NOTE", "SNAPSHOT",
    "CONTEXT_ATTACHED", "HEALTH_AT_DECLARATION", "shown",
    "SEVERITIES", "STATUSES", "OPEN_STATUSES", "MILESTONES", "ROLES",
    "IncidentState", "Durations", "fold", "describe", "parse_severity", "parse_status",
    "parse_milestone", "parse_role", "parse_when", "BadInput",
]

# Incident lifecycle events (recorded by this package).
DECLARED = "incident.declared"
STATUS_CHANGED = "incident.status_changed"
SEVERITY_CHANGED = "incident.severity_changed"
TITLE_CHANGED = "incident.title_changed"
MILESTONE_SET = "incident.milestone_set"
ROLE_ASSIGNED = "incident.role_assigned"
SERVICES_CHANGED = "incident.services_changed"
TAGS_CHANGED = "incident.tags_changed"
NOTE = "incident.note"
SNAPSHOT = "host.snapshot"
# An event recorded before the declaration (unattached) linked to the incident when it was
# declared: data carries the original's seq, type, ts, actor and data (see
# ``SQLiteStore.declare(attach_window=...)``). Shown at the original time.
CONTEXT_ATTACHED = "incident.context_attached"
# The health checks that were not OK when the incident was declared (the console records it).
HEALTH_AT_DECLARATION = "health.at_declaration"
# Recorded by the rest of the console (rendered here).
HEALTH_CHANGED = "health.state_changed"
DB_CANCEL = "db.cancel"
DB_TERMINATE = "db.terminate"
RUNBOOK_STARTED = "runbook.step_started"
RUNBOOK_FINISHED = "runbook.step_finished"

# The events that shape an incident's state (a fold over these alone gives every field but
# the counters and the latest note).
LIFECYCLE = (DECLARED, STATUS_CHANGED, SEVERITY_CHANGED, TITLE_CHANGED, MILESTONE_SET,
             ROLE_ASSIGNED, SERVICES_CHANGED, TAGS_CHANGED, CONTEXT_ATTACHED)
# Health states that count as a detection (an attached change to one of these sets the
# derived ``detected`` milestone).
DEGRADED = ("CRITICAL", "WARNING")

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
STATUSES = ("investigating", "identified", "monitoring", "resolved", "closed")
OPEN_STATUSES = ("investigating", "identified", "monitoring")
MILESTONES = ("started", "detected", "acknowledged", "mitigated", "resolved")
ROLES = ("commander", "scribe", "communications")


class BadInput(ValueError):
    """Operator input that cannot be accepted (the message says what was expected)."""


def parse_severity(text: str) -> str:
    s = str(text).strip().upper().replace(" ", "")
    if s.isdigit():
        s = "SEV" + s
    if s not in SEVERITIES:
        raise BadInput(f"severity {text!r}: expected one of {', '.join(SEVERITIES)} (or 1-4)")
    return s


def parse_status(text: str) -> str:
    s = str(text).strip().lower()
    if s not in STATUSES:
        raise BadInput(f"status {text!r}: expected one of {', '.join(STATUSES)}")
    return s


def parse_milestone(text: str) -> str:
    s = str(text).strip().lower()
    if s not in MILESTONES:
        raise BadInput(f"milestone {text!r}: expected one of {', '.join(MILESTONES)}")
    return s


def parse_role(text: str) -> str:
    s = str(text).strip().lower()
    if s in ("ic", "incident-commander", "lead"):
        s = "commander"
    if s in ("comms", "communication"):
        s = "communications"
    if s not in ROLES:
        raise BadInput(f"role {text!r}: expected one of {', '.join(ROLES)}")
    return s


_REL = re.compile(r"^(?:-\s*(\d+)\s*([smhd])|(\d+)\s*([smhd])\s+ago)$", re.I)


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A milestone time: ``now``, ``-15m`` or ``15m ago``, ``HH:MM`` (today UTC, or yesterday if that
    is in the future), or an ISO 8601 time (UTC unless it says otherwise)."""
    now = (now or utcnow()).astimezone(UTC)
    s = str(text).strip()
    if s.lower() in ("", "now"):
        return now
    m = _REL.match(s)
    if m:
        n = int(m.group(1) or m.group(3))
        unit = (m.group(2) or m.group(4)).lower()
        return now - timedelta(seconds=n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])
    m = re.match(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$", s)
    if m:
        h, mi, se = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if h > 23 or mi > 59 or se > 59:
            raise BadInput(f"time {text!r}: expected HH:MM in 00:00..23:59")
        t = now.replace(hour=h, minute=mi, second=se, microsecond=0)
        return t - timedelta(days=1) if t > now else t
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"time {text!r}: expected now, -15m, '15m ago', HH:MM (UTC) or an ISO 8601 "
                       f"time like 2026-11-24T20:10:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    if t > now + timedelta(minutes=1):
        raise BadInput(f"time {text!r} is in the future")
    return t.astimezone(UTC)


def _ts(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    return None


@dataclass(frozen=True)
class Durations:
    """Time to detect / acknowledge / mitigate / resolve, in seconds (None until known)."""

    detect: float | None
    acknowledge: float | None
    mitigate: float | None
    resolve: float | None

    def rows(self) -> list[tuple[str, str, float | None, str, str]]:
        """(label, short, seconds, from-milestone, to-milestone) for tables."""
        return [
            ("Time to detect", "MTTD", self.detect, "started", "detected"),
            ("Time to acknowledge", "MTTA", self.acknowledge, "detected", "acknowledged"),
            ("Time to mitigate", "MTTM", self.mitigate, "started", "mitigated"),
            ("Time to resolve", "MTTR", self.resolve, "started", "resolved"),
        ]


@dataclass
class IncidentState:
    """What an incident looks like after its events so far (see :func:`fold`)."""

    id: str
    title: str = ""
    severity: str = "SEV3"
    status: str = "investigating"
    declared_at: datetime | None = None
    declared_by: Actor | None = None
    services: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    explicit_milestones: dict[str, datetime] = field(default_factory=dict)
    derived_milestones: dict[str, datetime] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)  # seq -> text (corrections applied)
    last_seq: int = 0
    event_count: int = 0
    last_event_at: datetime | None = None
    last_note: str | None = None

    # -------------------------------------------------------------- fold
    def apply(self, e: Event) -> None:
        d = e.data or {}
        self.event_count += 1
        if e.seq is not None:
            self.last_seq = max(self.last_seq, e.seq)
        self.last_event_at = e.ts
        t = e.type
        if t == DECLARED:
            self.title = str(d.get("title", ""))
            self.severity = str(d.get("severity", self.severity))
            self.services = [str(s) for s in d.get("services", [])]
            self.tags = [str(s) for s in d.get("tags", [])]
            self.declared_at = e.ts
            self.declared_by = e.actor
            self.status = "investigating"
            self.derived_milestones.setdefault("detected", e.ts)
            self.derived_milestones.setdefault("started", e.ts)
            for name in MILESTONES:
                at = _ts(d.get(name))
                if at is not None:
                    self.explicit_milestones[name] = at
            if d.get("commander"):
                self.roles["commander"] = str(d["commander"])
                self.derived_milestones.setdefault("acknowledged", e.ts)
        elif t == CONTEXT_ATTACHED:
            inner = d.get("data") if isinstance(d.get("data"), dict) else {}
            at = _ts(d.get("ts"))
            new = str(_g(inner, "new", "state", "to", default="")).upper()
            if d.get("type") == HEALTH_CHANGED and new in DEGRADED and at is not None:
                # the first sign of trouble, recorded before anyone declared: detection (and
                # impact had started by then at the latest)
                for name in ("detected", "started"):
                    prev = self.derived_milestones.get(name)
                    if prev is None or at < prev:
                        self.derived_milestones[name] = at
        elif t == STATUS_CHANGED:
            status = str(d.get("status", self.status))
            self.status = status
            if status in ("identified", "monitoring", "resolved", "closed"):
                self.derived_milestones.setdefault("acknowledged", e.ts)
            if status in ("monitoring", "resolved", "closed"):
                self.derived_milestones.setdefault("mitigated", e.ts)
            if status in ("resolved", "closed"):
                self.derived_milestones.setdefault("resolved", e.ts)
            if status in OPEN_STATUSES:  # reopened: the old resolution no longer stands
                self.derived_milestones.pop("resolved", None)
        elif t == SEVERITY_CHANGED:
            self.severity = str(d.get("severity", self.severity))
        elif t == TITLE_CHANGED:
            self.title = str(d.get("title", self.title))
        elif t == SERVICES_CHANGED:
            self.services = [str(s) for s in d.get("services", [])]
        elif t == TAGS_CHANGED:
            self.tags = [str(s) for s in d.get("tags", [])]
        elif t == MILESTONE_SET:
            name = str(d.get("milestone", ""))
            at = _ts(d.get("at"))
            if name in MILESTONES:
                if at is None:  # an explicit clear: fall back to the derived time
                    self.explicit_milestones.pop(name, None)
                else:
                    self.explicit_milestones[name] = at
        elif t == ROLE_ASSIGNED:
            role = str(d.get("role", ""))
            person = str(d.get("person", "") or "")
            if person:
                self.roles[role] = person
            else:
                self.roles.pop(role, None)
            if role == "commander" and person:
                self.derived_milestones.setdefault("acknowledged", e.ts)
        elif t == NOTE:
            text = str(d.get("text", ""))
            sup = d.get("supersedes")
            if isinstance(sup, int) and sup in self.notes:
                self.notes[sup] = text
            elif e.seq is not None:
                self.notes[e.seq] = text
            self.last_note = text

    # -------------------------------------------------------------- derived
    @property
    def milestones(self) -> dict[str, datetime]:
        """Every known milestone (explicit beats derived), in chronological order."""
        merged = dict(self.derived_milestones)
        merged.update(self.explicit_milestones)
        return dict(sorted(merged.items(), key=lambda kv: (kv[1], MILESTONES.index(kv[0]))))

    @property
    def started_at(self) -> datetime | None:
        return self.milestones.get("started") or self.declared_at

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def severity_rank(self) -> int:
        return SEVERITIES.index(self.severity) if self.severity in SEVERITIES else 9

    def durations(self) -> Durations:
        m = self.milestones

        def span(a: str, b: str) -> float | None:
            if a in m and b in m:
                return (m[b] - m[a]).total_seconds()
            return None

        return Durations(span("started", "detected"), span("detected", "acknowledged"),
                         span("started", "mitigated"), span("started", "resolved"))

    def live_durations(self, now: datetime) -> dict[str, str]:
        """MTTx as text, with the running ones counting (``12m04s…``)."""
        m = self.milestones
        out = {}
        for _label, short, secs, a, _b in self.durations().rows():
            if secs is not None:
                out[short] = duration(max(secs, 0))
            elif a in m and self.is_open:
                out[short] = duration(max((now - m[a]).total_seconds(), 0)) + "…"
            else:
                out[short] = "–"
        return out

    def response_clock(self, now: datetime, target_seconds: float,
                       fmt: Callable[[float], str] = duration) -> tuple[str, bool]:
        """The response-target clock: time left to acknowledge (``4m10s left``), ``OVERDUE
        2m``, or ``acked in 3m``, durations written by ``fmt``. Returns (text, overdue)."""
        m = self.milestones
        base = m.get("detected") or self.declared_at
        if base is None:
            return "–", False
        if "acknowledged" in m:
            took = (m["acknowledged"] - base).total_seconds()
            return f"acked {fmt(max(took, 0))}", took > target_seconds
        if not self.is_open:
            return "–", False
        left = target_seconds - (now - base).total_seconds()
        if left < 0:
            return f"OVERDUE {fmt(-left)}", True
        return f"{fmt(left)} left", False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "declared_at": self.declared_at.isoformat() if self.declared_at else None,
            "declared_by": self.declared_by.label() if self.declared_by else None,
            "services": list(self.services),
            "tags": list(self.tags),
            "roles": dict(self.roles),
            "milestones": {k: v.isoformat() for k, v in self.milestones.items()},
            "durations": {short.lower(): secs for _l, short, secs, _a, _b in
                          self.durations().rows()},
            "event_count": self.event_count,
            "last_seq": self.last_seq,
        }


def fold(events: Iterable[Event], state: IncidentState | None = None,
         incident_id: str | None = None) -> IncidentState:
    """The incident's state after ``events`` (in sequence order). Pass ``state`` to continue
    a fold with newer events (incremental, as the console does)."""
    evs = sorted(events, key=lambda e: (e.seq is None, e.seq or 0))
    if state is None:
        iid = incident_id or next((e.incident_id for e in evs if e.incident_id), "") or ""
        state = IncidentState(id=iid)
    for e in evs:
        state.apply(e)
    return state


# ------------------------------------------------------------------ rendering
def _g(d: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        if k in d and d[k] not in (None, ""):
            return d[k]
    return default


def _when(value: Any) -> str:
    t = _ts(value)
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if t else str(value)


def host_figures(d: dict[str, Any]) -> str:
    """``cpu 12% · load 0.50 · mem 40% · swap 0% · / 71%`` from a host-figures dict."""
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
        name = _g(d, "check", "name", "target", default="?")
        old = _g(d, "previous", "old", "from")
        new = _g(d, "state", "new", "to", default="?")
        s = f"Health {name}: {old} → {new}" if old else f"Health {name}: {new}"
        detail = _g(d, "detail", "message", "reason", "error")
        return s + (f" ({detail})" if detail else "")
    if t in (DB_CANCEL, DB_TERMINATE):
        verb = "Cancelled query" if t == DB_CANCEL else "Terminated backend"
        pid = _g(d, "pid", default="?")
        s = f"{verb} pid {pid}"
        who = [str(x) for x in (_g(d, "user", "usename"), _g(d, "database", "datname",
                                                             "db")) if x]
        if who:
            s += " (" + "@".join(who) + ")"
        target = _g(d, "target", "server")
        if target:
            s += f" on {target}"
        ok = _g(d, "ok", "result", "success")
        if ok is not None:
            s += f" → {'ok' if ok is True else ('failed' if ok is False else ok)}"
        q = _g(d, "query", "sql")
        if q:
            s += f": {one_line(str(q), 80)}"
        return s
    if t == RUNBOOK_STARTED:
        rb = _g(d, "runbook", "runbook_title", default="?")
        step = _g(d, "step_title", "step", "title", default="?")
        cmd = _g(d, "command", "sql")
        return f"Runbook {rb}: started step {step}" + (f" — {one_line(str(cmd), 80)}"
                                                         if cmd else "")
    if t == RUNBOOK_FINISHED:
        rb = _g(d, "runbook", "runbook_title", default="?")
        step = _g(d, "step_title", "step", "title", default="?")
        status = _g(d, "exit_status", "exit_code", "returncode", "status")
        s = f"Runbook {rb}: finished step {step}"
        if status is not None:
            s += f" — exit {status}"
        dur = _g(d, "duration", "elapsed")
        if isinstance(dur, int | float):
            s += f" in {duration(float(dur))}"
        last = _g(d, "output_last", "last_lines", "output_tail")
        if last:
            s += f" — {one_line(last if isinstance(last, str) else ' / '.join(map(str, last)), 80)}"
        return s
    if d:
        body = ", ".join(f"{k}={one_line(str(v), 60)}" for k, v in sorted(d.items()))
        return f"{t}: {body}"
    return t
