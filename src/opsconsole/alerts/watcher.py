"""The evaluator that runs whether or not a console is open: ``opsconsole watch``.

One per store, by the store's lease (:mod:`opsconsole.incidents.lease`): a watcher that does
not hold it stands by (it runs no checks and sends nothing) and takes over once the holder's
claim runs out. On taking over it resumes from what the store recorded — the evaluator's
last state (pending/firing since, escalation, acknowledgements) and the notifications
already delivered — so a restart or a handover neither restarts a ``for:`` nor notifies a
transition twice.

Each tick: the checks that are due run (each on its own interval, as in the console), the
host is sampled (in a thread), each PostgreSQL target is read (bounded by its timeouts; an
unreachable one is NO DATA), the rules are evaluated, every transition is recorded (on the
worst open incident's timeline when there is one), notifications go out, and the state is
recorded. Never imports Textual.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.alerts.defaults import default_rules, effective_rules
from opsconsole.alerts.notify import Delivery, Notifier
from opsconsole.alerts.record import delivery_event, notification_for, transition_event
from opsconsole.alerts.rules import Evaluator, Transition
from opsconsole.alerts.signals import PgReadings, SignalSet
from opsconsole.alerts.silencelog import SilenceLog
from opsconsole.alerts.silences import silenced_by
from opsconsole.checks.scheduler import CheckScheduler
from opsconsole.checks.tracker import CheckTracker
from opsconsole.events import ALERT_NOTIFIED, host_name
from opsconsole.incidents.lease import LeaseError
from opsconsole.incidents.store import SQLiteStore, StoreError, all_states, worst_first
from opsconsole.sdnotify import Notifier as SystemdNotifier
from opsconsole.sharedstore.choose import lease_for

if TYPE_CHECKING:
    from opsconsole.config import AppConfig
    from opsconsole.sources.host import HostCollector

EVALUATOR_STATE = "alert.evaluator_state"  # data: Evaluator.to_dict() after transitions


class Watcher:
    def __init__(self, cfg: AppConfig, store: SQLiteStore, *, interval: float = 10.0,
                 collector: HostCollector | None = None, lease_ttl: float | None = None,
                 clock: Callable[[], float] = time.time,
                 say: Callable[[str], Any] = print,
                 systemd: SystemdNotifier | None = None,
                 record_signals: str | None = None) -> None:
        from opsconsole.sources.host import HostCollector

        self.cfg = cfg
        self.store = store
        self.interval = interval
        self.clock = clock
        self.say = say
        self.host = host_name()
        self.collector = collector or HostCollector()
        # the default rules cover each real filesystem mounted now
        mounts = [fs.mountpoint for fs in self.collector.collect().filesystems]
        self.rules = effective_rules(default_rules(cfg.thresholds, mounts), cfg.alerts)
        self.evaluator = Evaluator([r for r in self.rules if r.enabled], clock)
        self.tracker = CheckTracker()
        self.scheduler = CheckScheduler(cfg.checks, cfg, self.tracker)
        # in the store itself: one evaluator per store (the shared one: per team)
        self.lease = lease_for(store, ttl=lease_ttl or max(3 * interval, 15.0), clock=clock)
        self.notifier: Notifier | None = None
        self.systemd = systemd or SystemdNotifier()
        self.ticks = 0
        self.transitions = 0
        self._pg: dict[str, Any] = {}
        self.silences = SilenceLog()
        self._incident_id: str | None = None  # where this batch's events go (see _record)
        self.record_signals = record_signals  # JSON Lines of what each evaluation read
        self._standing_by: str | None = None

    # ------------------------------------------------------------------ the lease
    def _take_over(self) -> None:
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
        self.notifier = Notifier(self.cfg.notify, on_delivery=self._delivered, sent=sent)
        resumed = sum(1 for s in self.evaluator.states.values() if s.since is not None)
        self.say(f"evaluating {len(self.evaluator.rules)} rules (lease taken; "
                 f"{resumed} alert state(s) resumed from the store)")

    def holds(self) -> bool:
        try:
            held_before = self.lease.held
            held = self.lease.acquire()
        except LeaseError as exc:
            self.say(f"lease: {exc}")
            return False
        if held and not held_before:
            self._standing_by = None
            self._take_over()
        elif not held:
            if held_before:
                self.say("lease lost: another evaluator took over; standing by")
                self.scheduler.stop()
            info = self.lease.current()
            who = info.label() if info else "?"
            if who != self._standing_by:
                self.say(f"standing by: the evaluator is {who}")
                self._standing_by = who
        return held

    # ------------------------------------------------------------------ one tick
    async def _pg_readings(self) -> dict[str, PgReadings]:
        from opsconsole.alerts.pgstats import read_pg_stats
        from opsconsole.postgres.source import PgSource

        out: dict[str, PgReadings] = {}
        for target in self.cfg.databases:
            src = self._pg.get(target.name)
            if src is None:
                src = self._pg[target.name] = PgSource(target, self.cfg.postgres)
            try:
                activity = await src.activity()
                locks = await src.locks()
                stats = await read_pg_stats(src)
                out[target.name] = PgReadings(activity, locks, stats)
            except Exception:  # unreachable, refused, timed out: NO DATA, not OK
                out[target.name] = PgReadings()
        return out

    async def tick(self) -> list[Transition]:
        self.ticks += 1
        if not self.holds():
            self.systemd.watchdog()
            return []
        self.scheduler.start_due()
        host = await asyncio.to_thread(self.collector.collect)
        pg = await self._pg_readings() if self.cfg.databases else {}
        signals = SignalSet(host=host, checks={s.name: s for s in self.tracker.statuses()},
                            pg=pg)
        now = self.clock()
        out = self.evaluator.evaluate(signals, now)
        if self.record_signals:
            self._record_signals(now, signals)
        if out:
            self._record(out)
        self.systemd.watchdog()
        firing = sum(1 for s in self.evaluator.active() if s.state == "firing")
        self.systemd.status(f"{len(self.evaluator.rules)} rules, {firing} firing")
        return out

    def _record_signals(self, now: float, signals: SignalSet) -> None:
        from opsconsole.alerts.replay import sample_line

        try:
            with open(self.record_signals, "a", encoding="utf-8") as f:  # type: ignore[arg-type]
                f.write(sample_line(now, signals) + "\n")
        except OSError as exc:
            self.say(f"could not record signals to {self.record_signals}: {exc}")

    def _incident(self) -> str | None:
        try:
            open_ = worst_first(all_states(self.store), self.cfg.incidents.severity_names())
        except (StoreError, AttributeError):
            return None
        return open_[0].id if open_ else None

    def _record(self, transitions: list[Transition]) -> None:
        # one fold of the store per batch of transitions (never per tick: most have none);
        # the deliveries that follow go to the same incident
        iid = self._incident_id = self._incident()
        try:
            self.silences.update(self.store)
        except StoreError as exc:
            self.say(f"could not read silences: {exc}")
        at = datetime.fromtimestamp(self.clock(), UTC)
        in_force = self.silences.in_force(at)
        for t in transitions:
            self.transitions += 1
            type_, data = transition_event(t)
            quiet = silenced_by(t.labels, at, in_force, self.cfg.maintenance)
            if quiet is not None:  # recorded and shown, never notified or escalated
                data["silenced_by"] = quiet.describe() if hasattr(quiet, "describe") \
                    else str(getattr(quiet, "name", quiet))
            self._append(type_, data, iid)
            value = f"{t.value:.4g}" if isinstance(t.value, float) else str(t.value)
            self.say(f"{t.rule}: {t.from_state} → {t.to_state} ({t.event}) value {value}"
                     + (f" (silenced: {data['silenced_by']})" if quiet is not None else ""))
            n = notification_for(t, self.host)
            if n is not None and t.notify and self.notifier is not None and quiet is None:
                self.notifier.send(n, list(t.notify))
        self._append(EVALUATOR_STATE, self.evaluator.to_dict(), None)

    def _append(self, type_: str, data: dict[str, Any], incident_id: str | None) -> None:
        try:
            self.store.append(type_, data, incident_id=incident_id)
        except StoreError as exc:  # a full disk: keep evaluating, say it
            self.say(f"could not record {type_}: {exc}")

    def _delivered(self, d: Delivery) -> None:
        self._append(*delivery_event(d), self._incident_id)
        if not d.ok:
            self.say(d.sentence())

    # ------------------------------------------------------------------ the loop
    async def run(self, stop: asyncio.Event | None = None, max_ticks: int | None = None) -> int:
        stop = stop or asyncio.Event()
        first = True
        try:
            while not stop.is_set():
                started = time.monotonic()
                await self.tick()
                if first:
                    self.systemd.ready(f"{len(self.evaluator.rules)} rules")
                    first = False
                if max_ticks is not None and self.ticks >= max_ticks:
                    break
                wait = max(self.interval - (time.monotonic() - started), 0.0)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except TimeoutError:
                    pass
        finally:
            self.systemd.stopping()
            self.scheduler.stop()
            if self.notifier is not None:
                await self.notifier.drain(10)
                await self.notifier.aclose()
            for src in self._pg.values():
                try:
                    await asyncio.wait_for(src.close(), 5)
                except Exception:
                    pass
            try:
                self.lease.release()
            except LeaseError:
                pass
        return 0
