"""What the wall shows, from the store: the follower (store reads, in a worker thread) and
:func:`wall_view` (pure: the followed data and a clock in, what to draw out).

The follower reads ``last_seq()`` at each poll and, only when it moved, the events after the
last one seen, folded into: every incident's state (:class:`IncidentState`), each incident's
last :data:`RECENT` timeline events, the runbook steps started and not finished, the alert
evaluator's recorded state (``alert.evaluator_state``, as the console follows it) with each
alert's severity and summary from its last transition, and each check's last recorded
state. Nothing here writes, and nothing imports Textual.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole import events as ev
from opsconsole.alerts.core import EVALUATOR_STATE
from opsconsole.events import Event
from opsconsole.fmt import age
from opsconsole.incidents import fields as rf
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.describe import describe
from opsconsole.incidents.steps import step_key
from opsconsole.incidents.store import worst_first
from opsconsole.secrets import mask_tokens
from opsconsole.text import one_line
from opsconsole.ui.glyphs import g

RECENT = 10  # timeline events kept (and shown, at most) per incident
PAGE = 5000  # events read per query while catching up
STALE_AFTER = 5.0  # seconds without a successful read before the wall says STALE
FINE_UNDER = 600.0  # seconds: a deadline this near (or this overdue) is drawn to the second
LEASE_EVERY = 5.0  # seconds between reads of who evaluates the alert rules
# not timeline entries: the evaluator's bookkeeping
NOT_SHOWN = (EVALUATOR_STATE, ev.ALERT_NOTIFIED)


@dataclass
class RunningStep:
    """A runbook step started and not (yet) finished, as the store recorded it."""

    incident_id: str | None
    runbook: str
    runbook_title: str
    step: Any  # the 1-based number (or an on_failure step's id)
    step_title: str
    who: str
    started_at: datetime
    source: str | None = None
    run_id: str = ""
    next_title: str | None = None  # filled by the follower from the runbook file


@dataclass
class Followed:
    """Everything the follower read so far (a deep copy is handed to the UI)."""

    states: dict[str, tl.IncidentState] = field(default_factory=dict)
    recent: dict[str, deque[Event]] = field(default_factory=dict)
    running: dict[tuple[str, str, str], RunningStep] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> AlertState data
    alert_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> transition
    checks: dict[str, tuple[str, datetime, str]] = field(default_factory=dict)
    last_seq: int = 0
    read_at: datetime | None = None  # the last successful read (the wall's clock)
    error: str | None = None  # the last read failed: why
    state_at: datetime | None = None  # when the evaluator last recorded the alert states
    # who evaluates the rules: (holder, renewed at, expires at, epoch s); None: nobody
    evaluator: tuple[str, float, float] | None = None
    # the shared store: who has a console open on each open incident (user@host)
    present: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # timeline rows


def _label(actor_label: Any, fallback: str) -> str:
    text = str(actor_label or "").strip()
    return text.split(" from ", 1)[0] if text else fallback


class Follower:
    """Reads the store incrementally (call :meth:`poll` from a worker thread)."""

    def __init__(self, store_of: Callable[[], Any], clock: Callable[[], datetime],
                 next_step: Callable[[RunningStep], str | None] | None = None) -> None:
        self.store_of = store_of
        self.clock = clock
        self.data = Followed()
        self.next_step = next_step or runbook_next_step
        self._next_cache: dict[tuple[str, str, str], str | None] = {}
        self._lease_read = float("-inf")
        self.generation = 0  # the store's (see events.view_generation)

    def poll(self) -> bool:
        """Read what is new; True when something changed (the caller refolds its view)."""
        store = self.store_of()
        d = self.data
        if store is None:
            return False
        try:
            gen = ev.view_generation(store)
            if gen != self.generation:  # seqs read before were provisional: from seq 0
                self.generation = gen
                d = self.data = Followed(evaluator=d.evaluator, present=d.present,
                                         read_at=d.read_at, error=d.error)
            last = store.last_seq()
            changed = last != d.last_seq or d.read_at is None
            while last > d.last_seq:
                batch = store.events_after(d.last_seq, PAGE)
                if not batch:
                    break
                for e in batch:
                    self._apply(e)
                    d.last_seq = max(d.last_seq, e.seq or 0)
            was_error, d.error = d.error, None
            d.read_at = self.clock()
            return self._read_lease(store) or changed or was_error is not None
        except Exception as exc:  # a locked or vanished store: say it, keep what we have
            changed = d.error != str(exc)
            d.error = one_line(str(exc), 200)
            return changed

    def _read_lease(self, store: Any) -> bool:
        """Who evaluates the rules (read every :data:`LEASE_EVERY` s, only while alert
        states are known): without one, the states shown are what was last recorded. On
        the shared store, who has each open incident open (at the same pace)."""
        import time

        now = time.monotonic()  # the pace (the display clock may stand still in a test)
        if now - self._lease_read < LEASE_EVERY:
            return False
        self._lease_read = now
        changed = self._read_presence(store)
        if not self.data.alerts:
            return changed
        from opsconsole.sharedstore.choose import lease_for

        try:
            info = lease_for(store).current()
        except Exception:  # unreadable: as if nobody held it (the states say how old)
            info = None
        new = None if info is None else (info.label(), info.renewed_at, info.expires_at)
        changed |= new != self.data.evaluator
        self.data.evaluator = new
        return changed

    def _read_presence(self, store: Any) -> bool:
        if not hasattr(store, "present"):
            return False
        present: dict[str, list[str]] = {}
        for iid, st in self.data.states.items():
            if not st.is_open:
                continue
            try:
                present[iid] = [one_line(p.label()) for p in store.present(iid)]
            except Exception:  # unreachable: the last known presence stays
                present[iid] = self.data.present.get(iid, [])
        changed = present != self.data.present
        self.data.present = present
        return changed

    def snapshot(self) -> Followed:
        return copy.deepcopy(self.data)

    def _apply(self, e: Event) -> None:
        d = self.data
        data = e.data if isinstance(e.data, dict) else {}
        iid = e.incident_id
        if iid is not None:
            st = d.states.get(iid)
            if st is None:
                st = d.states[iid] = tl.IncidentState(id=iid)
            st.apply(e)
            if e.type not in NOT_SHOWN:
                d.recent.setdefault(iid, deque(maxlen=RECENT)).append(e)
        t = e.type
        if t == ev.RUNBOOK_STARTED:
            key = step_key(data)
            run = RunningStep(
                incident_id=iid, runbook=str(data.get("runbook") or "?"),
                runbook_title=str(data.get("runbook_title") or data.get("runbook") or "?"),
                step=data.get("step", "?"),
                step_title=str(data.get("step_title") or data.get("step") or "?"),
                who=_label(data.get("operator"), e.actor.user),
                started_at=tl._ts(data.get("started_at")) or e.ts,
                source=data.get("runbook_source") if isinstance(data.get("runbook_source"), str)
                else None, run_id=str(data.get("run_id") or ""))
            if key not in self._next_cache:
                try:
                    self._next_cache[key] = self.next_step(run)
                except Exception:  # an unreadable runbook file: no next step shown
                    self._next_cache[key] = None
            run.next_title = self._next_cache[key]
            d.running[key] = run
        elif t in (ev.RUNBOOK_FINISHED, ev.RUNBOOK_SKIPPED):
            d.running.pop(step_key(data), None)
        elif t == ev.RUNBOOK_RUN_STOPPED:
            run_id = str(data.get("run_id") or "")
            for key in [k for k, r in d.running.items() if run_id and r.run_id == run_id]:
                d.running.pop(key, None)
        elif t == EVALUATOR_STATE:
            alerts = data.get("alerts")
            if isinstance(alerts, dict):
                d.alerts = {str(k): v for k, v in alerts.items() if isinstance(v, dict)}
                d.state_at = e.ts
        elif t == ev.ALERT_TRANSITION and data.get("key"):
            prev = d.alert_info.get(str(data["key"]))
            params = data.get("params") if isinstance(data.get("params"), dict) else {}
            if prev is not None and any(str(v) == "?" for v in params.values()):
                # recorded without a signal reading (an ack by an older evaluator)
                data = {**data, "summary": prev.get("summary")}
            d.alert_info[str(data["key"])] = data
        elif t == ev.HEALTH_CHANGED and data.get("check"):
            at = tl._ts(data.get("at")) or e.ts
            d.checks[str(data["check"])] = (str(data.get("new") or "?").upper(), at,
                                            str(data.get("message") or ""))


def runbook_next_step(run: RunningStep) -> str | None:
    """(thread) The title of the step after ``run``'s, from its runbook file (parsed in a
    child process within a time bound); None when unknown or the last."""
    if not run.source or not isinstance(run.step, int):
        return None
    from opsconsole.runbooks.isolated import load_files
    from opsconsole.runbooks.model import Runbook

    path = Path(run.source)
    if not path.is_file():
        return None
    loaded = load_files([path], timeout=5.0)
    rb = loaded[0] if loaded else None
    if not isinstance(rb, Runbook) or run.step >= len(rb.steps):
        return None
    return str(rb.steps[run.step].title)


# ---------------------------------------------------------------------- the view (pure)
@dataclass
class IncidentView:
    id: str
    severity: str
    severity_rank: int
    status: str
    title: str
    started_seconds: float | None
    response_text: str  # "4m10s left", "OVERDUE 2m", "acked 3m"
    response_seconds: float | None  # left (negative: overdue), None once acknowledged
    overdue: bool
    update_text: str  # "next update due in 12m" / "update OVERDUE by 3m" / ""
    update_overdue: bool
    update_due: float | None  # timestamp the next status update is due, None: not open
    roles: dict[str, str]
    steps: list[RunningStep]
    timeline: list[tuple[str, str, str]]  # (HH:MM:SS, who, sentence), newest first
    present: list[str] = field(default_factory=list)  # user@host with it open (shared)


@dataclass
class BoardRow:
    kind: str  # "alert" | "check"
    name: str
    state: str  # FIRING, PENDING, NO DATA, CRITICAL, WARNING, UNKNOWN...
    for_seconds: float | None
    detail: str = ""


@dataclass
class WallView:
    incidents: list[IncidentView]
    board: list[BoardRow]  # not green: firing/pending alerts, checks not OK
    checks_known: int
    alerts_known: int
    host: str
    data_age: float | None  # seconds since the last successful read
    live: bool
    error: str | None
    other_steps: list[RunningStep]  # running steps not attached to an open incident
    # the alert states are not live: no evaluator holds the lease (why, for how long)
    alerts_stale: str | None = None
    # what the shown clocks and ages count from or to: (timestamp, may be drawn to the
    # second); see redraw_in
    anchors: list[tuple[float, bool]] = field(default_factory=list)


def fine(seconds: float) -> bool:
    """A deadline's clock is drawn to the second while it is under :data:`FINE_UNDER` away
    (its last minutes, its first overdue ones), to the minute beyond; every other clock and
    age is drawn to the minute. Each clock that counts seconds costs every browser viewer
    about 1 % of a core (bench/bench_serve.py), the whole of what a viewer may cost."""
    return abs(seconds) < FINE_UNDER


def clock_text(seconds: float, countdown: bool = False) -> str:
    """The big digits: ``0:12`` or ``26:03`` (hours and minutes); a countdown under ten
    minutes ``4:05`` (minutes and seconds). :func:`clock_unit` says which."""
    s = int(max(seconds, 0))
    if countdown and fine(s):
        return f"{s // 60}:{s % 60:02d}"
    return f"{s // 3600}:{(s % 3600) // 60:02d}"


def clock_unit(seconds: float, countdown: bool = False) -> str:
    """``m:ss`` or ``h:mm``: what :func:`clock_text` of ``seconds`` shows."""
    return "m:ss" if countdown and fine(int(max(seconds, 0))) else "h:mm"


def countdown_text(seconds: float) -> str:
    """A deadline in words: to the second under ten minutes (``4m10s``), then to the
    minute (``14m``, ``2h05m``)."""
    return age(seconds, coarse=not fine(seconds))


def elapsed(seconds: float) -> str:
    """An age on the wall, to the minute: ``<1m``, ``14m``, ``2h05m``."""
    return age(seconds, coarse=True)


def redraw_in(anchors: list[tuple[float, bool]], now_ts: float) -> float:
    """Seconds until something the wall shows changes on its own (the data not changing):
    each anchor is a timestamp a shown clock or age counts from or down to, and whether it
    may be drawn to the second. A value shown to resolution r (1 s or 60 s) changes when
    ``now - anchor`` crosses a multiple of r, whichever way it counts. The small print's
    HH:MM is anchored at the epoch."""
    best = 60.0 - now_ts % 60.0
    for anchor, can_be_fine in anchors:
        gap = now_ts - anchor
        r = 1.0 if can_be_fine and fine(gap) else 60.0
        best = min(best, r - gap % r)
    return max(best, 0.0) + 0.02  # just past the change


def _who(e: Event) -> str:
    return e.actor.user if e.actor is not None else "?"


def _timeline_row(data: Followed, e: Event) -> tuple[str, str, str]:
    """(HH:MM:SS, who, sentence) of an event, worked out once (the wall redraws every
    second; an event never changes)."""
    key = e.seq or id(e)
    row = data.rows.get(key)
    if row is None:
        if len(data.rows) > 4 * RECENT * max(len(data.recent), 1):
            data.rows.clear()
        row = data.rows[key] = (e.ts.astimezone(UTC).strftime("%H:%M:%S"),
                                one_line(_who(e)), describe(e))
    return row


def wall_view(data: Followed, now: datetime, incidents_cfg: Any, host: str) -> WallView:
    """What to draw (pure): the open incidents worst first with their clocks, roles,
    running steps and last events; the not-green board; the small print."""
    order = incidents_cfg.severity_names()
    views = []
    open_ids = set()
    for s in worst_first(list(data.states.values()), order):
        open_ids.add(s.id)
        target = incidents_cfg.for_severity(s.severity)
        resp, overdue = s.response_clock(now, target, fmt=countdown_text)
        m = s.milestones
        base = m.get("detected") or s.declared_at
        left = None
        if "acknowledged" not in m and base is not None:
            left = target - (now - base).total_seconds()
        cadence = incidents_cfg.update_cadence(s.severity)
        upd = rf.next_update_text(s, now, cadence)
        due = rf.next_update_due(s, cadence)
        started = s.started_at
        recent = list(data.recent.get(s.id, ()))[::-1]
        views.append(IncidentView(
            id=one_line(s.id), severity=one_line(s.severity), severity_rank=s.rank(order),
            status=one_line(s.status), title=one_line(mask_tokens(s.title)),
            started_seconds=None if started is None else max((now - started).total_seconds(), 0),
            response_text=resp, response_seconds=left, overdue=overdue,
            update_text=upd, update_overdue="OVERDUE" in upd,
            update_due=None if due is None or not upd else due.timestamp(),
            roles={r: one_line(s.roles[r]) for r in tl.ROLES if s.roles.get(r)},
            steps=sorted((r for r in data.running.values() if r.incident_id == s.id),
                         key=lambda r: r.started_at),
            timeline=[_timeline_row(data, e) for e in recent],
            present=list(data.present.get(s.id, []))))
    board: list[BoardRow] = []
    ts_now = now.timestamp()
    words = {"firing": "FIRING", "pending": "PENDING", "nodata": "NO DATA"}
    rank = {"firing": 0, "nodata": 1, "pending": 2}
    for key, st in sorted(data.alerts.items(),
                          key=lambda kv: (rank.get(str(kv[1].get("state")), 9), kv[0])):
        state = str(st.get("state"))
        if state not in words:
            continue
        info = data.alert_info.get(key, {})
        since = st.get("since")
        sep = f" {g('·')} "
        detail = sep.join(x for x in (str(info.get("severity") or ""),
                                        one_line(mask_tokens(str(info.get("summary") or ""))))
                            if x)
        if st.get("acked_by"):
            detail += (sep if detail else "") + f"acked by {one_line(str(st['acked_by']))}"
        board.append(BoardRow("alert", one_line(key), words[state],
                              None if not isinstance(since, int | float)
                              else max(ts_now - since, 0), detail))
    crit = {"CRITICAL": 0, "UNKNOWN": 1, "WARNING": 2}
    for name, (state, at, msg) in sorted(data.checks.items(),
                                         key=lambda kv: (crit.get(kv[1][0], 3), kv[0])):
        if state == "OK":
            continue
        board.append(BoardRow("check", one_line(name), one_line(state),
                              max((now - at).total_seconds(), 0), one_line(mask_tokens(msg))))
    age_s = None if data.read_at is None else max((now - data.read_at).total_seconds(), 0)
    live = data.error is None and age_s is not None and age_s <= STALE_AFTER
    others = sorted((r for r in data.running.values() if r.incident_id not in open_ids),
                    key=lambda r: r.started_at)
    return WallView(views, board, len(data.checks), len(data.alerts), one_line(host), age_s,
                    live, data.error, others, alerts_stale(data, now),
                    _anchors(data, views, board, others, now, live))


def _anchors(data: Followed, views: list[IncidentView], board: list[BoardRow],
             others: list[RunningStep], now: datetime, live: bool) -> list[tuple[float, bool]]:
    """What the shown clocks and ages count from or to (see :func:`redraw_in`)."""
    ts = now.timestamp()
    out: list[tuple[float, bool]] = []
    if views:
        top = views[0]  # the big clocks
        if top.started_seconds is not None:
            out.append((ts - top.started_seconds, False))
        if top.response_seconds is not None:
            out.append((ts + top.response_seconds, True))
        if top.update_due is not None:
            out.append((top.update_due, True))
        out += [(r.started_at.timestamp(), False) for r in top.steps]
        out += [(ts - v.started_seconds, False) for v in views[1:]
                if v.started_seconds is not None]
        out += [(ts + v.response_seconds, True) for v in views[1:]
                if v.response_seconds is not None]
    out += [(r.started_at.timestamp(), False) for r in others]
    out += [(ts - row.for_seconds, False) for row in board if row.for_seconds is not None]
    if data.state_at is not None and data.alerts:
        out.append((data.state_at.timestamp(), False))
    if data.evaluator is not None:
        out.append((data.evaluator[1], False))
    if not live and data.read_at is not None:
        out.append((data.read_at.timestamp(), True))
    return out


def alerts_stale(data: Followed, now: datetime) -> str | None:
    """Why the recorded alert states may be out of date, or None while an evaluator holds
    the lease (or no alert is known)."""
    if not data.alerts:
        return None
    ts = now.timestamp()
    when = ("" if data.state_at is None else
            f"recorded {elapsed(max((now - data.state_at).total_seconds(), 0))} ago")
    if data.evaluator is None:
        return one_line(f"no evaluator is running: alert states as {when or 'last recorded'}")
    holder, renewed, expires = data.evaluator
    if ts >= expires:
        return one_line(f"the evaluator ({holder}) stopped {elapsed(max(ts - renewed, 0))} ago: "
                        f"alert states as {when or 'last recorded'}")
    return None
