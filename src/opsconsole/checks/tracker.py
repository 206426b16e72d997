"""Check state over time: consecutive failures, state changes with their time, history.

:meth:`CheckTracker.update` takes raw results and applies ``failures_before_critical``: a
CRITICAL result shows as a soft WARNING ("failure 1/3: ...") until that many CRITICAL results in a
row, so one blip does not page. Every state change goes through :meth:`CheckTracker._changed`,
the ONE place that makes the ``health.state_changed`` event for the sink (the incident timeline
consumes it). The first state of a check is recorded only when it is not OK, so starting the
console does not flood the journal. Never imports Textual.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsconsole.events import HEALTH_CHANGED

if TYPE_CHECKING:
    from opsconsole.checks.engine import CheckResult
    from opsconsole.checks.spec import CheckSpec
    from opsconsole.events import EventSink

PENDING = "PENDING"  # not run yet (shown as UNKNOWN · pending)
PERF_LABELS_KEPT = 32  # perfdata labels with a history, per check (the first ones seen)


@dataclass(frozen=True)
class StateChange:
    at: datetime
    old: str | None
    new: str
    message: str


@dataclass(frozen=True)
class CheckStatus:
    """What the pane shows for one check: an immutable copy, safe to hand to the UI."""

    name: str
    kind: str
    state: str  # OK | WARNING | CRITICAL | UNKNOWN | PENDING
    message: str
    since: datetime | None
    result: CheckResult | None = None
    failures: int = 0
    soft: bool = False
    latencies: tuple[float, ...] = ()
    changes: tuple[StateChange, ...] = ()
    target: str = ""
    # the plugin's perfdata values over the last runs, per label (in the order first seen)
    perf_history: tuple[tuple[str, tuple[float, ...]], ...] = ()

    def time_in_state(self, now: datetime) -> float | None:
        if self.since is None:
            return None
        return max((now - self.since).total_seconds(), 0.0)


@dataclass
class _Track:
    name: str
    kind: str
    target: str
    threshold: int
    state: str = PENDING
    message: str = "not run yet"
    since: datetime | None = None
    result: CheckResult | None = None
    failures: int = 0
    soft: bool = False
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=60))
    changes: deque[StateChange] = field(default_factory=lambda: deque(maxlen=50))
    perf: dict[str, deque[float]] = field(default_factory=dict)
    frozen: CheckStatus | None = None  # the last freeze(), until the next update

    def freeze(self) -> CheckStatus:
        if self.frozen is None:
            self.frozen = self._freeze()
        return self.frozen

    def _freeze(self) -> CheckStatus:
        return CheckStatus(self.name, self.kind, self.state, self.message, self.since,
                           self.result, self.failures, self.soft, tuple(self.latencies),
                           tuple(self.changes), self.target,
                           tuple((k, tuple(v)) for k, v in self.perf.items()))

    def add_perf(self, result: CheckResult, history: int) -> None:
        for d in result.perfdata:
            if d.value is None:
                continue
            values = self.perf.get(d.label)
            if values is None:
                if len(self.perf) >= PERF_LABELS_KEPT:
                    continue
                values = self.perf[d.label] = deque(maxlen=history)
            values.append(d.value)


class CheckTracker:
    """Stateful view of many checks; thread-safe (results may arrive from worker threads)."""

    def __init__(self, specs: Iterable[CheckSpec] = (), sink: EventSink | None = None,
                 history: int = 60, changes_kept: int = 50) -> None:
        from opsconsole.checks.spec import target_of

        self.sink = sink
        self.sink_errors: list[str] = []
        self._lock = threading.Lock()
        self._history = history
        self._changes_kept = changes_kept
        self._tracks: dict[str, _Track] = {}
        for spec in specs:
            self._tracks[spec.name] = self._new_track(spec.name, spec.kind, target_of(spec),
                                                      spec.failures_before_critical)

    def _new_track(self, name: str, kind: str, target: str, threshold: int) -> _Track:
        return _Track(name, kind, target, max(threshold, 1),
                      latencies=deque(maxlen=self._history),
                      changes=deque(maxlen=self._changes_kept))

    def update(self, result: CheckResult, failures_before_critical: int | None = None) -> CheckStatus:
        """Apply one raw result and record its state change, if any; returns the check's new
        status."""
        status, events = self.apply(result, failures_before_critical)
        self.record_events(events)
        return status

    def apply(self, result: CheckResult, failures_before_critical: int | None = None,
              ) -> tuple[CheckStatus, list[tuple[str, dict[str, Any]]]]:
        """Apply one raw result in memory only (quick: fine on the event loop); returns the
        check's new status and the events to hand to :meth:`record_events` (none unless the
        state changed), which may write to disk."""
        events: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            tr = self._tracks.get(result.name)
            if tr is None:
                tr = self._new_track(result.name, result.kind, "", failures_before_critical or 1)
                self._tracks[result.name] = tr
            if failures_before_critical is not None:
                tr.threshold = max(failures_before_critical, 1)
            tr.result = result
            tr.frozen = None
            if result.latency is not None:
                tr.latencies.append(result.latency)
            tr.add_perf(result, self._history)
            new = result.state
            message = result.message
            if new == "CRITICAL":
                tr.failures += 1
                if tr.failures < tr.threshold and tr.state != "CRITICAL":
                    new = "WARNING"
                    message = f"failure {tr.failures}/{tr.threshold}: {message}"
                    tr.soft = True
                else:
                    tr.soft = False
            else:
                tr.failures = 0
                tr.soft = False
            old = tr.state
            tr.message = message
            if new != old:
                self._changed(tr, old, new, message, result, events)
            return tr.freeze(), events

    def record_events(self, events: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Record events from :meth:`apply` on the sink (a full disk must not stop the
        checks: failures are kept in ``sink_errors``)."""
        if self.sink is None:
            return
        for type_, data in events:
            try:
                self.sink.record(type_, data)
            except Exception as exc:
                self.sink_errors.append(f"{type(exc).__name__}: {exc}")

    def _changed(self, tr: _Track, old: str, new: str, message: str, result: CheckResult,
                 events: list[tuple[str, dict[str, Any]]]) -> None:
        """THE place a state change happens: remember it and queue its event."""
        at = result.checked_at
        previous_since = tr.since
        tr.state = new
        tr.since = at
        old_state = None if old == PENDING else old
        tr.changes.append(StateChange(at, old_state, new, message))
        if self.sink is None or (old_state is None and new == "OK"):
            return
        data: dict[str, Any] = {
            "check": tr.name,
            "kind": tr.kind,
            "old": old_state,
            "new": new,
            "message": message,
            "at": at.isoformat(),
            "latency": None if result.latency is None else round(result.latency, 6),
            "failures": tr.failures,
        }
        if previous_since is not None:
            data["previous_for"] = round((at - previous_since).total_seconds(), 3)
        events.append((HEALTH_CHANGED, data))

    def status(self, name: str) -> CheckStatus:
        with self._lock:
            return self._tracks[name].freeze()

    def statuses(self) -> list[CheckStatus]:
        with self._lock:
            return [t.freeze() for t in self._tracks.values()]

    def names(self) -> list[str]:
        with self._lock:
            return list(self._tracks)
