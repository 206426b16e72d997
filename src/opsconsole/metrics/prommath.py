"""The arithmetic Prometheus does on counters and classic histograms, on plain numbers.

- :func:`counter_delta`: the increase from one sample of a counter to the next; a drop is a
  reset (the process restarted), and the new value is the increase since (Prometheus'
  ``rate``/``increase`` rule).
- :func:`histogram_quantile`: PromQL's ``histogram_quantile`` on cumulative ``le`` buckets:
  the bucket holding the rank, then linear interpolation inside it (the lowest bucket starts
  at 0 when its bound is positive); a rank in the ``+Inf`` bucket returns the highest finite
  bound; no ``+Inf`` bucket, fewer than two buckets or no observations: None (NaN there).
  Buckets that are not monotonic (scraped mid-update) are made so, as Prometheus does.
- :func:`share_below`: the share of observations ``<= x`` — exact when ``x`` is a bucket
  bound, **linearly interpolated** inside the bucket otherwise (as ``histogram_fraction``
  does); observations in the ``+Inf`` bucket count as above any finite ``x``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def counter_delta(previous: float | None, current: float) -> float:
    """Increase of a counter between two samples (None: first sample, no increase yet)."""
    if previous is None:
        return 0.0
    return current - previous if current >= previous else current


def _monotonic(buckets: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    top = -math.inf
    for le, c in sorted(buckets, key=lambda b: b[0]):
        top = max(top, c)
        out.append((le, top))
    return out


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """``buckets``: (upper bound, cumulative count), any order, ``+Inf`` included."""
    if math.isnan(q):
        return None
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    bs = _monotonic(buckets)
    if len(bs) < 2 or bs[-1][0] != math.inf:
        return None
    total = bs[-1][1]
    if total <= 0:
        return None
    rank = q * total
    b = next(i for i, (_, c) in enumerate(bs) if c >= rank)
    if b == len(bs) - 1:
        return bs[-2][0]
    if b == 0 and bs[0][0] <= 0:
        return bs[0][0]
    start, below = (0.0, 0.0) if b == 0 else bs[b - 1]
    end, count = bs[b][0], bs[b][1] - below
    if count <= 0:
        return end
    return start + (end - start) * ((rank - below) / count)


def count_below(x: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Observations ``<= x`` (interpolated inside a bucket); None without observations."""
    bs = _monotonic(buckets)
    if not bs or bs[-1][0] != math.inf or bs[-1][1] <= 0:
        return None
    prev_le, prev_c = 0.0, 0.0
    if bs[0][0] <= 0:  # a bucket at or below 0: nothing to interpolate from
        prev_le, prev_c = bs[0]
        if x < prev_le:
            return 0.0
        bs = bs[1:]
    for le, c in bs:
        if x == le:
            return c
        if x < le:
            if le == math.inf:
                return prev_c
            if x <= prev_le:
                return prev_c
            return prev_c + (c - prev_c) * (x - prev_le) / (le - prev_le)
        prev_le, prev_c = le, c
    return prev_c


def share_below(x: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Fraction of observations ``<= x`` (0..1), None without observations."""
    n = count_below(x, buckets)
    if n is None:
        return None
    total = _monotonic(buckets)[-1][1]
    return min(max(n / total, 0.0), 1.0)
