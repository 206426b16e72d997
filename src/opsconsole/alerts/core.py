"""The evaluation core the headless watcher and the console share: one evaluator per store.

:class:`EvaluationCore` holds the store's lease (:mod:`opsconsole.incidents.lease`), resumes
from what the store recorded when it takes over (the evaluator's last state, the
notifications already delivered), evaluates a tick's :class:`SignalSet`, applies the
acknowledgements operators recorded (``alert.ack`` events, from any process), records every
transition and the state, and says which notifications to send. It never measures anything
itself: the caller hands it the signals (the watcher from its own checks and samples, the
console from what its panes already collect).

Everything here but :meth:`EvaluationCore.send` is blocking store I/O: the watcher calls it
on its loop, the console in a worker thread (one tick at a time). :meth:`send` schedules the
notifications on the running loop; a delivery's record goes through ``io`` (a thread in
the console). Never imports Textual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.alerts.notify import Delivery, Notification, Notifier
from opsconsole.alerts.record import delivery_event, notification_for, transition_event
from opsconsole.alerts.rules import Evaluator, Transition
from opsconsole.alerts.signals import SignalSet
from opsconsole.alerts.silencelog import SilenceLog
from opsconsole.alerts.silences import silenced_by
from opsconsole.events import ALERT_ACK, ALERT_NOTIFIED, host_name, view_generation
from opsconsole.incidents.lease import LeaseError
from opsconsole.incidents.store import StoreError, all_states, worst_first
from opsconsole.sharedstore.choose import lease_for

if TYPE_CHECKING:
    from opsconsole.alerts.actions import AlertActions
    from opsconsole.alerts.spec import AlertRule
    from opsconsole.config import AppConfig

EVALUATOR_STATE = "alert.evaluator_state"  # data: Evaluator.to_dict() after transitions

Send = tuple[Notification, list[str]]


def ack_data(key: str, who: str, firing_since: float | None, at: float) -> dict[str, Any]:
    """The data of an ``alert.ack`` event: which alert, which firing (an ack never carries
    over to the next firing of the same rule), who, when."""
    return {"alert": key, "who": who, "firing_since": firing_since, "at": at}


def quiet_label(quiet: Any) -> str:
    return quiet.describe() if hasattr(quiet, "describe") else str(getattr(quiet, "name", quiet))


class EvaluationCore:
    def __init__(self, cfg: AppConfig, store: Any, rules: Sequence[AlertRule], *,
                 clock: Callable[[], float] = time.time, say: Callable[[str], Any] = print,
                 lease_ttl: float = 15.0, host: str | None = None,
                 io: Callable[[Callable[[], Any]], Any] | None = None,
                 actions: AlertActions | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self.say = say
        self.host = host or host_name()
        self.rules = list(rules)
        self.evaluator = Evaluator([r for r in self.rules if r.enabled], clock)
        # in the store itself: one evaluator per store (the shared one: per team)
        self.lease = lease_for(store, ttl=lease_ttl, clock=clock)
        self.notifier: Notifier | None = None
        self.silences = SilenceLog()
        self.transitions = 0
        self.io = io or (lambda fn: fn())  # how a delivery's record is written
        self._incident_id: str | None = None  # where this batch's events go (see record)
        self._ack_seq = 0
        self._ack_gen = 0  # the store's generation (events.view_generation)
        self._standing_by: str | None = None
        self.lost = False  # set by holds() when the lease was just lost
        self.actions = actions  # declare: and auto_run: (once per firing episode)

    # ------------------------------------------------------------------ the lease
    def take_over(self) -> None:
        """Just became the evaluator: resume from the recorded state and deliveries."""
        last = self.store.events_after(0, types=(EVALUATOR_STATE,))
        if last:
            self.evaluator.restore(last[-1].data)
        sent = []
        for e in self.store.events_after(0, types=(ALERT_NOTIFIED,)):
            d = e.data
            if d.get("ok") and d.get("dedup_key"):
                sent.append((str(d["dedup_key"]), str(d.get("state")), int(d.get("level") or 0),
                             str(d.get("target"))))
        self.notifier = Notifier(self.cfg.notify, on_delivery=self.delivered, sent=sent)
        self._ack_seq = 0  # acks are matched to their firing: replaying them is harmless
        resumed = sum(1 for s in self.evaluator.states.values() if s.since is not None)
        self.say(f"evaluating {len(self.evaluator.rules)} rules (lease taken; "
                 f"{resumed} alert state(s) resumed from the store)")
        if self.actions is not None:
            self.actions.resume()
            self._catch_up()

    def _catch_up(self) -> None:
        """Act (declare:, auto_run:) on resumed firing alerts never acted on."""
        assert self.actions is not None
        if not any(c.rule.declare or c.rule.auto_run is not None for c in self.evaluator.rules):
            return
        try:
            self.silences.update(self.store)
        except StoreError:
            pass
        at = datetime.fromtimestamp(self.clock(), UTC)
        in_force = self.silences.in_force(at)
        self._incident_id = self.actions.catch_up(
            self.evaluator, self._incident(),
            lambda labels: silenced_by(labels, at, in_force, self.cfg.maintenance) is not None)

    def holds(self) -> bool:
        """Take or renew the lease; on taking it, resume (see :meth:`take_over`)."""
        self.lost = False
        try:
            held_before = self.lease.held
            held = self.lease.acquire()
        except LeaseError as exc:
            self.say(f"lease: {exc}")
            return False
        if held and not held_before:
            self._standing_by = None
            self.take_over()
        elif not held:
            if held_before:
                self.lost = True
                self.say("lease lost: another evaluator took over; standing by")
            info = self.lease.current()
            who = info.label() if info else "?"
            if who != self._standing_by:
                self.say(f"standing by: the evaluator is {who}")
                self._standing_by = who
        return held

    def release(self) -> None:
        try:
            self.lease.release()
        except LeaseError:
            pass

    # ------------------------------------------------------------------ one tick
    def acks(self) -> list[Transition]:
        """The acknowledgements recorded since the last look, applied to the alerts they
        name (only to the firing they were made on)."""
        out: list[Transition] = []
        gen = view_generation(self.store)
        if gen != self._ack_gen:  # the shared store's seqs were provisional: replay (harmless)
            self._ack_gen, self._ack_seq = gen, 0
        for e in self.store.events_after(self._ack_seq, types=(ALERT_ACK,)):
            self._ack_seq = max(self._ack_seq, e.seq or 0)
            d = e.data if isinstance(e.data, dict) else {}
            st = self.evaluator.states.get(str(d.get("alert")))
            if st is None or st.firing_since is None:
                continue
            since = d.get("firing_since")
            if since is not None and abs(float(since) - st.firing_since) > 0.001:
                continue  # an ack of an earlier firing
            t = self.evaluator.ack(st.key, str(d.get("who") or "?"),
                                   float(d.get("at") or self.clock()))
            if t is not None:
                out.append(t)
        return out

    def evaluate(self, signals: SignalSet, now: float | None = None) -> tuple[
            list[Transition], list[Send]]:
        """Acknowledgements, then one evaluation; every transition recorded. Returns the
        transitions and the notifications to :meth:`send`."""
        now = self.clock() if now is None else now
        out = self.acks()
        out += self.evaluator.evaluate(signals, now)
        return out, (self.record(out) if out else [])

    def _incident(self) -> str | None:
        try:
            open_ = worst_first(all_states(self.store), self.cfg.incidents.severity_names())
        except (StoreError, AttributeError):
            return None
        return open_[0].id if open_ else None

    def record(self, transitions: list[Transition]) -> list[Send]:
        """Record each transition (on the worst open incident's timeline when there is one;
        one fold of the store per batch) and the state; returns what to notify (silenced
        alerts are recorded and shown, never notified or escalated)."""
        iid = self._incident_id = self._incident()
        try:
            self.silences.update(self.store)
        except StoreError as exc:
            self.say(f"could not read silences: {exc}")
        at = datetime.fromtimestamp(self.clock(), UTC)
        in_force = self.silences.in_force(at)
        sends: list[Send] = []
        for t in transitions:
            self.transitions += 1
            type_, data = transition_event(t)
            quiet = silenced_by(t.labels, at, in_force, self.cfg.maintenance)
            if quiet is not None:
                data["silenced_by"] = quiet_label(quiet)
            if self.actions is not None:  # declare: may open the incident this goes to
                iid = self._incident_id = self.actions.on_transition(
                    t, iid, silenced=quiet is not None)
            self.append(type_, data, iid)
            value = f"{t.value:.4g}" if isinstance(t.value, float) else str(t.value)
            self.say(f"{t.rule}: {t.from_state} → {t.to_state} ({t.event}) value {value}"
                     + (f" (silenced: {data['silenced_by']})" if quiet is not None else ""))
            n = notification_for(t, self.host)
            if n is not None and t.notify and quiet is None:
                sends.append((n, list(t.notify)))
        self.append(EVALUATOR_STATE, self.evaluator.to_dict(), None)
        return sends

    def send(self, sends: list[Send]) -> None:
        """(on the running loop) Schedule the notifications; returns at once."""
        if self.notifier is None:
            return
        for n, targets in sends:
            self.notifier.send(n, targets)

    def append(self, type_: str, data: dict[str, Any], incident_id: str | None) -> None:
        try:
            self.store.append(type_, data, incident_id=incident_id)
        except StoreError as exc:  # a full disk: keep evaluating, say it
            self.say(f"could not record {type_}: {exc}")

    def delivered(self, d: Delivery) -> None:
        iid = self._incident_id
        self.io(lambda: self.append(*delivery_event(d), iid))
        if not d.ok:
            self.say(d.sentence())
