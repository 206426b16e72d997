"""``pg_stat_statements`` samples → per-interval deltas. Pure; never imports Textual.

Rules: rows are keyed on (dbid, userid, queryid, toplevel); a row missing from
the previous sample has no delta (never its lifetime total); a row whose counters went down
was evicted and re-added: no delta; when ``pg_stat_statements_info.stats_reset`` moved, nobody
gets a delta this round. We never reset the statistics ourselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
