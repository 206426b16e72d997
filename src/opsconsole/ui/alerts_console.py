"""Alerts in the console: this console evaluates, or it attaches to the evaluator that does.

One evaluator per store (:mod:`opsconsole.alerts.core`). With no ``opsconsole watch`` nor
other console holding the store's lease, this console takes it and evaluates the rules over
what its panes ALREADY collect — the resources pane's host snapshot, the health pane's check
statuses, the PostgreSQL panes' snapshots of the target they watch — with no second
collection and no second check scheduler. Otherwise (and always with ``--read-only``, which
never takes the lease and writes nothing) it follows the store: the evaluator state the
holder records. A console that follows takes over when the holder's lease runs out, resuming
from the recorded state and deliveries, so nobody is notified twice.

Each tick runs in a worker thread, one at a time (lease, store reads and writes, the
evaluation); the UI loop only gathers the panes' latest snapshots before and draws the rows
after. Notifications are scheduled on the loop and their records written in a thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.alerts.actions import AlertActions
from opsconsole.alerts.core import EVALUATOR_STATE, EvaluationCore, ack_data, quiet_label
from opsconsole.alerts.defaults import default_rules, effective_rules
from opsconsole.alerts.rules import Evaluator
from opsconsole.alerts.signals import PgReadings, SignalSet
from opsconsole.alerts.silencelog import SilenceLog
from opsconsole.alerts.silences import silenced_by
from opsconsole.events import ALERT_ACK, ALERT_TRANSITION, current_actor, view_generation
from opsconsole.fmt import duration
from opsconsole.incidents.lease import LeaseError
from opsconsole.sharedstore.choose import lease_for

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp

EVALUATING, FOLLOWING, STALE, NONE = "evaluating", "following", "stale", "none"
STATS_EVERY = 10.0  # seconds between reads of the server-wide PostgreSQL figures


@dataclass(frozen=True)
class AlertsView:
    """What the console shows, made in the worker thread, handed to the UI loop whole."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    mode: str = NONE  # evaluating | following | stale | none
    holder: str = ""  # "pid 123 on db1"
    stale_for: float | None = None  # seconds since the last evaluator renewed its lease

    def who(self) -> str:
        if self.mode == EVALUATING:
            return "alerts: this console"
        if self.mode == FOLLOWING:
            return f"alerts: watch on {self.holder}" if self.holder else "alerts: another evaluator"
        if self.mode == STALE:
            ago = f" for {duration(self.stale_for)}" if self.stale_for is not None else ""
            return f"alerts: stale, no evaluator{ago}"
        return "alerts: none recorded"

    def counts(self) -> tuple[int, int, int]:
        """(firing, pending, silenced) — silenced ones are counted apart."""
        firing = sum(1 for r in self.rows if r["state"] == "firing" and not r.get("silenced_by"))
        pending = sum(1 for r in self.rows if r["state"] == "pending" and not r.get("silenced_by"))
        silenced = sum(1 for r in self.rows if r.get("silenced_by"))
        return firing, pending, silenced


def console_rules(app: OpsConsoleApp) -> list[Any]:
    """The rules the console evaluates: the defaults (resources thresholds, one pair per
    mounted filesystem) with the config's ``alerts:`` over them."""
    import psutil

    from opsconsole.sources.host import real_filesystems

    try:
        mounts = [p.mountpoint for p in real_filesystems(psutil.disk_partitions(all=False))]
    except OSError:
        mounts = []
    return effective_rules(default_rules(app.config.thresholds, mounts), app.config.alerts)


class ConsoleAlerts:
    """Owned by the app (``app.alerts``): ticks, the latest :class:`AlertsView`, operator
    actions (acknowledge, silence) recorded in the store."""

    def __init__(self, app: OpsConsoleApp, interval: float = 2.0,
                 lease_ttl: float = 15.0) -> None:
        self.app = app
        self.interval = interval
        self.lease_ttl = lease_ttl
        self.view = AlertsView()
        self.core: EvaluationCore | None = None
        self.rules: list[Any] | None = None
        self._display: Evaluator | None = None  # following: the holder's recorded state
        self._state_seq = 0
        self._trans_seq = 0
        self._generation = 0  # the store's: on a change, follow again from seq 0
        self._params: dict[str, dict[str, str]] = {}  # alert -> the last transition's params
        self._silences = SilenceLog()
        self._busy = False
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        # the server-wide figures (alerts.pgstats), read by this console only while it
        # evaluates, every STATS_EVERY seconds: {target: (stats, monotonic time read)}
        self._stats: dict[str, tuple[Any, float]] = {}
        self._stats_due = 0.0
        self._stats_busy = False
        self.ticks = 0
        self.said: list[str] = []

    def clock(self) -> float:
        return self.app.services.clock().timestamp()

    # ------------------------------------------------------------------ the loop side
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.app.set_interval(self.interval, self.tick)

    def tick(self) -> None:
        """(UI loop) Gather the panes' latest snapshots and run one tick in a thread."""
        store = self.app.incident_store
        if store is None or self._busy:
            return
        self._busy = True
        self._maybe_read_stats()
        signals = self._signals()
        self.app.run_worker(lambda: self._work(store, signals), thread=True,
                            exit_on_error=False, group="alerts")

    def _maybe_read_stats(self) -> None:
        """(UI loop) While this console evaluates, read the server-wide figures the panes do
        not collect (one cheap statement on the locks pane's monitoring connection, async,
        bounded): ``connections_used_pct``, ``cache_hit_ratio``, ``wraparound_age``…"""
        if self.view.mode != EVALUATING or self._stats_busy:
            return
        if time.monotonic() < self._stats_due:
            return
        try:
            locks = self.app.pane("locks")
        except Exception:
            return
        src, name = getattr(locks, "source", None), getattr(locks, "target_name", "")
        if src is None or not name:
            return
        self._stats_busy = True
        self._stats_due = time.monotonic() + STATS_EVERY

        async def read() -> None:
            from opsconsole.alerts.pgstats import read_pg_stats

            try:
                stats = await asyncio.wait_for(read_pg_stats(src), STATS_EVERY)
                self._stats[name] = (stats, time.monotonic())
            except Exception:  # unreachable, refused, timed out: NO DATA, not OK
                self._stats.pop(name, None)
            finally:
                self._stats_busy = False

        self.app.run_worker(read(), exit_on_error=False, group="alerts-pgstats")

    def _fresh_stats(self, name: str) -> Any:
        got = self._stats.get(name)
        if got is None or time.monotonic() - got[1] > 3 * STATS_EVERY:
            return None  # too old to judge by: no data
        return got[0]

    def _signals(self) -> SignalSet:
        app = self.app
        host = checks = None
        pg: dict[str, PgReadings] = {}
        try:
            host = app.pane("resources").snapshot  # type: ignore[attr-defined]
            health = app.pane("health")
            if getattr(health, "_tracker", None) is not None:
                checks = {s.name: s for s in health.tracker.statuses()}  # type: ignore[attr-defined]
            slow, locks = app.pane("slow"), app.pane("locks")
            name = getattr(locks, "target_name", "") or getattr(slow, "target_name", "")
            if name:
                act = getattr(slow, "snapshot", None)
                pg[name] = PgReadings(act if hasattr(act, "backends") else None,
                                      getattr(locks, "snapshot", None),
                                      self._fresh_stats(name))
        except Exception:
            pass
        return SignalSet(host=host, checks=checks or {}, pg=pg)

    def _shown(self, view: AlertsView) -> None:
        self.view = view
        self.ticks += 1
        self.app.alerts_changed()

    # ------------------------------------------------------------------ the thread side
    def _say(self, text: str) -> None:
        self.said = [*self.said[-49:], text]

    def _work(self, store: Any, signals: SignalSet) -> None:
        try:
            view = self._tick(store, signals)
        except Exception as exc:  # never a traceback: say it, keep the last view
            self._say(f"alerts tick failed: {exc}")
            view = self.view
        finally:
            self._busy = False
        self.app.call_from_thread(self._shown, view)

    def _tick(self, store: Any, signals: SignalSet) -> AlertsView:
        with self._lock:
            gen = view_generation(store)
            if gen != self._generation:  # the shared store's seqs were provisional
                self._generation, self._state_seq, self._trans_seq, self._params = gen, 0, 0, {}
            if self.rules is None:
                self.rules = console_rules(self.app)
            writable = not self.app.read_only and not getattr(store, "read_only", False)
            if writable and self.core is None:
                self.core = EvaluationCore(
                    self.app.config, store, self.rules, clock=self.clock, say=self._say,
                    lease_ttl=self.lease_ttl, host=self.app.services.hostname,
                    actions=self._actions(store),
                    io=lambda fn: self.app.run_worker(fn, thread=True, exit_on_error=False,
                                                      group="alerts-io"))
            if self.core is not None and self.core.holds():
                _out, sends = self.core.evaluate(signals, self.clock())
                if sends:
                    self.app.call_from_thread(self.core.send, sends)
                ev = self.core.evaluator
                mode, holder, stale = EVALUATING, "", None
            else:
                ev = self._follow(store)
                mode, holder, stale = self._who(store)
            return AlertsView(self._rows(store, ev), mode, holder, stale)

    def _actions(self, store: Any) -> AlertActions:
        """declare: and auto_run: for this console's evaluator (steps run on the UI loop,
        recorded like a step run from the console)."""
        from opsconsole.runbooks.autorun import AutoRunner

        cfg = self.app.config
        return AlertActions(cfg, store, evaluator="console", host=self.app.services.hostname,
                            say=self._say, clock=self.clock, runner=AutoRunner(cfg, store),
                            loop=self._loop)

    def _follow(self, store: Any) -> Evaluator:
        if self._display is None:
            self._display = Evaluator([r for r in self.rules or [] if r.enabled], self.clock)
        new = store.events_after(self._state_seq, types=(EVALUATOR_STATE,))
        if new:
            self._state_seq = max(e.seq or 0 for e in new)
            self._display.restore(new[-1].data)
        return self._display

    def _who(self, store: Any) -> tuple[str, str, float | None]:
        try:
            info = lease_for(store).current()  # in PostgreSQL for the shared store
        except LeaseError:
            return NONE, "", None
        if info is None:
            return (STALE if self._state_seq else NONE), "", None
        now = time.time()
        if info.expired(now):
            return STALE, info.label(), max(now - info.renewed_at, 0.0)
        return FOLLOWING, info.label(), None

    def _rows(self, store: Any, ev: Evaluator) -> list[dict[str, Any]]:
        for e in store.events_after(self._trans_seq, types=(ALERT_TRANSITION,)):
            self._trans_seq = max(self._trans_seq, e.seq or 0)
            d = e.data if isinstance(e.data, dict) else {}
            if d.get("key"):
                # an ack's transition renders without the signals ("?"): keep what was read
                known = self._params.setdefault(str(d["key"]), {})
                known.update({str(k): str(v) for k, v in (d.get("params") or {}).items()
                              if v is not None and str(v) != "?"})
        self._silences.update(store)
        now_dt = datetime.fromtimestamp(self.clock(), UTC)
        in_force = self._silences.in_force(now_dt)
        rows = []
        for r in ev.rows(self.clock()):
            st = ev.states.get(r["name"])
            r["firing_since"] = st.firing_since if st is not None else None
            r["summary_params"] = self._params.get(r["name"], {})
            quiet = silenced_by(r["labels"], now_dt, in_force, self.app.config.maintenance)
            if quiet is not None:
                r["silenced_by"] = quiet_label(quiet)
            rows.append(r)
        # silenced ones sink below the ones that still call for someone
        return sorted(rows, key=lambda r: bool(r.get("silenced_by")))

    # ------------------------------------------------------------------ operator actions
    def acknowledge(self, row: dict[str, Any]) -> None:
        """Record an ``alert.ack`` (in a thread): the evaluator, this console or a watcher
        in another process, applies it at its next tick and stops escalating."""
        from opsconsole.ui import flows

        if self.app.read_only:
            return
        who = current_actor().label()
        data = ack_data(str(row["name"]), who, row.get("firing_since"), self.clock())

        def fn() -> None:
            store = self.app.incident_store
            if store is None:
                raise OSError("the incident store is not open")
            store.append(ALERT_ACK, data)
            self.app.call_from_thread(self.app.notify, f"{row['name']} acknowledged by {who}",
                                      title="alert")
            self.app.call_from_thread(self.tick)

        flows.run_io(self.app, fn, "acknowledge")

    def silence(self, row: dict[str, Any], seconds: float, reason: str) -> None:
        """Record a silence of this alert (the same record as ``opsconsole silence add``)."""
        from opsconsole.alerts.silences import Silence
        from opsconsole.events import SILENCE_ADDED
        from opsconsole.ui import flows

        if self.app.read_only:
            return
        sil = Silence.create([f"alertname={row['name']}"], seconds,
                             now=datetime.fromtimestamp(self.clock(), UTC),
                             created_by=current_actor().label(), reason=reason)

        def fn() -> None:
            store = self.app.incident_store
            if store is None:
                raise OSError("the incident store is not open")
            store.append(SILENCE_ADDED, sil.to_dict())
            self.app.call_from_thread(self.app.notify, f"{row['name']} silenced for "
                                      f"{duration(seconds)} ({sil.id})", title="alert")
            self.app.call_from_thread(self.tick)

        flows.run_io(self.app, fn, "silence")

    def params_of(self, row: dict[str, Any]) -> dict[str, str]:
        """The runbook parameters an alert offers: its labels (check, database, mount …)
        and what its rule's ``params:`` rendered from the signal (the root blocker's pid)."""
        out = {k: str(v) for k, v in (row.get("labels") or {}).items()
               if k not in ("alertname", "severity", "source")}
        out.update(row.get("summary_params") or {})
        return out

    def stop(self) -> None:
        if self.core is not None:
            self.core.release()
