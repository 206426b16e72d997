"""SLO figures: attainment, error budget, burn rates, and the burn-rate alert rules.

Per SLO, good and total events per minute (:class:`MinuteCounts`: sorted minutes with
prefix sums, so any window is two bisections). ``check`` indicators count the check's runs
(a run fails when its raw state is CRITICAL or UNKNOWN; ``latency_below``: a good run is a
successful one at most that slow, read from the latency buckets, interpolated inside a
bucket); ``metrics`` indicators count counter increases between scrapes.

- attainment = good / total over the SLO window (rolling ``Nd``, or the calendar month so
  far); **no events: None** ("no data"), never 100 %.
- budget_remaining = 1 - (1 - attainment) / (1 - objective) (below 0 when overspent); as
  time: that fraction of (1 - objective) × the window.
- burn rate over w = the error ratio over w / (1 - objective); None without events in w.
- Alert rules (Google SRE workbook, multiwindow multi-burn-rate): ``slo-NAME-page-fast``
  burn_1h > 14.4 and burn_5m > 14.4 (critical); ``slo-NAME-page-slow`` burn_6h > 6 and
  burn_30m > 6 (critical); ``slo-NAME-ticket`` burn_3d > 1 and burn_6h > 1 (warning). They
  read ``slo.NAME.burn_*`` signals (``SignalSet.values`` from :meth:`SloEngine.signals`), so
  the alerts Evaluator runs, silences, notifies and escalates them like any rule. With
  ``no_data: ok``: no traffic burns no budget (the attainment shows "no data").
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from opsconsole.metrics.prommath import count_below
from opsconsole.slo.history import LATENCY_BUCKETS, HistoryDB, MinuteRecorder
from opsconsole.slo.spec import SloSpec

BURN_WINDOWS = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 21600, "3d": 259200}
ALERTS = (  # name suffix, long window, short window, factor, severity
    ("page-fast", "1h", "5m", 14.4, "critical"),
    ("page-slow", "6h", "30m", 6.0, "critical"),
    ("ticket", "3d", "6h", 1.0, "warning"),
)


class MinuteCounts:
    """(good, total) per minute, with prefix sums for window sums."""

    def __init__(self) -> None:
        self.minutes: list[int] = []
        self.good: list[float] = []
        self.total: list[float] = []
        self._cg: list[float] = [0.0]
        self._ct: list[float] = [0.0]

    def add(self, minute: int, good: float, total: float) -> None:
        if self.minutes and minute == self.minutes[-1]:
            self.good[-1] += good
            self.total[-1] += total
            self._cg[-1] += good
            self._ct[-1] += total
            return
        if not self.minutes or minute > self.minutes[-1]:
            self.minutes.append(minute)
            self.good.append(good)
            self.total.append(total)
            self._cg.append(self._cg[-1] + good)
            self._ct.append(self._ct[-1] + total)
            return
        i = bisect_left(self.minutes, minute)  # out of order: rare, rebuild the sums
        if i < len(self.minutes) and self.minutes[i] == minute:
            self.good[i] += good
            self.total[i] += total
        else:
            self.minutes.insert(i, minute)
            self.good.insert(i, good)
            self.total.insert(i, total)
        self._cg, self._ct = [0.0], [0.0]
        for g, t in zip(self.good, self.total, strict=True):
            self._cg.append(self._cg[-1] + g)
            self._ct.append(self._ct[-1] + t)

    def sums(self, first_minute: int, last_minute: int) -> tuple[float, float]:
        lo = bisect_left(self.minutes, first_minute)
        hi = bisect_right(self.minutes, last_minute)
        return self._cg[hi] - self._cg[lo], self._ct[hi] - self._ct[lo]

    def trim(self, before_minute: int) -> None:
        i = bisect_left(self.minutes, before_minute)
        if i:
            del self.minutes[:i], self.good[:i], self.total[:i]
            base_g, base_t = self._cg[i], self._ct[i]
            self._cg = [c - base_g for c in self._cg[i:]]
            self._ct = [c - base_t for c in self._ct[i:]]


def check_events(slo: SloSpec, numbers: list[float]) -> tuple[float, float]:
    """(good, total) of one check minute ``[attempts, failures, buckets...]``."""
    attempts, failures = numbers[0], numbers[1]
    bound = slo.indicator.latency_below
    if bound is None:
        return attempts - failures, attempts
    cum, run = [], 0.0
    for le, c in zip(LATENCY_BUCKETS, numbers[2:], strict=False):
        run += c
        cum.append((le, run))
    ok = count_below(float(bound), cum) if run > 0 else 0.0
    return float(ok or 0.0), attempts


def window_start(slo: SloSpec, now: float) -> float:
    if slo.window.calendar:
        d = datetime.fromtimestamp(now, UTC)
        return datetime(d.year, d.month, 1, tzinfo=UTC).timestamp()
    return now - slo.window.seconds


class SloEngine:
    def __init__(self, slos: Iterable[SloSpec], clock: Callable[[], float] = time.time) -> None:
        self.slos = list(slos)
        self.clock = clock
        self.counts: dict[str, MinuteCounts] = {s.name: MinuteCounts() for s in self.slos}
        self._by_check: dict[str, list[SloSpec]] = {}
        for s in self.slos:
            if s.indicator.check is not None:
                self._by_check.setdefault(s.indicator.check, []).append(s)
        self.recorder: MinuteRecorder | None = None

    # ------------------------------------------------------------------ feeding
    def attach(self, recorder: MinuteRecorder) -> None:
        """Count the check results the recorder gets; write SLI minutes through it."""
        self.recorder = recorder
        recorder.listeners.append(self._on_minute)

    def _on_minute(self, series: str, minute: int, numbers: list[float]) -> None:
        if not series.startswith("check:"):
            return
        for s in self._by_check.get(series[6:], ()):
            g, t = check_events(s, numbers)
            self.add(s.name, minute * 60.0, g, t)

    def add(self, slo: str, at: float, good: float, total: float) -> None:
        """Events of one SLO at ``at`` (also kept as ``sli:NAME`` history when recording)."""
        if slo not in self.counts or total <= 0 and good <= 0:
            return
        self.counts[slo].add(int(at // 60), good, total)
        if self.recorder is not None:
            self.recorder.add("sli:" + slo, at, [good, total])

    def load(self, db: HistoryDB, now: float | None = None) -> None:
        """Read each SLO's minutes back from the store (its window, at least 3 days)."""
        now = self.clock() if now is None else now
        for s in self.slos:
            since = min(window_start(s, now), now - BURN_WINDOWS["3d"])
            c = self.counts[s.name] = MinuteCounts()
            for m, (g, t) in sorted(db.read("sli:" + s.name, int(since // 60)).items()):
                c.add(m, g, t)

    # ------------------------------------------------------------------ figures
    def figures(self, now: float | None = None) -> list[dict[str, Any]]:
        now = self.clock() if now is None else now
        return [self.figure(s, now) for s in self.slos]

    def figure(self, s: SloSpec, now: float) -> dict[str, Any]:
        c = self.counts[s.name]
        last = int(now // 60)
        good, total = c.sums(int(window_start(s, now) // 60) + 1, last)
        attainment = good / total if total > 0 else None
        remaining = None if attainment is None else 1.0 - (1.0 - attainment) / s.budget
        burn: dict[str, float | None] = {}
        for label, secs in BURN_WINDOWS.items():
            g, t = c.sums(last - secs // 60 + 1, last)
            burn[label] = None if t <= 0 else ((t - g) / t) / s.budget
        budget_time = round(s.budget * s.window.seconds, 6)
        return {
            "name": s.name, "service": s.service, "objective": s.objective.fraction,
            "window": s.window.label(), "indicator": s.indicator.kind,
            "attainment": attainment, "budget_remaining": remaining,
            "budget_remaining_seconds": None if remaining is None else remaining * budget_time,
            "budget_seconds": budget_time, "burn_rates": burn,
            "events": {"good": good, "total": total},
        }

    def signals(self, now: float | None = None) -> dict[str, float | None]:
        """``slo.NAME.*`` signal values for a :class:`SignalSet` (None: NO DATA)."""
        out: dict[str, float | None] = {}
        for f in self.figures(now):
            key = f"slo.{f['name']}."
            out[key + "attainment"] = None if f["attainment"] is None else f["attainment"] * 100
            out[key + "budget_remaining"] = f["budget_remaining"]
            for w, v in f["burn_rates"].items():
                out[key + f"burn_{w}"] = v
        return out


def slo_rules(slos: Iterable[SloSpec]) -> list[Any]:
    """The multiwindow multi-burn-rate alert rules of every SLO (``alerts: false``: none)."""
    from opsconsole.alerts.expr import parse as parse_condition
    from opsconsole.alerts.spec import AlertRule, Template

    out = []
    for s in slos:
        if not s.alerts:
            continue
        for suffix, long_w, short_w, factor, severity in ALERTS:
            expr = (f"slo.{s.name}.burn_{long_w} > {factor:g} and "
                    f"slo.{s.name}.burn_{short_w} > {factor:g}")
            out.append(AlertRule(
                name=f"slo-{s.name}-{suffix}", expr=parse_condition(expr), severity=severity,
                labels={"slo": s.name, **({"service": s.service} if s.service else {})},
                summary=Template.parse(
                    f"SLO {s.name}: error budget burning {{value}}x over {long_w} "
                    f"(threshold {factor:g}x, also over {short_w})"),
                notify=list(s.notify), runbook=s.runbook, no_data="ok"))
    return out
