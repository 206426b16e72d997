"""What a firing alert does by itself: ``declare:`` and ``auto_run:`` (issue 14).

- ``declare: SEV2`` — when the alert fires and no incident is open, the evaluator declares
  one at that severity (title from the rule's summary, services from its labels, the actor
  the evaluator: ``alert api-down (watch)@ops-01``); the episode's pending transition is
  attached as context, ``started``/``detected`` are when the condition began to hold and
  when it fired. With an incident open the alert is attached to it instead (recorded on its
  timeline). ``declare: attach`` only ever attaches.
- ``auto_run: STEP`` — the rule's runbook step runs unattended when the alert fires: only a
  step marked ``auto_run_safe: true`` (checked at config load,
  :func:`opsconsole.runbooks.autorun.check_auto_run`),
  never with ``read_only``, parameters from the alert's rendered ``params:`` and labels
  (through the runbook's own parameter checks: values become environment variables or bound
  SQL arguments, never shell or SQL text), recorded like a step run from the console.

Both happen at most once per firing episode (an episode is the alert's key and the time it
fired). The memory is the store: every action is an event (``alert.declared``,
``alert.auto_run``, recorded *before* a step starts, so a killed evaluator never runs it
twice), read back by :meth:`AlertActions.resume` when an evaluator takes the lease; then
:meth:`AlertActions.catch_up` acts for the alerts it resumed firing that were never acted
on (the previous evaluator died between recording the firing and acting on it).

Silenced alerts neither declare nor run anything (a silence means people are on it).
Used by :class:`opsconsole.alerts.watcher.Watcher` and by the console when it evaluates.
Never imports Textual.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.alerts.rules import FIRING, Evaluator, Transition
from opsconsole.events import (
    ALERT_AUTO_RUN,
    ALERT_DECLARED,
    ALERT_TRANSITION,
    CONTEXT_ATTACHED,
    Actor,
    Event,
)
from opsconsole.fmt import one_line
from opsconsole.incidents.store import StoreError

if TYPE_CHECKING:
    from opsconsole.config import AppConfig
    from opsconsole.incidents.store import SQLiteStore

TITLE_MAX = 200


def episode(t: Transition) -> str:
    """One firing of one alert: its key and when it fired (ms)."""
    return f"{t.key}:{int((t.since if t.since is not None else t.at) * 1000)}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def severity_for(declare: str, names: tuple[str, ...] | list[str]) -> str:
    """``SEV2`` as one of the configured severity names (worst first): the same name, else
    the one ending in the same number, else the nearest level there is."""
    from opsconsole.incidents.timeline import BadInput, parse_severity

    try:
        return parse_severity(declare, names)
    except BadInput:
        pass
    n = int(re.sub(r"\D", "", declare) or 3)
    try:
        return parse_severity(str(n), names)
    except BadInput:
        return list(names)[min(max(n, 1), len(names)) - 1]


def services_for(labels: dict[str, str]) -> list[str]:
    """``service``/``services`` labels (comma-separated), else the check or database."""
    for k in ("services", "service"):
        if labels.get(k):
            return [s.strip() for s in labels[k].split(",") if s.strip()][:20]
    return [labels[k] for k in ("check", "database") if labels.get(k)][:1]


class AlertActions:
    """Declares, attaches and auto-runs for one evaluator (see the module docstring)."""

    def __init__(self, cfg: AppConfig, store: SQLiteStore, *, evaluator: str = "watch",
                 host: str | None = None, read_only: bool = False,
                 say: Callable[[str], Any] = print, clock: Callable[[], float] | None = None,
                 runner: Any = None, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.evaluator = evaluator
        self.host = host or socket.gethostname()
        self.read_only = read_only or bool(getattr(cfg, "read_only", False))
        self.say = say
        self.clock = clock
        # runs the auto_run: steps (opsconsole.runbooks.autorun.AutoRunner, given by the
        # layer above: alerts never imports runbooks); None refuses every auto_run:
        self.runner = runner
        self.done: set[tuple[str, str]] = set()  # (declare|auto_run, episode)
        self.tasks: set[asyncio.Task[Any]] = set()
        # the loop auto_run: steps run on when transitions are recorded from another thread
        # (the console evaluates in a worker thread)
        self.loop = loop

    # ------------------------------------------------------------------ memory
    def resume(self) -> int:
        """Read what was already done from the store (on taking the lease)."""
        n = 0
        for e in self.store.events_after(0, types=(ALERT_DECLARED, ALERT_AUTO_RUN)):
            ep = (e.data or {}).get("episode")
            if ep:
                kind = "declare" if e.type == ALERT_DECLARED else "auto_run"
                self.done.add((kind, str(ep)))
                n += 1
        return n

    def actor(self, t: Transition) -> Actor:
        return Actor(user=f"alert {t.rule} ({self.evaluator})", client=None, tty=None,
                     host=self.host)

    def _append(self, type_: str, data: dict[str, Any], iid: str | None, actor: Actor,
                ts: datetime | None = None) -> Event | None:
        try:
            return self.store.append(type_, data, incident_id=iid, actor=actor, ts=ts)
        except StoreError as exc:
            self.say(f"could not record {type_}: {exc}")
            return None

    # ------------------------------------------------------------------ entry points
    def on_transition(self, t: Transition, incident_id: str | None, *,
                      silenced: bool = False) -> str | None:
        """Act on one transition before it is recorded; returns the incident its events
        go to now (a new one when this firing declared it). Call on the event loop when
        the rule has ``auto_run:`` (the step runs as a task)."""
        if t.event != FIRING or silenced or not (t.declare or t.auto_run is not None):
            return incident_id
        if t.declare:
            incident_id = self.declare(t, incident_id)
        if t.auto_run is not None and ("auto_run", episode(t)) not in self.done:
            self.start_auto_run(t, incident_id)
        return incident_id

    def catch_up(self, evaluator: Evaluator, incident_id: str | None,
                 silenced: Callable[[dict[str, str]], bool] = lambda labels: False) -> str | None:
        """For every alert resumed firing whose episode was never acted on: act now."""
        now = self.clock() if self.clock else evaluator.clock()
        for c in evaluator.rules:
            rule = c.rule
            st = evaluator.states.get(rule.name)
            if st is None or st.state != FIRING or not (rule.declare or rule.auto_run is not None):
                continue
            labels = dict(st.labels)
            t = evaluator._transition(c, st, FIRING, FIRING, FIRING, now, st.value, None)
            st.labels = labels  # no signals here: keep the labels the firing had
            t = replace(t, labels=labels, since=st.firing_since)
            if (("declare", episode(t)) in self.done or not rule.declare) and (
                    ("auto_run", episode(t)) in self.done or rule.auto_run is None):
                continue
            self.say(f"{rule.name}: firing since before this evaluator; acting on it now")
            incident_id = self.on_transition(t, incident_id, silenced=silenced(labels))
        return incident_id

    # ------------------------------------------------------------------ declare
    def _data(self, t: Transition) -> dict[str, Any]:
        return {"rule": t.rule, "key": t.key, "episode": episode(t), "severity": t.severity,
                "summary": one_line(t.summary, TITLE_MAX), "value": t.value,
                "threshold": t.threshold, "since": t.since, "at": t.at,
                "labels": dict(t.labels), "runbook": t.runbook,
                "evaluator": f"{self.evaluator} on {self.host}"}

    def declare(self, t: Transition, incident_id: str | None) -> str | None:
        ep = episode(t)
        if ("declare", ep) in self.done:
            return incident_id
        actor = self.actor(t)
        at = datetime.fromtimestamp(t.at, UTC)
        data = self._data(t)
        if incident_id is not None:
            if self._append(ALERT_DECLARED, {**data, "action": "attached",
                                             "incident": incident_id}, incident_id, actor, at):
                self.done.add(("declare", ep))
                self.say(f"{t.rule}: attached to the open incident {incident_id}")
            return incident_id
        if t.declare == "attach":
            return None  # nothing open to attach to; only ever attaches
        sev = severity_for(str(t.declare), self.cfg.incidents.severity_names())
        pending = self._pending_transition(t)
        extra: dict[str, Any] = {"alert": {"rule": t.rule, "key": t.key, "episode": ep},
                                 "declared_by_alert": t.rule, "detected": _iso(t.at)}
        if pending is not None:
            at_ = (pending.data or {}).get("at")
            extra["started"] = _iso(float(at_)) if isinstance(at_, int | float) \
                else pending.ts.isoformat()
        title = one_line(t.summary or t.rule, TITLE_MAX)
        try:
            e = self.store.declare(title, sev, services_for(t.labels), actor=actor, ts=at,
                                   extra=extra)
        except StoreError as exc:
            self.say(f"{t.rule}: could not declare an incident: {exc}")
            return None
        iid = e.incident_id
        if pending is not None:
            a = pending.actor
            self._append(CONTEXT_ATTACHED, {
                "seq": pending.seq, "type": pending.type, "ts": pending.ts.isoformat(),
                "actor": {"user": a.user, "client": a.client, "tty": a.tty, "host": a.host},
                "data": pending.data}, iid, actor, at)
        self._append(ALERT_DECLARED, {**data, "action": "declared", "incident": iid,
                                      "incident_severity": sev}, iid, actor, at)
        self.done.add(("declare", ep))
        self.say(f"{t.rule}: declared {iid} ({sev}): {title}")
        return iid

    def _pending_transition(self, t: Transition) -> Event | None:
        """The unattached pending transition that began this episode (the last one of the
        alert before it fired), if it was recorded."""
        try:
            recent = self.store.events(None, newest=500, types=(ALERT_TRANSITION,))
        except StoreError:
            return None
        for e in reversed(recent):
            d = e.data or {}
            if d.get("key") != t.key:
                continue
            if d.get("event") == "pending" and float(d.get("at") or 0) <= t.at:
                return e
            if d.get("event") in ("firing", "resolved", "inactive"):
                return None  # an earlier episode's
        return None

    # ------------------------------------------------------------------ auto_run
    def start_auto_run(self, t: Transition, incident_id: str | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if self.loop is not None and self.loop.is_running():
                asyncio.run_coroutine_threadsafe(self.auto_run(t, incident_id), self.loop)
                return
            self.say(f"{t.rule}: auto_run needs the evaluator's event loop; not run")
            return
        task = loop.create_task(self.auto_run(t, incident_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Wait for the auto-run steps in flight (each is bounded by its own timeout)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)

    async def auto_run(self, t: Transition, incident_id: str | None) -> str:
        """Run the rule's ``auto_run:`` step once for this episode; returns the outcome's
        status (``refused``, with the reason recorded, when it may not run)."""
        ep = episode(t)
        if ("auto_run", ep) in self.done:
            return "done"
        if self.read_only:  # records nothing either
            self.say(f"{t.rule}: auto_run not run: read-only")
            return "refused"
        self.done.add(("auto_run", ep))
        actor = self.actor(t)
        base = {"rule": t.rule, "key": t.key, "episode": ep, "runbook": t.runbook,
                "step": t.auto_run, "evaluator": f"{self.evaluator} on {self.host}"}
        if self.runner is None:
            plan: Any = "this evaluator cannot run runbook steps"
        else:
            try:
                plan = await self.runner.plan(str(t.runbook), t.auto_run, t.params, t.labels)
            except Exception as exc:  # a broken runbook directory: refused, said
                plan = f"{type(exc).__name__}: {exc}"
        if isinstance(plan, str):
            self._append(ALERT_AUTO_RUN, {**base, "status": "refused", "reason": plan},
                         incident_id, actor)
            self.say(f"{t.rule}: auto_run refused: {plan}")
            return "refused"
        assert self.runner is not None
        step = {"step": plan.index + 1, "step_title": plan.title}
        # recorded before the step starts: a killed evaluator's successor never runs it again
        self._append(ALERT_AUTO_RUN, {**base, **step, "status": "started"}, incident_id, actor)
        result = await self.runner.run(plan, actor, incident_id)
        self._append(ALERT_AUTO_RUN, {**base, **step, "status": result.status,
                                      "exit_status": result.exit_code,
                                      "message": result.message}, incident_id, actor)
        self.say(f"{t.rule}: auto_run runbook {t.runbook} step {plan.index + 1}: "
                 f"{result.status}")
        return str(result.status)
