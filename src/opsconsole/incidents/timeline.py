"""The incident timeline folded into the incident's state.

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

from opsconsole.events import (
    ACTION_ADDED,
    ACTION_STATUS,
    COMMS_SENT,
    CONTEXT_ATTACHED,
    DECLARED,
    HEALTH_CHANGED,
    MILESTONE_SET,
    NOTE,
    RECORD_SET,
    ROLE_ASSIGNED,
    SERVICES_CHANGED,
    SEVERITY_CHANGED,
    STATUS_CHANGED,
    TAGS_CHANGED,
    TITLE_CHANGED,
    Actor,
    Event,
    utcnow,
)
from opsconsole.fmt import duration
from opsconsole.incidents.words import (  # noqa: F401 - re-exported: the timeline's vocabulary
    MILESTONES,
    OPEN_STATUSES,
    ROLES,
    STATUSES,
)

# Every type :meth:`IncidentState.apply` reads beyond the counters: a fold over these alone,
# with ``event_count``/``last_seq``/``last_event_at`` taken from the whole timeline, is the
# fold over every event (what a 100,000-event incident is opened and exported with).
STATE_TYPES = (DECLARED, CONTEXT_ATTACHED, STATUS_CHANGED, SEVERITY_CHANGED, TITLE_CHANGED,
               SERVICES_CHANGED, TAGS_CHANGED, MILESTONE_SET, ROLE_ASSIGNED, RECORD_SET,
               ACTION_ADDED, ACTION_STATUS, COMMS_SENT, NOTE)

# Health states that count as a detection (an attached change to one of these sets the
# derived ``detected`` milestone).
DEGRADED = ("CRITICAL", "WARNING")


SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
# STATUSES, OPEN_STATUSES, MILESTONES and ROLES: opsconsole.incidents.words (imported above)


class BadInput(ValueError):
    """Operator input that cannot be accepted (the message says what was expected)."""


def parse_severity(text: str, names: tuple[str, ...] | list[str] = SEVERITIES) -> str:
    """One of the configured severity ``names`` (worst first), case-insensitively; a bare
    number picks the name ending in it (``1`` → SEV1, or P1)."""
    s = str(text).strip().replace(" ", "")
    for n in names:
        if n.casefold() == s.casefold():
            return n
    if s.isdigit():
        hits = [n for n in names if re.fullmatch(rf"\D*0*{int(s)}", n)]
        if len(hits) == 1:
            return hits[0]
    raise BadInput(f"severity {text!r}: expected one of {', '.join(names)}")


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


# (earlier, later): the order milestones must be in for the metrics to mean anything
_ORDER = (("started", "detected"), ("detected", "acknowledged"), ("started", "mitigated"),
          ("mitigated", "resolved"), ("started", "resolved"))


def _hm(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%H:%M")


def pick(d: dict[str, Any], *keys: str, default: Any = None) -> Any:
    """The first of ``keys`` that ``d`` has with a value (events written by older versions
    name some fields differently)."""
    for k in keys:
        if k in d and d[k] not in (None, ""):
            return d[k]
    return default


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
    # milestone -> (when, status): the status went back below it after it was set
    went_back: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # postmortem fields (see fields.py)
    actions: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq -> action item
    last_update_at: datetime | None = None  # the last status change or comms sent

    def _status(self, status: str, at: datetime) -> None:
        """A status change. It never acknowledges (someone acknowledges or takes command);
        ``monitoring`` means mitigated unless a mitigation was recorded; going back below a
        milestone withdraws the one the status implied and remarks on an explicit one."""
        self.status = status
        self.last_update_at = at
        if status in ("monitoring", "resolved", "closed"):
            if "mitigated" not in self.derived_milestones:
                self.derived_milestones["mitigated"] = at
                self.went_back.pop("mitigated", None)
        if status in ("resolved", "closed") and "resolved" not in self.derived_milestones:
            self.derived_milestones["resolved"] = at
            self.went_back.pop("resolved", None)
        back = ["resolved"] if status == "monitoring" else (
            ["mitigated", "resolved"] if status in ("investigating", "identified") else [])
        for name in back:
            self.derived_milestones.pop(name, None)
            if name in self.explicit_milestones:
                self.went_back[name] = (at, status)

    def remarks(self) -> dict[str, str]:
        """milestone -> why it is in doubt: ``mitigated at 03:20, but status went back to
        investigating at 03:31``."""
        out = {}
        m = self.milestones
        for name, (at, status) in self.went_back.items():
            if name in m and m[name] <= at:
                out[name] = (f"{name} at {_hm(m[name])}, but status went back to {status} "
                             f"at {_hm(at)}")
        return out

    def order_warnings(self) -> list[str]:
        """Milestones recorded out of order (a backdated ``detected`` before ``started``):
        ``detected (03:00) is before started (03:10)``."""
        m = self.milestones
        out = []
        for a, b in _ORDER:
            if a in m and b in m and m[b] < m[a]:
                out.append(f"{b} ({_hm(m[b])}) is before {a} ({_hm(m[a])})")
        return out

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
            self.last_update_at = e.ts
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
            new = str(pick(inner, "new", "state", "to", default="")).upper()
            if d.get("type") == HEALTH_CHANGED and new in DEGRADED and at is not None:
                # the first sign of trouble, recorded before anyone declared: detection (and
                # impact had started by then at the latest)
                for name in ("detected", "started"):
                    prev = self.derived_milestones.get(name)
                    if prev is None or at < prev:
                        self.derived_milestones[name] = at
        elif t == STATUS_CHANGED:
            self._status(str(d.get("status", self.status)), e.ts)
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
                    self.went_back.pop(name, None)
        elif t == ROLE_ASSIGNED:
            role = str(d.get("role", ""))
            person = str(d.get("person", "") or "")
            if person:
                self.roles[role] = person
            else:
                self.roles.pop(role, None)
            if role == "commander" and person:
                self.derived_milestones.setdefault("acknowledged", e.ts)
        elif t == RECORD_SET:
            name = str(d.get("field", ""))
            if name:
                if d.get("value") is None:
                    self.record.pop(name, None)
                else:
                    self.record[name] = d["value"]
        elif t == ACTION_ADDED and e.seq is not None:
            self.actions[e.seq] = {"seq": e.seq, "text": str(d.get("text", "")),
                                   "owner": d.get("owner"), "status": "open"}
        elif t == ACTION_STATUS:
            item = self.actions.get(d.get("action"))  # type: ignore[arg-type]
            if item is not None:
                item["status"] = str(d.get("status", "done"))
        elif t == COMMS_SENT:
            self.last_update_at = e.ts
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
        return self.rank(SEVERITIES)

    def rank(self, names: tuple[str, ...] | list[str]) -> int:
        """Where the severity is in ``names`` (worst first); unknown ones sort last."""
        return list(names).index(self.severity) if self.severity in names else len(names)

    def durations(self) -> Durations:
        m = self.milestones

        def span(a: str, b: str) -> float | None:
            if a in m and b in m:
                return (m[b] - m[a]).total_seconds()
            return None

        return Durations(span("started", "detected"), span("detected", "acknowledged"),
                         span("started", "mitigated"), span("started", "resolved"))

    def live_durations(self, now: datetime) -> dict[str, str]:
        """MTTx as text, with the running ones counting (``12m04s…``); ``n/a`` when the
        milestones are out of order (see :meth:`invalid_reason`)."""
        m = self.milestones
        out = {}
        for _label, short, secs, a, _b in self.durations().rows():
            if secs is not None:
                out[short] = duration(secs) if secs >= 0 else "n/a"
            elif a in m and self.is_open:
                out[short] = duration(max((now - m[a]).total_seconds(), 0)) + "…"
            else:
                out[short] = "–"
        return out

    def invalid_reason(self, a: str, b: str) -> str | None:
        """Why the span ``a`` → ``b`` has no honest duration (``b`` recorded before ``a``)."""
        m = self.milestones
        if a in m and b in m and m[b] < m[a]:
            return f"{b} ({_hm(m[b])}) is before {a} ({_hm(m[a])})"
        return None

    def metric_text(self, short: str, now: datetime | None = None) -> str:
        """``MTTD: 4m10s`` or ``MTTD: n/a — detected (03:00) is before started (03:10)``."""
        for _label, sh, secs, a, b in self.durations().rows():
            if sh == short:
                why = self.invalid_reason(a, b)
                if why:
                    return f"{short}: n/a — {why}"
                if secs is not None:
                    return f"{short}: {duration(secs)}"
                return f"{short}: " + (self.live_durations(now)[short] if now else "–")
        raise KeyError(short)

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
            "durations": {short.lower(): secs if secs is None or secs >= 0 else None
                          for _l, short, secs, _a, _b in self.durations().rows()},
            "milestone_warnings": self.order_warnings() + list(self.remarks().values()),
            **({"record": dict(self.record)} if self.record else {}),
            **({"action_items": list(self.actions.values())} if self.actions else {}),
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
