"""A ``metrics:`` source over time: successive scrapes turned into per-series increases.

:class:`CounterDeltas` keeps the last value of every series of the metrics it is asked
about; each new scrape gives each series' increase since the previous one (a drop is a
reset: the new value counts, as Prometheus does; a series seen for the first time has no
increase yet, as ``rate`` ignores a series' first sample). A failed scrape gives nothing
(NO DATA downstream, never zero) and keeps the last values, so the next good scrape counts
what happened in between.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from opsconsole.metrics.prommath import count_below, counter_delta
from opsconsole.metrics.scrape import Scrape
from opsconsole.metrics.selector import Selector


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


@dataclass
class CounterDeltas:
    names: set[str] = field(default_factory=set)
    last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)

    def want(self, names: Iterable[str]) -> None:
        self.names.update(names)

    def step(self, s: Scrape) -> dict[str, list[tuple[dict[str, str], float]]] | None:
        """Per wanted sample name, [(labels, increase since the previous scrape)]; None for
        a failed scrape."""
        if not s.ok:
            return None
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for name in self.names:
            rows = out[name] = []
            for labels, value in s.samples.get(name, ()):
                k = (name, _key(labels))
                rows.append((labels, counter_delta(self.last.get(k), value)))
                self.last[k] = value
        return out


def ratio_events(deltas: dict[str, list[tuple[dict[str, str], float]]], good: Selector,
                 total: Selector) -> tuple[float, float]:
    """(good, total) increases: the sums over the series each selector matches."""
    g = sum(v for labels, v in deltas.get(good.metric, ()) if good.match_labels(labels))
    t = sum(v for labels, v in deltas.get(total.metric, ()) if total.match_labels(labels))
    return g, t


def histogram_events(deltas: dict[str, list[tuple[dict[str, str], float]]], hist: Selector,
                     below: float) -> tuple[float, float]:
    """(observations <= below, observations) in the increase of a histogram's buckets,
    summed by ``le`` over the series the selector matches (interpolated inside a bucket
    when ``below`` is not a bound)."""
    by_le: dict[float, float] = {}
    for labels, v in deltas.get(hist.metric + "_bucket", ()):
        if "le" not in labels or not hist.match_labels(labels):
            continue
        try:
            le = float(labels["le"])
        except ValueError:
            continue
        by_le[le] = by_le.get(le, 0.0) + v
    total = by_le.get(math.inf, 0.0)
    if total <= 0:
        return 0.0, 0.0
    good = count_below(below, list(by_le.items())) or 0.0
    return good, total
