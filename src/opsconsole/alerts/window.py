"""A signal's recent history and the window functions over it. Never imports Textual.

:class:`History` keeps, per signal key, a ring of ``(time, value)`` samples no older than
the longest window any rule uses for that signal (and at most :data:`MAX_SAMPLES`).
NO_DATA samples are not kept: a window function sees only values that were read, and an
empty window is NO_DATA.

- ``avg``/``min``/``max``: over the samples with ``time >= now - window``.
- ``pNN``: the NN-th percentile, linear between the closest ranks (rank ``NN/100*(n-1)``,
  as numpy's default and ``quantile_over_time``).
- ``rate``: per-second increase from the first to the last sample in the window, a drop
  counted as a counter reset (as Prometheus: the value after the drop is the increase).
  Fewer than two samples, or no time between them: NO_DATA.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable
from itertools import islice

from opsconsole.alerts.signals import NO_DATA

MAX_SAMPLES = 200_000  # per signal: a 3-day window at a 2 s cadence is 129,600


class History:
    """Per-signal bounded rings of (time, value)."""

    def __init__(self, windows: dict[str, float] | None = None) -> None:
        self.windows: dict[str, float] = dict(windows or {})  # key -> longest window (s)
        self._rings: dict[str, deque[tuple[float, float]]] = {}

    def want(self, key: str, window: float) -> None:
        """Keep ``key`` for at least ``window`` seconds."""
        self.windows[key] = max(self.windows.get(key, 0.0), window)

    def record(self, key: str, at: float, value: object) -> None:
        if key not in self.windows or value is NO_DATA or not isinstance(value, int | float):
            return
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = deque(maxlen=MAX_SAMPLES)
        if ring and at < ring[-1][0]:
            return  # the clock went back: keep the ring ordered
        if ring and at == ring[-1][0]:
            ring[-1] = (at, float(value))
        else:
            ring.append((at, float(value)))
        horizon = at - self.windows[key]
        while ring and ring[0][0] < horizon:
            ring.popleft()

    def samples(self, key: str, now: float, window: float) -> list[tuple[float, float]]:
        """The samples with ``now - window <= time <= now``, oldest first (two bisections
        over the time-ordered ring, then one C-level copy)."""
        ring = self._rings.get(key)
        if not ring:
            return []
        start = now - window
        if ring[0][0] >= start and ring[-1][0] <= now:
            return list(ring)
        lo = bisect_left(ring, (start, -math.inf))
        hi = bisect_right(ring, (now, math.inf))
        return list(islice(ring, lo, hi))

    def to_dict(self) -> dict[str, list[list[float]]]:
        return {k: [[t, v] for t, v in ring] for k, ring in self._rings.items()}

    def restore(self, data: dict[str, list[list[float]]]) -> None:
        for key, rows in data.items():
            if key in self.windows:
                for t, v in rows:
                    self.record(key, float(t), float(v))


def percentile(values: Iterable[float], p: float) -> float:
    xs = sorted(values)
    if not xs:
        raise ValueError("no values")
    rank = p / 100.0 * (len(xs) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def rate(samples: list[tuple[float, float]]) -> object:
    if len(samples) < 2:
        return NO_DATA
    span = samples[-1][0] - samples[0][0]
    if span <= 0:
        return NO_DATA
    increase = 0.0
    for (_, a), (_, b) in zip(samples, samples[1:], strict=False):
        increase += b - a if b >= a else b
    return increase / span


def apply(func: str, samples: list[tuple[float, float]]) -> object:
    """One window function over samples; NO_DATA for an empty window."""
    if func == "rate":
        return rate(samples)
    if not samples:
        return NO_DATA
    values = [v for _, v in samples]
    if func == "avg":
        return sum(values) / len(values)
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    if func.startswith("p"):
        return percentile(values, float(func[1:]))
    raise ValueError(f"unknown window function {func!r}")
