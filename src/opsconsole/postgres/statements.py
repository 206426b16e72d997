"""``pg_stat_statements`` samples → per-interval deltas. Pure; never imports Textual.

Rules: rows are keyed on (dbid, userid, queryid, toplevel); a row missing from
the previous sample has no delta (never its lifetime total); a row whose counters went down
was evicted and re-added: no delta; when ``pg_stat_statements_info.stats_reset`` moved, nobody
gets a delta this round. We never reset the statistics ourselves.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from opsconsole.postgres.model import Statement, StatementKey

SORTS = ("total", "calls", "mean", "lifetime")
SORT_LABELS = {"total": "time in interval", "calls": "calls/s", "mean": "mean ms (interval)",
               "lifetime": "total time since reset"}


@dataclass(frozen=True)
class Sample:
    taken: float  # monotonic seconds
    stats_reset: datetime | None
    counters: dict[StatementKey, tuple[int, float, int]]  # calls, total_ms, rows


def with_deltas(rows: Iterable[Statement], prev: Sample | None, now: float,
                stats_reset: datetime | None) -> tuple[list[Statement], Sample, str]:
    """Attach deltas to ``rows`` from ``prev``; returns (rows, this sample, note)."""
    rows = list(rows)
    sample = Sample(now, stats_reset, {r.key: (r.calls, r.total_ms, r.rows) for r in rows})
    if prev is None:
        return rows, sample, "first sample: deltas from the next refresh"
    if stats_reset is not None and prev.stats_reset is not None and stats_reset != prev.stats_reset:
        when = stats_reset.strftime("%H:%M:%S UTC")
        return rows, sample, f"statistics were reset at {when}: deltas from the next refresh"
    interval = max(now - prev.taken, 1e-6)
    out: list[Statement] = []
    for r in rows:
        before = prev.counters.get(r.key)
        if before is None or r.calls < before[0] or r.total_ms < before[1] - 1e-6:
            out.append(r)  # new or evicted/re-added: no honest delta
            continue
        out.append(replace(r, d_calls=r.calls - before[0], d_total_ms=r.total_ms - before[1],
                           d_rows=max(r.rows - before[2], 0), interval=interval))
    return out, sample, ""


def sort_statements(rows: Sequence[Statement], sort: str) -> list[Statement]:
    """Sort for the top view; rows without a delta go after those with one."""
    def key(s: Statement) -> tuple[int, float, float]:
        if sort == "lifetime":
            return (0, -s.total_ms, 0.0)
        if sort == "calls":
            v = s.calls_per_s
        elif sort == "mean":
            v = s.d_mean_ms
        else:
            v = s.d_total_ms
        return (1, -s.total_ms, 0.0) if v is None else (0, -v, -s.total_ms)

    return sorted(rows, key=lambda s: (*key(s), s.row_key))


# ---------------------------------------------------------------- the refresh's fast path
# One refresh sees every entry (thousands) but shows ``top`` (30). The fast path scores each
# entry on plain tuples, in one pass, and builds Statement objects for the rows that can
# reach the screen only. Its result is exactly ``sort_statements(with_deltas(...))`` minus
# the excluded keys, cut to ``top`` (tests/unit/test_statements_fast.py keeps the oracle).

# A raw row as STATEMENTS_SQL returns it, by position:
# dbid, userid, queryid, toplevel, calls, total_ms, rows, rolname, datname
RawRow = Sequence[object]
_EPS = 1e-6


@dataclass(frozen=True)
class Scored:
    """Every entry of one sample with its sort key (without the row_key tie-break)."""

    rows: Sequence[RawRow]
    keys: list[tuple[int, int, int, bool]]
    order: list[tuple[int, float, float, int]]  # (group, primary, secondary, index)
    prev: Sample | None
    interval: float | None  # None: no deltas this round (first sample or a reset)


def score(rows: Sequence[RawRow], prev: Sample | None, now: float,
          stats_reset: datetime | None, sort: str) -> tuple[Scored, Sample, str]:
    """Deltas and sort keys for every raw row in one pass; returns (scored, sample, note)."""
    counters: dict[StatementKey, tuple[int, float, int]] = {}
    keys: list[StatementKey] = []
    order: list[tuple[int, float, float, int]] = []
    note = ""
    deltas = True
    if prev is None:
        note, deltas = "first sample: deltas from the next refresh", False
    elif stats_reset is not None and prev.stats_reset is not None and stats_reset != prev.stats_reset:
        when = stats_reset.strftime("%H:%M:%S UTC")
        note, deltas = f"statistics were reset at {when}: deltas from the next refresh", False
    interval = max(now - prev.taken, 1e-6) if deltas and prev is not None else None
    get = prev.counters.get if deltas and prev is not None else {}.get
    add_key, add = keys.append, order.append
    for i, r in enumerate(rows):
        k = (r[0], r[1], r[2], bool(r[3]))
        c, t = r[4], r[5]
        counters[k] = (c, t, r[6])  # type: ignore[assignment]
        add_key(k)  # type: ignore[arg-type]
        if sort == "lifetime":
            add((0, -t, 0.0, i))  # type: ignore[operator]
            continue
        b = get(k)
        if b is None or c < b[0] or t < b[1] - _EPS:  # type: ignore[operator]
            add((1, -t, 0.0, i))  # type: ignore[operator]
            continue
        if sort == "calls":
            v = (c - b[0]) / interval  # type: ignore[operator]
        elif sort == "mean":
            dc = c - b[0]  # type: ignore[operator]
            if not dc:
                add((1, -t, 0.0, i))  # type: ignore[operator]
                continue
            v = (t - b[1]) / dc  # type: ignore[operator]
        else:
            v = t - b[1]  # type: ignore[operator]
        add((0, -v, -t, i))  # type: ignore[operator]
    sample = Sample(now, stats_reset, counters)
    return Scored(rows, keys, order, prev if deltas else None, interval), sample, note


def top_of(scored: Scored, top: int, exclude: Collection[StatementKey] = frozenset()
           ) -> list[Statement]:
    """The first ``top`` entries in ``sort_statements`` order, skipping ``exclude``; only
    the candidates for those places become Statement objects."""
    if top <= 0:
        return []
    order, keys = scored.order, scored.keys
    k = top + len(exclude)
    cand: list[tuple[int, float, float, int]] | None = None
    if len(order) > k + 1:
        small = heapq.nsmallest(k + 1, order)
        elig = [o for o in small if keys[o[3]] not in exclude]
        if len(elig) > top:  # always, unless keys repeat (pgss keys are unique)
            cut = elig[top - 1][:3]
            if small[-1][:3] > cut:  # every entry outside ``small`` sorts after the cut
                cand = [o for o in elig if o[:3] <= cut]
            else:  # ties across the cut: the row_key tie-break needs all of them
                cand = [o for o in order if o[:3] <= cut and keys[o[3]] not in exclude]
    if cand is None:
        cand = [o for o in order if keys[o[3]] not in exclude]
    ranked = sorted((o[:3], _row_key(keys[o[3]]), o[3]) for o in cand)
    return [_statement(scored, i) for _, _, i in ranked[:top]]


def _row_key(key: StatementKey) -> str:  # == Statement.row_key
    d, u, q, t = key
    return f"{d}:{u}:{q}:{int(t)}"


def _statement(scored: Scored, i: int) -> Statement:
    r = scored.rows[i]
    key = scored.keys[i]
    calls, total, nrows = r[4], r[5], r[6]
    base = Statement(key=key, user=r[7], database=r[8], calls=calls,  # type: ignore[arg-type]
                     total_ms=total, rows=nrows)  # type: ignore[arg-type]
    prev = scored.prev
    if prev is None:
        return base
    b = prev.counters.get(key)
    if b is None or calls < b[0] or total < b[1] - _EPS:  # type: ignore[operator]
        return base
    return replace(base, d_calls=calls - b[0], d_total_ms=total - b[1],  # type: ignore[operator]
                   d_rows=max(nrows - b[2], 0), interval=scored.interval)  # type: ignore[operator]
