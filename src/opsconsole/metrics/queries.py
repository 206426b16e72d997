"""Named values of a ``metrics:`` source as alert signals: ``metrics.SOURCE.QUERY``.

Declared under the source, like the named queries of a ``prometheus:`` target::

    metrics:
      - name: app
        url: http://127.0.0.1:8000/metrics
        queries:
          - {name: inflight, value: 'app_inflight_requests'}             # metrics.app.inflight
          - {name: errors_per_s, rate: 'http_requests_total{code=~"5.."}'}
          - {name: worst_queue, value: 'queue_depth', aggregate: max}

``value:`` reads the samples the selector matches in the last scrape; ``rate:`` the
per-second increase of the matching counters between the last two scrapes (a counter that
went down was reset: its new value is the increase, as Prometheus' ``rate`` does it; a
series new in the last scrape has no increase yet).
Several series are summed unless ``aggregate:`` (sum max min avg count) says otherwise.
No series matched, a failed scrape, or (for ``rate:``) only one scrape yet: no data
(None), never 0. Never imports Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from opsconsole.metrics.prommath import counter_delta
from opsconsole.metrics.selector import Selector
from opsconsole.schema import Invalid, field

if TYPE_CHECKING:
    from opsconsole.metrics.scrape import Scrape

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


class SelectorField(str):
    """A series selector as written (``http_requests_total{code=~"5.."}``), parsed at load."""

    selector: Selector

    @classmethod
    def parse(cls, value: object) -> SelectorField:
        out = cls(str(value))
        out.selector = Selector.parse(value)
        return out


def _name(v: str) -> str | None:
    if not _NAME.match(v):
        return f"expected a name of letters, digits, _ and - (starting with a letter), got {v!r}"
    if v == "up":
        return "up is the source's own signal (metrics.NAME.up): choose another name"
    return None


@dataclass(frozen=True, kw_only=True)
class MetricsQuery:
    """One named value: ``value:`` (the samples now) or ``rate:`` (per second)."""

    name: str = field(check=_name)
    value: SelectorField | None = None
    rate: SelectorField | None = None
    aggregate: Literal["sum", "max", "min", "avg", "count"] = "sum"

    def __check__(self) -> None:
        if (self.value is None) == (self.rate is None):
            raise Invalid("expected exactly one of value: (the samples now) or rate: (the "
                          "per-second increase of counters)")


def _matching(s: Scrape, sel: SelectorField) -> dict[tuple[tuple[str, str], ...], float]:
    selector = sel.selector
    return {tuple(sorted(labels.items())): v
            for labels, v in s.samples.get(selector.metric, ())
            if selector.match_labels(labels)}


def _agg(vals: list[float], how: str) -> float | None:
    if not vals:
        return None
    if how == "count":
        return float(len(vals))
    if how == "max":
        return max(vals)
    if how == "min":
        return min(vals)
    total = sum(vals)
    return total / len(vals) if how == "avg" else total


def evaluate(q: MetricsQuery, last: Scrape | None, previous: Scrape | None) -> float | None:
    """The query's value from the last (and, for ``rate:``, the previous) scrape."""
    if last is None or not last.ok:
        return None
    if q.value is not None:
        return _agg(list(_matching(last, q.value).values()), q.aggregate)
    if previous is None or not previous.ok or last.at <= previous.at:
        return None
    assert q.rate is not None
    before = _matching(previous, q.rate)
    now = _matching(last, q.rate)
    span = last.at - previous.at
    rates = [counter_delta(before[k], v) / span for k, v in now.items() if k in before]
    return _agg(rates, q.aggregate)


__all__ = ["MetricsQuery", "SelectorField", "evaluate"]
