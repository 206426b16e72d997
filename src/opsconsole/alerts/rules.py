"""Evaluating alert rules: the state machine. Never imports Textual; no I/O, no sleeps.

Per rule, one alert (its key is the rule name) in one of these states::

    inactive ──holds──▶ pending ──held for `for:`──▶ firing ──clears──▶ resolved
       ▲                  │ (stops holding)                               │
       └──────────────────┘                                   holds again: pending

- ``for: 0`` fires on the first evaluation that holds.
- **Hysteresis**: a firing alert resolves only when its ``clear:`` condition holds and
  ``expr`` does not (without ``clear:``: when ``expr`` no longer holds), and that has lasted
  ``keep_firing_for`` (0 when not given). With ``clear: host.cpu < 70`` a CPU oscillating between 75 and 85 stays
  firing; without ``clear:`` or ``keep_firing_for`` the rule resolves at the first dip.
- **No data** (the condition reads NO_DATA): ``no_data: nodata`` (the default) moves the
  alert to its own ``nodata`` state; ``ok`` treats it as not holding (and clearing),
  ``firing`` as holding, ``keep`` leaves the alert as it is (timers keep running).
- **Escalation**: level *i* is reached at ``firing_since + escalate[i].after`` unless the
  alert was acknowledged (:meth:`Evaluator.ack`) or resolved first; each level reached is
  one :class:`Transition` (``event="escalated"``).
- Every change is a :class:`Transition`; the state is plain data
  (:meth:`Evaluator.to_dict` / :meth:`Evaluator.restore`) so ``for:`` survives a restart.

Times are seconds since the epoch from the ``clock`` the evaluator is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from opsconsole.alerts.expr import Call, Condition, Number, Signal, StateConst
from opsconsole.alerts.signals import NO_DATA, SignalSet, SignalType
from opsconsole.alerts.spec import AlertRule
from opsconsole.alerts.window import History, apply
from opsconsole.fmt import duration

INACTIVE, PENDING, FIRING, RESOLVED, NODATA = "inactive", "pending", "firing", "resolved", "nodata"
STATES = (INACTIVE, PENDING, FIRING, RESOLVED, NODATA)
STATE_VERSION = 1


@dataclass
class AlertState:
    """One alert's state: plain data (JSON via :meth:`to_dict`)."""

    key: str
    rule: str
    state: str = INACTIVE
    since: float | None = None  # entered the current state
    pending_since: float | None = None
    firing_since: float | None = None
    resolved_at: float | None = None
    clear_since: float | None = None  # firing, and the clear condition holds since
    value: Any = None  # last value of the rule's primary signal (None: no data)
    evaluated_at: float | None = None
    escalation: int = 0  # escalation levels reached in this firing
    acked_by: str | None = None
    acked_at: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # the parameters of the last signal reading (the root blocker's pid, the mount): an
    # acknowledgement renders its summary without signals, from these
    signal_params: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertState:
        known = {f.name for f in fields(cls)}
        st = cls(**{k: v for k, v in d.items() if k in known})
        if st.state not in STATES:
            st.state = INACTIVE
        return st


@dataclass(frozen=True)
class Transition:
    """One change of one alert: what the notifier, the store and the timeline receive.

    ``event``: pending, firing, resolved, inactive (a pending that stopped holding), nodata,
    escalated (``escalation`` = the level reached, 1-based), acknowledged. ``notify``: the
    targets this transition is for (the rule's ``notify:``; an escalation level's own; a
    resolution also tells every level that was reached). ``dedup_key`` is unique per
    transition (alert key, event, the firing it belongs to, level)."""

    rule: str
    key: str
    labels: dict[str, str]
    from_state: str
    to_state: str
    event: str
    value: Any
    threshold: Any
    at: float
    severity: str
    summary: str
    description: str
    notify: tuple[str, ...] = ()
    escalation: int = 0
    runbook: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    declare: str | None = None
    auto_run: int | str | None = None
    since: float | None = None
    who: str | None = None

    @property
    def dedup_key(self) -> str:
        episode = int((self.since or self.at) * 1000)
        return f"{self.key}:{self.event}:{episode}:{self.escalation}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["value"] = _plain(self.value)
        d["threshold"] = _plain(self.threshold)
        d["dedup_key"] = self.dedup_key
        return d


def _plain(v: Any) -> Any:
    return None if v is NO_DATA else v


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_value(v: Any, unit: str = SignalType.NUMBER) -> str:
    """A value for a summary: ``83.5``, ``12``, ``31m 4s``, ``CRITICAL``, ``no data``."""
    if v is NO_DATA or v is None:
        return "no data"
    if isinstance(v, str):
        return v
    if unit == SignalType.SECONDS:
        return duration(float(v))
    f = float(v)
    if f == int(f) and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.2f}".rstrip("0").rstrip(".") if abs(f) >= 0.01 else f"{f:.3g}"


class _Compiled:
    """A rule with what evaluation needs precomputed."""

    __slots__ = ("rule", "primary", "threshold", "unit", "refs")

    def __init__(self, rule: AlertRule) -> None:
        self.rule = rule
        self.primary, self.threshold = rule.expr.primary()
        p = self.primary
        self.unit = (p.type() if p is not None else SignalType.NUMBER)
        refs = rule.expr.signals() + (rule.clear.signals() if rule.clear else [])
        self.refs = list({r.key: r for r in refs}.values())


class Evaluator:
    """Evaluates rules over one tick's :class:`SignalSet` at a time; keeps every alert's
    state and the signals' history for the window functions."""

    def __init__(self, rules: Iterable[AlertRule], clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.rules = [_Compiled(r) for r in rules if r.enabled]
        self.history = History()
        for c in self.rules:
            for key, window in c.rule.windows.items():
                self.history.want(key, window)
        self._window_refs = {call.signal.ref.key: call.signal.ref for c in self.rules
                             for cond in (c.rule.expr, c.rule.clear) if cond is not None
                             for call in cond.calls()}
        self.states: dict[str, AlertState] = {c.rule.name: AlertState(c.rule.name, c.rule.name)
                                              for c in self.rules}

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, signals: SignalSet, now: float | None = None) -> list[Transition]:
        """Evaluate every rule at ``now`` (default: the clock); returns the transitions."""
        now = self.clock() if now is None else now
        for key, ref in self._window_refs.items():
            self.history.record(key, now, signals.read(ref))
        cache: dict[tuple[str, str, float], Any] = {}

        def windowed(call: Call) -> Any:
            k = call.key
            if k not in cache:
                cache[k] = apply(call.func, self.history.samples(call.signal.ref.key, now,
                                                                 call.window))
            return cache[k]

        def read(sig: Signal) -> Any:
            return signals.read(sig.ref)

        out: list[Transition] = []
        for c in self.rules:
            self._step(c, signals, read, windowed, now, out)
        return out

    def _step(self, c: _Compiled, signals: SignalSet, read: Callable[[Signal], Any],
              windowed: Callable[[Call], Any], now: float, out: list[Transition]) -> None:
        rule = c.rule
        st = self.states[rule.name]
        holds = rule.expr.evaluate(read, windowed)
        p = c.primary
        value = NO_DATA if p is None else (read(p) if isinstance(p, Signal) else windowed(p))
        st.value = _plain(value)
        st.evaluated_at = now
        if holds is NO_DATA:
            if rule.no_data == "keep":
                return
            if rule.no_data == "nodata":
                if st.state != NODATA:
                    self._move(c, st, NODATA, now, value, signals, out)
                return
            holds = rule.no_data == "firing"
        state = st.state
        if state in (INACTIVE, RESOLVED, NODATA):
            if holds:
                st.pending_since = now
                if rule.for_ <= 0:
                    self._fire(c, st, now, value, signals, out)
                else:
                    self._move(c, st, PENDING, now, value, signals, out)
            elif state == NODATA:
                self._move(c, st, INACTIVE, now, value, signals, out)
            return
        if state == PENDING:
            if not holds:
                st.pending_since = None
                self._move(c, st, INACTIVE, now, value, signals, out)
            elif now - (st.pending_since if st.pending_since is not None else now) >= rule.for_:
                self._fire(c, st, now, value, signals, out)
            return
        # firing
        if rule.clear is not None:
            cleared = rule.clear.evaluate(read, windowed)
            if cleared is NO_DATA:
                cleared = rule.no_data == "ok"
            # a clear level that overlaps the firing one (expr > 80, clear < 90) must not
            # resolve an alert whose condition still holds: that would flap
            cleared = bool(cleared) and not holds
        else:
            cleared = not holds
        if cleared:
            if st.clear_since is None:
                st.clear_since = now
            if now - st.clear_since >= float(rule.keep_firing_for or 0.0):
                self._resolve(c, st, now, value, signals, out)
                return
        else:
            st.clear_since = None
        self._escalate(c, st, now, value, signals, out)

    def _fire(self, c: _Compiled, st: AlertState, now: float, value: Any, signals: SignalSet,
              out: list[Transition]) -> None:
        st.firing_since = now
        st.clear_since = None
        st.escalation = 0
        st.acked_by = st.acked_at = None
        st.resolved_at = None
        self._move(c, st, FIRING, now, value, signals, out)
        self._escalate(c, st, now, value, signals, out)

    def _resolve(self, c: _Compiled, st: AlertState, now: float, value: Any,
                 signals: SignalSet, out: list[Transition]) -> None:
        st.resolved_at = now
        reached = c.rule.escalate[: st.escalation]
        extra = tuple(n for e in reached for n in e.notify)
        self._move(c, st, RESOLVED, now, value, signals, out, extra_notify=extra)
        st.pending_since = st.clear_since = None

    def _escalate(self, c: _Compiled, st: AlertState, now: float, value: Any,
                  signals: SignalSet, out: list[Transition]) -> None:
        levels = c.rule.escalate
        while (st.escalation < len(levels) and st.acked_at is None
               and st.firing_since is not None
               and now >= st.firing_since + float(levels[st.escalation].after)):
            st.escalation += 1
            level = levels[st.escalation - 1]
            out.append(self._transition(c, st, FIRING, FIRING, "escalated", now, value, signals,
                                        notify=tuple(level.notify), level=st.escalation))

    def _move(self, c: _Compiled, st: AlertState, to: str, now: float, value: Any,
              signals: SignalSet, out: list[Transition],
              extra_notify: tuple[str, ...] = ()) -> None:
        old = st.state
        st.state = to
        st.since = now
        notify: tuple[str, ...] = ()
        if to in (FIRING, RESOLVED) or (to == NODATA and old == FIRING):
            notify = tuple(dict.fromkeys((*c.rule.notify, *extra_notify)))
        out.append(self._transition(c, st, old, to, to, now, value, signals, notify=notify))

    # ------------------------------------------------------------------ rendering
    def template_values(self, c: _Compiled, st: AlertState, value: Any,
                        signals: SignalSet | None, now: float) -> dict[str, str]:
        """The values a rule's templates are filled from."""
        vals: dict[str, str] = {}
        if signals is not None:
            for ref in reversed(c.refs):  # the first signal's parameters win
                vals.update(signals.reading(ref)[1])
            st.signal_params = {str(k): str(v) for k, v in vals.items()}
        elif isinstance(st.signal_params, dict):  # an ack: what the last reading said
            vals.update({str(k): str(v) for k, v in st.signal_params.items()})
        th = c.threshold
        if isinstance(th, Number):
            vals["threshold"] = format_value(th.value, SignalType.SECONDS if th.duration
                                             else c.unit)
        elif isinstance(th, StateConst):
            vals["threshold"] = th.value
        vals["value"] = format_value(value, c.unit)
        start = st.firing_since if st.state in (FIRING, RESOLVED) else st.pending_since
        since = start if start is not None else st.since
        if since is not None:
            vals["since"] = _iso(since) or ""
            vals["for"] = duration(max(now - since, 0.0))
        vals.update({"name": c.rule.name, "severity": c.rule.severity, "state": st.state})
        for k, v in c.rule.labels.items():
            vals[f"labels.{k}"] = v
        return vals

    def _transition(self, c: _Compiled, st: AlertState, old: str, to: str, event: str,
                    now: float, value: Any, signals: SignalSet | None, *,
                    notify: tuple[str, ...] = (), level: int = 0,
                    who: str | None = None) -> Transition:
        rule = c.rule
        vals = self.template_values(c, st, value, signals, now)
        labels = {"alertname": rule.name, "severity": rule.severity, **rule.labels}
        for k in ("check", "database", "mount", "interface"):
            if k in vals and k not in labels:
                labels[k] = vals[k]
        st.labels = labels
        th = c.threshold
        return Transition(
            rule=rule.name, key=st.key, labels=labels, from_state=old, to_state=to,
            event=event, value=_plain(value), threshold=None if th is None else th.value,
            at=now, severity=rule.severity, summary=rule.summary.render(vals),
            description=rule.description.render(vals), notify=notify, escalation=level,
            runbook=rule.runbook, params={k: t.render(vals) for k, t in rule.params.items()},
            declare=rule.declare if event == FIRING else None,
            auto_run=rule.auto_run if event == FIRING else None,
            since=st.firing_since if to in (FIRING, RESOLVED) else st.pending_since,
            who=who)

    # ------------------------------------------------------------------ operator actions
    def ack(self, alert_key: str, who: str, at: float | None = None) -> Transition | None:
        """Acknowledge a firing alert: escalation stops (recorded). None when the alert is
        not firing or already acknowledged."""
        st = self.states.get(alert_key)
        if st is None or st.state != FIRING or st.acked_at is not None:
            return None
        at = self.clock() if at is None else at
        st.acked_by, st.acked_at = who, at
        c = next(c for c in self.rules if c.rule.name == st.rule)
        return self._transition(c, st, FIRING, FIRING, "acknowledged", at, st.value, None,
                                who=who)

    # ------------------------------------------------------------------ persistence
    def to_dict(self, with_history: bool = False) -> dict[str, Any]:
        """Every alert's state as plain JSON data (and the windows' samples if asked)."""
        d: dict[str, Any] = {"version": STATE_VERSION,
                             "alerts": {k: s.to_dict() for k, s in self.states.items()}}
        if with_history:
            d["history"] = self.history.to_dict()
        return d

    def restore(self, data: dict[str, Any]) -> None:
        """Resume from :meth:`to_dict` data: pending/firing since, escalation and acks are
        kept; alerts of rules that no longer exist are dropped."""
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return
        for key, raw in (data.get("alerts") or {}).items():
            if key in self.states and isinstance(raw, dict):
                self.states[key] = AlertState.from_dict(raw)
        if isinstance(data.get("history"), dict):
            self.history.restore(data["history"])

    @classmethod
    def from_dict(cls, rules: Iterable[AlertRule], data: dict[str, Any],
                  clock: Callable[[], float] = time.time) -> Evaluator:
        ev = cls(rules, clock)
        ev.restore(data)
        return ev

    # ------------------------------------------------------------------ reading
    def active(self) -> list[AlertState]:
        """Firing, pending and no-data alerts, worst first (critical firing at the top)."""
        sev = {"critical": 0, "warning": 1, "info": 2}
        order = {FIRING: 0, NODATA: 1, PENDING: 2}
        by_name = {c.rule.name: c.rule for c in self.rules}
        rows = [s for s in self.states.values() if s.state in order]
        return sorted(rows, key=lambda s: (order[s.state], sev[by_name[s.rule].severity],
                                           s.since or 0.0, s.key))


    def rows(self, now: float | None = None, include_inactive: bool = False) -> list[dict[str, Any]]:
        """What ``opsconsole alerts --json`` and the alerts pane show, worst first: name,
        state, severity, value, threshold, since (ISO), for (seconds in the state), expr,
        runbook, acked_by. Inactive alerts only when asked."""
        now = self.clock() if now is None else now
        by_name = {c.rule.name: c for c in self.rules}
        states = self.active() + ([s for s in self.states.values() if s not in self.active()]
                                  if include_inactive else [])
        out = []
        for st in states:
            c = by_name[st.rule]
            th = c.threshold
            out.append({
                "name": st.key, "state": st.state, "severity": c.rule.severity,
                "value": st.value, "threshold": None if th is None else th.value,
                "since": _iso(st.since), "for": None if st.since is None else max(now - st.since, 0.0),
                "expr": str(c.rule.expr), "runbook": c.rule.runbook, "labels": dict(st.labels),
                "escalation": st.escalation, "acked_by": st.acked_by,
            })
        return out


def rule_values(rule: AlertRule) -> dict[str, Any]:
    """A rule as plain data (for ``opsconsole alerts`` and the UI)."""
    return {"name": rule.name, "expr": str(rule.expr), "for": float(rule.for_),
            "clear": None if rule.clear is None else str(rule.clear),
            "keep_firing_for": None if rule.keep_firing_for is None else float(rule.keep_firing_for),
            "severity": rule.severity, "runbook": rule.runbook, "notify": list(rule.notify)}


__all__ = ["AlertState", "Condition", "Evaluator", "Transition", "format_value", "rule_values",
           "INACTIVE", "PENDING", "FIRING", "RESOLVED", "NODATA"]
