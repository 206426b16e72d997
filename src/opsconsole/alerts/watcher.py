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
recorded (the lease, the evaluation and the records are :mod:`opsconsole.alerts.core`,
shared with the console). Acknowledgements recorded by any console are honoured. Never
imports Textual.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsconsole.alerts.actions import AlertActions
from opsconsole.alerts.core import EVALUATOR_STATE, EvaluationCore
from opsconsole.alerts.defaults import default_rules, effective_rules
from opsconsole.alerts.notify import Notifier
from opsconsole.alerts.rules import Transition
from opsconsole.alerts.signals import PgReadings, SignalSet
from opsconsole.checks.scheduler import CheckScheduler
from opsconsole.checks.tracker import CheckTracker
from opsconsole.events import host_name
from opsconsole.incidents.store import SQLiteStore
from opsconsole.sdnotify import Notifier as SystemdNotifier

__all__ = ["EVALUATOR_STATE", "Watcher"]

if TYPE_CHECKING:
    from opsconsole.config import AppConfig
    from opsconsole.sources.host import HostCollector

class Watcher:
    def __init__(self, cfg: AppConfig, store: SQLiteStore, *, interval: float = 10.0,
                 collector: HostCollector | None = None, lease_ttl: float | None = None,
                 clock: Callable[[], float] = time.time,
                 say: Callable[[str], Any] = print,
                 systemd: SystemdNotifier | None = None,
                 record_signals: str | None = None, auto_runner: Any = None) -> None:
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
        from opsconsole.slo.engine import slo_rules
        from opsconsole.slo.history import HistoryDB, history_file
        from opsconsole.slo.runner import SloRunner

        # issue 15: SLO burn-rate rules, metrics scrapes and per-minute check history (in
        # the SQLite file, also next to the shared store: not in its journal)
        hist = history_file(store, create=True) or str(store.path)
        self.slo = SloRunner(list(cfg.metrics), list(cfg.slos), HistoryDB(hist), clock)
        self.slo.load()
        self.rules = effective_rules(default_rules(cfg.thresholds, mounts),
                                     [*slo_rules(cfg.slos), *cfg.alerts])
        # the lease, the evaluator, the records and the notifier: shared with the console
        self.core = EvaluationCore(cfg, store, self.rules, clock=clock, say=say,
                                   lease_ttl=lease_ttl or max(3 * interval, 15.0),
                                   host=self.host,
                                   actions=AlertActions(cfg, store, evaluator="watch",
                                                        host=self.host, say=say, clock=clock,
                                                        runner=auto_runner))
        self.actions = self.core.actions
        self.evaluator = self.core.evaluator
        self.lease = self.core.lease
        self.silences = self.core.silences
        self.tracker = CheckTracker()
        self.scheduler = CheckScheduler(cfg.checks, cfg, self.tracker,
                                        history=self.slo.recorder)
        self.systemd = systemd or SystemdNotifier()
        self.ticks = 0
        self._pg: dict[str, Any] = {}
        self.record_signals = record_signals  # JSON Lines of what each evaluation read
        from opsconsole.sources.promql import PromPoller

        # prometheus: queries, read each target's interval; their errors said once a change
        self.promql = PromPoller(list(getattr(cfg, "prometheus", None) or []))
        self._promql_said: dict[str, str] = {}

    @property
    def notifier(self) -> Notifier | None:
        return self.core.notifier

    @property
    def transitions(self) -> int:
        return self.core.transitions

    # ------------------------------------------------------------------ the lease
    def holds(self) -> bool:
        held = self.core.holds()
        if self.core.lost:
            self.scheduler.stop()
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
        await self.slo.tick()
        values = {**self.slo.signals(), **await self._promql_values()}
        signals = SignalSet(host=host, checks={s.name: s for s in self.tracker.statuses()},
                            pg=pg, values=values)
        now = self.clock()
        out, sends = self.core.evaluate(signals, now)
        if self.record_signals:
            self._record_signals(now, signals)
        self.core.send(sends)
        self.systemd.watchdog()
        firing = sum(1 for s in self.evaluator.active() if s.state == "firing")
        self.systemd.status(f"{len(self.evaluator.rules)} rules, {firing} firing")
        return out

    async def _promql_values(self) -> dict[str, Any]:
        if not self.promql.targets:
            return {}
        values = await self.promql.values()
        errors = dict(self.promql.errors)
        for key, err in errors.items():
            if self._promql_said.get(key) != err:
                self.say(f"promql {key}: {err} (its signals read no data)")
        for key in set(self._promql_said) - set(errors):
            self.say(f"promql {key}: answering again")
        self._promql_said = errors
        return values

    def _record_signals(self, now: float, signals: SignalSet) -> None:
        from opsconsole.alerts.replay import sample_line

        try:
            with open(self.record_signals, "a", encoding="utf-8") as f:  # type: ignore[arg-type]
                f.write(sample_line(now, signals) + "\n")
        except OSError as exc:
            self.say(f"could not record signals to {self.record_signals}: {exc}")

    def _record(self, transitions: list[Transition]) -> None:
        """Record ``transitions`` and notify them (see :meth:`EvaluationCore.record`)."""
        self.core.send(self.core.record(transitions))

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
            if self.actions is not None:
                await self.actions.drain(30)
            if self.notifier is not None:
                await self.notifier.drain(10)
                await self.notifier.aclose()
            for src in self._pg.values():
                try:
                    await asyncio.wait_for(src.close(), 5)
                except Exception:
                    pass
            self.core.release()
        return 0
