"""``pg_stat_statements`` samples → per-interval deltas. Pure; never imports Textual.

Rules: rows are keyed on (dbid, userid, queryid, toplevel); a row missing from
the previous sample has no delta (never its lifetime total); a row whose counters went down
was evicted and re-added: no delta; when ``pg_stat_statements_info.stats_reset`` moved, nobody
gets a delta this round. We never reset the statistics ourselves.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

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
# One refresh sees every entry (thousands) but shows ``top`` (30). The fast path takes the
# entries as parallel columns (the server's array_agg: a handful of lists instead of one
# Record per entry), compares them with the previous columns in one pass that allocates
# nothing for an entry whose counters did not move, and builds Statement objects for the
# rows that can reach the screen only. Its result is exactly
# ``sort_statements(with_deltas(...))`` minus the excluded keys, cut to ``top``
# (tests/unit/test_statements_fast.py keeps the old path as the oracle).

_EPS = 1e-6


@dataclass(frozen=True)
class Columns:
    """One sample of pg_stat_statements as parallel columns, position i = one entry."""

    taken: float  # monotonic seconds
    stats_reset: datetime | None
    dbid: Sequence[int]
    userid: Sequence[int]
    queryid: Sequence[int]
    toplevel: Sequence[bool]
    calls: Sequence[int]
    total_ms: Sequence[float]
    rows: Sequence[int]
    index: dict[int, int]  # queryid -> position (unique queryids)
    dups: dict[int, list[int]]  # queryid -> positions, for a queryid in several entries

    @classmethod
    def build(cls, taken: float, stats_reset: datetime | None, dbid: Sequence[int],
              userid: Sequence[int], queryid: Sequence[int], toplevel: Sequence[bool],
              calls: Sequence[int], total_ms: Sequence[float], rows: Sequence[int]) -> Columns:
        n = len(queryid)
        index = dict(zip(queryid, range(n), strict=True))
        dups: dict[int, list[int]] = {}
        if len(index) < n:  # the same statement for several users, databases or levels
            multi = {q for q, c in Counter(queryid).items() if c > 1}
            for i, q in enumerate(queryid):
                if q in multi:
                    dups.setdefault(q, []).append(i)
        return cls(taken, stats_reset, dbid, userid, queryid, toplevel, calls, total_ms, rows,
                   index, dups)

    def find(self, d: int, u: int, q: int, t: bool) -> int | None:
        """Position of the entry with this key, or None."""
        if q in self.dups:
            for j in self.dups[q]:
                if self.dbid[j] == d and self.userid[j] == u and self.toplevel[j] == t:
                    return j
            return None
        j = self.index.get(q)
        if j is None or self.dbid[j] != d or self.userid[j] != u or self.toplevel[j] != t:
            return None
        return j

    def key(self, i: int) -> StatementKey:
        return (self.dbid[i], self.userid[i], self.queryid[i], bool(self.toplevel[i]))

    def counters(self) -> dict[StatementKey, tuple[int, float, int]]:
        """As :class:`Sample` keeps them (for tests and tools; the refresh never calls it)."""
        return {self.key(i): (self.calls[i], self.total_ms[i], self.rows[i])
                for i in range(len(self.queryid))}


@dataclass(frozen=True)
class Scored:
    """One sample ranked in buckets that sort strictly one after the other:
    positive interval figure, zero (by lifetime total), negative, no delta (by total)."""

    cols: Columns
    prev: Columns | None  # None: no deltas this round (first sample or a reset)
    interval: float | None
    buckets: list[tuple[bool, list[Any]]]  # (by_total, indices) or (False, [(a, b, i)])
    names: tuple[dict[int, str], dict[int, str]] = ({}, {})  # role oid, database oid -> name


def score(cols: Columns, prev: Columns | None, sort: str,
          names: tuple[dict[int, str], dict[int, str]] = ({}, {})) -> tuple[Scored, str]:
    """Deltas and sort order of every entry in one pass; returns (scored, note)."""
    note = ""
    if prev is None:
        note = "first sample: deltas from the next refresh"
    elif (cols.stats_reset is not None and prev.stats_reset is not None
          and cols.stats_reset != prev.stats_reset):
        when = cols.stats_reset.strftime("%H:%M:%S UTC")
        note = f"statistics were reset at {when}: deltas from the next refresh"
        prev = None
    interval = None if prev is None else max(cols.taken - prev.taken, 1e-6)
    n = len(cols.queryid)
    if sort == "lifetime":  # (0, -total, 0.0): one bucket by total
        return Scored(cols, prev, interval, [(True, list(range(n)))], names), note
    if prev is None:  # (1, -total, 0.0) for everyone
        return Scored(cols, prev, interval, [(True, list(range(n)))], names), note
    up: list[tuple[float, float, int]] = []
    zero: list[int] = []
    down: list[tuple[float, float, int]] = []
    none: list[int] = []
    pidx, pdups = prev.index.get, prev.dups
    pd, pu, pt, pc, ptot = prev.dbid, prev.userid, prev.toplevel, prev.calls, prev.total_ms
    find = prev.find
    mode = 1 if sort == "calls" else 2 if sort == "mean" else 0
    cells = zip(cols.dbid, cols.userid, cols.queryid, cols.toplevel, cols.calls, cols.total_ms,
                strict=True)
    for i, (d, u, q, tl, c, t) in enumerate(cells):
        if pdups and q in pdups:
            j = find(d, u, q, tl)
        else:
            j = pidx(q)
            if j is not None and (pd[j] != d or pu[j] != u or pt[j] != tl):
                j = None
        if j is None or c < pc[j] or t < ptot[j] - _EPS:
            none.append(i)  # new, or evicted and re-added: no honest delta
            continue
        if mode == 0:
            v = t - ptot[j]
        elif mode == 1:
            v = (c - pc[j]) / interval  # type: ignore[operator]
        else:
            dc = c - pc[j]
            if not dc:
                none.append(i)  # no calls in the interval: no mean
                continue
            v = (t - ptot[j]) / dc
        if v == 0:
            zero.append(i)  # (0, 0, -total)
        elif v > 0:
            up.append((-v, -t, i))
        else:
            down.append((-v, -t, i))
    return Scored(cols, prev, interval,
                  [(False, up), (True, zero), (False, down), (True, none)], names), note


def top_of(scored: Scored, top: int, exclude: Collection[StatementKey] = frozenset()
           ) -> list[Statement]:
    """The first ``top`` entries in ``sort_statements`` order, skipping ``exclude``; only
    those become Statement objects."""
    cols = scored.cols
    picked: list[int] = []
    for by_total, items in scored.buckets:
        need = top - len(picked)
        if need <= 0:
            break
        if by_total:
            picked += _pick(items, need, exclude, cols, cols.total_ms.__getitem__, True)
        else:
            picked += _pick(items, need, exclude, cols, None, False)
    return [_statement(scored, i) for i in picked]


def _pick(items: list[Any], need: int, exclude: Collection[StatementKey], cols: Columns,
          total: Any, by_total: bool) -> list[int]:
    """The first ``need`` non-excluded items of one bucket in (primary, row_key) order.
    by_total: items are positions, primary = -total; else items are (a, b, i), primary (a, b)."""
    def excluded(x: Any) -> bool:
        return bool(exclude) and cols.key(x if by_total else x[2]) in exclude

    def primary(x: Any) -> Any:
        return -total(x) if by_total else x[:2]

    k = need + len(exclude)
    cand: list[Any] | None = None
    if len(items) > k + 1:
        if by_total:
            small = heapq.nlargest(k + 1, items, key=total)
        else:
            small = heapq.nsmallest(k + 1, items)
        elig = [x for x in small if not excluded(x)]
        if len(elig) > need:  # always, unless keys repeat (pgss keys are unique)
            cut = primary(elig[need - 1])
            if primary(small[-1]) > cut:  # every item outside ``small`` sorts after the cut
                cand = [x for x in elig if primary(x) <= cut]
            else:  # ties across the cut: the row_key tie-break needs all of them
                cand = [x for x in items if primary(x) <= cut and not excluded(x)]
    if cand is None:
        cand = [x for x in items if not excluded(x)]
    ranked = sorted((primary(x), _row_key(cols.key(x if by_total else x[2])),
                     x if by_total else x[2]) for x in cand)
    return [i for _, _, i in ranked[:need]]


def _row_key(key: StatementKey) -> str:  # == Statement.row_key
    d, u, q, t = key
    return f"{d}:{u}:{q}:{int(t)}"


def _statement(scored: Scored, i: int) -> Statement:
    cols, prev = scored.cols, scored.prev
    key = cols.key(i)
    calls, total, nrows = cols.calls[i], cols.total_ms[i], cols.rows[i]
    roles, dbs = scored.names
    base = Statement(key=key, user=roles.get(key[1], str(key[1])),
                     database=dbs.get(key[0], str(key[0])), calls=calls, total_ms=total,
                     rows=nrows)
    j = None if prev is None else prev.find(*key)
    if prev is None or j is None or calls < prev.calls[j] or total < prev.total_ms[j] - _EPS:
        return base
    return replace(base, d_calls=calls - prev.calls[j], d_total_ms=total - prev.total_ms[j],
                   d_rows=max(nrows - prev.rows[j], 0), interval=scored.interval)
