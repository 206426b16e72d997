"""The top statements fast path (score + top_of, plain tuples, Statement objects for the
shown rows only) gives exactly what the old path gave: every entry as a Statement, deltas by
``dataclasses.replace`` (with_deltas), a full sort (sort_statements), own keys skipped, cut
to ``top``. The old path is kept here, verbatim, as the oracle."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from opsconsole.postgres.model import Statement
from opsconsole.postgres.statements import (
    SORTS,
    Columns,
    Sample,
    score,
    sort_statements,
    top_of,
    with_deltas,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ROLES = {10: "app", 11: "report"}  # role 12 was dropped: shown as its oid
DBS = {1: "shop", 2: "stock"}


def columns(raw, now, reset) -> Columns:
    """The raw rows as the server's array_agg sends them."""
    cols = list(zip(*raw, strict=True)) if raw else [()] * 7
    return Columns.build(now, reset, *(list(c) for c in cols[:7]))


def fast(raw, prev, now, reset, sort, top, exclude):
    cols = columns(raw, now, reset)
    scored, note = score(cols, prev, sort, (ROLES, DBS))
    return top_of(scored, top, exclude), cols, note, scored


def old_with_deltas(rows, prev, now, stats_reset):
    """with_deltas as it was before the fast path (the oracle; do not optimise)."""
    rows = list(rows)
    sample = Sample(now, stats_reset, {r.key: (r.calls, r.total_ms, r.rows) for r in rows})
    if prev is None:
        return rows, sample, "first sample: deltas from the next refresh"
    if stats_reset is not None and prev.stats_reset is not None and stats_reset != prev.stats_reset:
        when = stats_reset.strftime("%H:%M:%S UTC")
        return rows, sample, f"statistics were reset at {when}: deltas from the next refresh"
    interval = max(now - prev.taken, 1e-6)
    out = []
    for r in rows:
        before = prev.counters.get(r.key)
        if before is None or r.calls < before[0] or r.total_ms < before[1] - 1e-6:
            out.append(r)
            continue
        out.append(replace(r, d_calls=r.calls - before[0], d_total_ms=r.total_ms - before[1],
                           d_rows=max(r.rows - before[2], 0), interval=interval))
    return out, sample, ""


def old_top(raw, prev, now, reset, sort, top, exclude):
    stmts = [Statement(key=(r[0], r[1], r[2], bool(r[3])), user=r[7], database=r[8],
                       calls=r[4], total_ms=r[5], rows=r[6]) for r in raw]
    stmts, sample, note = old_with_deltas(stmts, prev, now, reset)
    ranked = [s for s in sort_statements(stmts, sort) if s.key not in exclude][:top]
    return ranked, sample, note


class Server:
    """A generated pg_stat_statements: entries come, grow, get evicted and re-added, vanish,
    and the whole thing gets reset; totals and deltas collide on purpose (ties)."""

    def __init__(self, rng: random.Random, ties: bool) -> None:
        self.rng, self.ties = rng, ties
        self.entries: dict[tuple, list] = {}
        self.reset = T0
        self.next_q = 1

    def _ms(self) -> float:
        if self.ties:
            return float(self.rng.choice((0, 1, 2, 5)))
        return self.rng.random() * 100

    def step(self) -> list[tuple]:
        rng = self.rng
        if rng.random() < 0.08:  # pg_stat_statements_reset()
            self.entries.clear()
            self.reset = self.reset + timedelta(seconds=rng.randint(1, 99))
        for _ in range(rng.randint(0, 25)):  # new entries (queryid shared across users/dbs)
            q = rng.choice((self.next_q, rng.randint(1, self.next_q)))
            self.next_q += 1
            key = (rng.choice((1, 2)), rng.choice((10, 11, 12)), q * rng.choice((1, -1)),
                   rng.random() < 0.8)
            self.entries.setdefault(key, [0, 0.0, 0])
        for key in list(self.entries):
            e = self.entries[key]
            x = rng.random()
            if x < 0.05:
                del self.entries[key]  # evicted (dealloc)
            elif x < 0.1:
                self.entries[key] = [rng.randint(0, 3), self._ms(), 0]  # evicted and re-added
            elif x < 0.13:  # float drift: the total a hair lower (within 1e-6), calls on
                e[0] += rng.choice((0, 1))
                e[1] = max(e[1] - 5e-7, 0.0)
            elif x < 0.6:
                n = rng.choice((0, 0, 1, 2, 10))
                e[0] += n
                e[1] += self._ms() * n if not self.ties else float(n)
                e[2] += rng.randint(0, 5) * n
        rows = [(k[0], k[1], k[2], k[3], e[0], e[1], e[2], ROLES.get(k[1], str(k[1])),
                 DBS.get(k[0], str(k[0])))
                for k, e in self.entries.items()]
        rng.shuffle(rows)
        return rows


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_equals_the_old_path(seed):
    rng = random.Random(seed)
    srv = Server(rng, ties=seed % 3 == 0)
    prev_old = prev_new = None
    now = 100.0
    for _ in range(25):
        raw = srv.step()
        now += rng.choice((0.0, 1e-9, 0.5, 2.0, 10.0))
        reset = None if seed % 5 == 0 else srv.reset
        sort = rng.choice(SORTS + ("bogus",))
        top = rng.choice((1, 3, 30, 1000))
        keys = [(r[0], r[1], r[2], r[3]) for r in raw]
        exclude = set(rng.sample(keys, min(len(keys), rng.randint(0, 4))))
        exclude.add((9, 9, 9, True))  # an own key not in this sample
        want, s_old, n_old = old_top(raw, prev_old, now, reset, sort, top, exclude)
        got, s_new, n_new, scored = fast(raw, prev_new, now, reset, sort, top, exclude)
        assert got == want
        assert [s.row_key for s in got] == [s.row_key for s in want]
        assert (s_new.counters(), s_new.taken, s_new.stats_reset, n_new) == \
            (s_old.counters, s_old.taken, s_old.stats_reset, n_old)
        # the same sample ranked again (the text loop re-ranks with more own keys)
        assert top_of(scored, top) == old_top(raw, prev_old, now, reset, sort, top, set())[0]
        prev_old, prev_new = s_old, s_new


def test_many_ties_across_the_cut_still_break_on_row_key():
    # 500 entries with identical counters: only the row_key string decides ("10:…" < "2:…")
    raw = [(d, 10, q, True, 5, 5.0, 0, "app", DBS.get(d, str(d)))
           for d in (2, 10) for q in range(250)]
    s1 = columns(raw, 0.0, None)
    for sort in SORTS:
        want = old_top(raw, old_top(raw, None, 0.0, None, sort, 1, set())[1], 1.0, None,
                       sort, 30, set())[0]
        assert fast(raw, s1, 1.0, None, sort, 30, set())[0] == want
        assert [s.row_key for s in want[:2]] == ["10:10:0:1", "10:10:100:1"]  # string order


def test_with_deltas_is_unchanged():
    rng = random.Random(7)
    srv = Server(rng, ties=False)
    prev = None
    for i in range(10):
        raw = srv.step()
        stmts = [Statement(key=(r[0], r[1], r[2], r[3]), user=r[7], database=r[8],
                           calls=r[4], total_ms=r[5], rows=r[6]) for r in raw]
        a = with_deltas(stmts, prev, float(i), srv.reset)
        assert a == old_with_deltas(stmts, prev, float(i), srv.reset)
        prev = a[1]
