"""``metrics:`` and ``slos:`` in the config file (validated like the rest: file:line:col).

::

    metrics:
      - {name: app, url: "http://127.0.0.1:8000/metrics", interval: 15s}
    slos:
      - name: api-availability
        objective: 99.9%            # or 99.9
        window: 30d                 # rolling Nd, or `month` (the calendar month, UTC)
        indicator: {check: api}     # share of the check's runs that succeeded
      - name: api-errors
        objective: 99.5%
        window: 30d
        indicator: {metrics: app, good: 'http_requests_total{code!~"5.."}',
                    total: http_requests_total}
      - name: api-latency
        objective: 95%
        window: 7d
        indicator: {metrics: app, histogram: http_request_duration_seconds, below: 1s}

Indicators: ``{check: NAME}`` (runs not CRITICAL/UNKNOWN over all runs),
``{check: NAME, latency_below: 500ms}`` (successful runs faster than the bound),
``{metrics: SRC, good: SELECTOR, total: SELECTOR}`` (counter increases),
``{metrics: SRC, histogram: SELECTOR, below: DURATION}`` (observations <= the bound).
Optional per SLO: ``service``, ``alerts: false`` (no burn-rate rules), ``notify``,
``runbook``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsconsole.metrics.queries import MetricsQuery
from opsconsole.metrics.selector import Selector, parse_selector
from opsconsole.schema import ByteSize, Duration, Invalid, field, positive


class SelectorText(str):
    """A series selector as written in the config, checked when it is read."""

    @classmethod
    def parse(cls, value: object) -> SelectorText:
        sel = Selector.parse(value)
        out = cls(str(value))
        out._sel = sel  # type: ignore[attr-defined]
        return out

    @property
    def selector(self) -> Selector:
        sel = getattr(self, "_sel", None)
        return sel if sel is not None else parse_selector(str(self))


class Objective(float):
    """A percentage between 0 and 100 (exclusive): ``99.9%`` or ``99.9``."""

    @classmethod
    def parse(cls, value: object) -> Objective:
        v: float
        if isinstance(value, bool):
            raise Invalid("expected a percentage such as 99.9%")
        if isinstance(value, int | float):
            v = float(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*%?\s*", value):
            v = float(value.strip().rstrip("%"))
        else:
            raise Invalid(f"expected a percentage such as 99.9%, got {value!r}")
        if not 0 < v < 100:
            raise Invalid(f"expected an objective above 0% and below 100%, got {v:g}%")
        return cls(v)

    @property
    def fraction(self) -> float:
        return round(float(self) / 100.0, 12)


class Window(str):
    """``30d``/``28d``/``7d`` (rolling, whole days or hours) or ``month`` (calendar, UTC)."""

    @classmethod
    def parse(cls, value: object) -> Window:
        if isinstance(value, str) and value.strip() in ("month", "calendar_month",
                                                        "calendar month"):
            return cls("month")
        d = Duration.parse(value)
        if d < 3600:
            raise Invalid("expected a window of at least 1h (e.g. 30d), or month")
        return cls(f"{float(d):g}")

    @property
    def calendar(self) -> bool:
        return self == "month"

    @property
    def seconds(self) -> float:
        """The rolling length (a calendar month: 30 days, for budgets as time)."""
        return 30 * 86400.0 if self.calendar else float(self)

    def label(self) -> str:
        if self.calendar:
            return "month"
        s = float(self)
        return f"{s / 86400:g}d" if s % 86400 == 0 else f"{s / 3600:g}h"


@dataclass(frozen=True, kw_only=True)
class MetricsSource:
    name: str = field(check=lambda v: None if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", v)
                      else f"expected a name of letters, digits, - and _, got {v!r}")
    url: str = field(check=lambda v: None if re.match(r"https?://", v)
                     else "expected an http:// or https:// URL")
    interval: Duration = field(Duration(15.0), check=positive)
    timeout: Duration = field(Duration(5.0), check=positive)
    max_bytes: ByteSize = field(ByteSize(16 * 1024 * 1024), check=positive)
    # named values as alert signals, metrics.NAME.QUERY (opsconsole.metrics.queries)
    queries: list[MetricsQuery] = field([])

    def __check__(self) -> None:
        names = [q.name for q in self.queries]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise Invalid(f"query names must be unique; repeated: {', '.join(dup)}", "queries")


@dataclass(frozen=True, kw_only=True)
class Indicator:
    check: str | None = None
    latency_below: Duration | None = None
    metrics: str | None = None
    good: SelectorText | None = None
    total: SelectorText | None = None
    histogram: SelectorText | None = None
    below: Duration | None = None

    @property
    def kind(self) -> str:
        if self.check is not None:
            return "check_latency" if self.latency_below is not None else "check"
        return "histogram" if self.histogram is not None else "ratio"

    def __check__(self) -> None:
        if (self.check is None) == (self.metrics is None):
            raise Invalid("an indicator names either check: or metrics:")
        if self.check is not None:
            for f in ("good", "total", "histogram", "below"):
                if getattr(self, f) is not None:
                    raise Invalid(f"{f}: goes with metrics:, not check:", f)
            return
        if self.latency_below is not None:
            raise Invalid("latency_below: goes with check:; with metrics use histogram: "
                          "and below:", "latency_below")
        if self.histogram is not None:
            if self.good is not None or self.total is not None:
                raise Invalid("histogram: and good:/total: are two different indicators",
                              "histogram")
            if self.below is None:
                raise Invalid("histogram: needs below: (e.g. below: 1s)", "histogram")
            return
        if self.good is None or self.total is None:
            raise Invalid("a metrics indicator needs good: and total: (counters), or "
                          "histogram: and below:", "good" if self.good is None else "total")
        if self.below is not None:
            raise Invalid("below: goes with histogram:", "below")


@dataclass(frozen=True, kw_only=True)
class SloSpec:
    name: str = field(check=lambda v: None if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", v)
                      else f"expected a name of letters, digits, - and _, got {v!r}")
    objective: Objective
    window: Window = field(Window("2592000"))
    indicator: Indicator
    service: str | None = None
    alerts: bool = True
    notify: list[str] = field([])
    runbook: str | None = None

    @property
    def budget(self) -> float:
        """The error budget as a fraction of events (1 - objective)."""
        return round(1.0 - self.objective.fraction, 12)


def check_slos(slos: list[SloSpec], metrics: list[MetricsSource], checks: list[str]) -> str | None:
    """Cross-references (from AppConfig): unique names, known sources and checks."""
    names = [s.name for s in slos]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        return f"slo names must be unique; repeated: {', '.join(dup)}"
    srcs = [m.name for m in metrics]
    dup = sorted({n for n in srcs if srcs.count(n) > 1})
    if dup:
        return f"metrics source names must be unique; repeated: {', '.join(dup)}"
    for s in slos:
        ind = s.indicator
        if ind.metrics is not None and ind.metrics not in srcs:
            known = ", ".join(srcs) or "none: there is no metrics: section"
            return f"slo {s.name!r} reads metrics {ind.metrics!r}, which is not a metrics: source (known: {known})"
        if ind.check is not None and ind.check not in checks:
            known = ", ".join(checks) or "none: there is no checks: section"
            return f"slo {s.name!r} reads check {ind.check!r}, which is not a configured check (known: {known})"
    return None
