"""The health pane rewrites only the rows whose shown cells changed, and shows exactly what a
full rebuild would."""

from __future__ import annotations

import datetime as dt
import random

from test_health_pane import SPECS, T, filled_tracker, make_app, result
from textual.widgets import DataTable

from opsconsole.checks.engine import CheckResult
from opsconsole.checks.spec import TcpCheck
from opsconsole.schema import Duration
from opsconsole.ui.panes.health import COLUMNS, health_rows
from uihelpers import wait_for

STATES = ("OK", "OK", "OK", "WARNING", "CRITICAL", "UNKNOWN")


def random_results(rng: random.Random, names: list[str], n: int) -> list[CheckResult]:
    out = []
    for i in range(n):
        state = rng.choice(STATES)
        lat = rng.choice([None, 0.01, 0.02, rng.random()])
        out.append(result(rng.choice(names), state, rng.choice(["fine", f"HTTP {state}", "x" * 90]),
                          600 - i, lat))
    return out


def test_cached_rows_are_exactly_the_rows_built_from_scratch():
    rng = random.Random(13)
    tracker = filled_tracker()
    names = [s.name for s in SPECS]
    cache: dict = {}
    styles = {"OK": "green", "CRITICAL": "red"}
    for step, r in enumerate(random_results(rng, names, 300)):
        tracker.update(r)
        now = T + dt.timedelta(seconds=step * rng.choice([0, 1, 7, 61]))
        width = rng.choice([40, 40, 40, 90])
        flt = rng.choice(["", "", "", "crit", "api"])
        oracle = health_rows(tracker.statuses(), now, flt, width, styles)  # no cache
        assert health_rows(tracker.statuses(), now, flt, width, styles, cache=cache) == oracle


async def test_an_unchanged_result_does_not_rewrite_its_row(tmp_path):
    async def runner(spec, config):
        return CheckResult(name=spec.name, state="OK", message="fine", latency=0.01,
                           checked_at=T)

    names = [f"c{i}" for i in range(12)]
    checks = [TcpCheck(name=n, address="127.0.0.1:1", interval=Duration(3600)) for n in names]
    app = make_app(tmp_path, checks, services={"check_runner": runner})
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.pane("health")
        pane.clock = lambda: T + dt.timedelta(seconds=90)  # the "for" column stays "1m30s"
        table = pane.query_one(DataTable)
        await wait_for(pilot, lambda: pane.scheduler.runs == 12 and "PENDING" not in pane.summary)
        pane.scheduler.stop()
        tracker = pane.tracker
        for _ in range(8):  # the latency sparklines fill up: then nothing changes any more
            for n in names:
                tracker.update(CheckResult(name=n, state="OK", message="fine", latency=0.01,
                                           checked_at=T))
            pane.redraw()
        before = pane.rows_written
        # the same result again for every check, a new message for one
        for n in names:
            tracker.update(CheckResult(name=n, state="OK", latency=0.01, checked_at=T,
                                       message="fine" if n != "c3" else "fine, slower"))
        pane.redraw()
        assert pane.last_written == ["c3"]
        assert pane.rows_written == before + 1
        pane.redraw()  # nothing new at all: nothing written
        assert pane.last_written == []
        # what the table shows is what a full rebuild gives
        want = health_rows(tracker.statuses(), pane.clock(), "", message_width=_msg_width(pane),
                           styles=pane.level_styles())
        got = [(r.key.value, tuple(str(table.get_cell(r.key, c)) for c in COLUMNS))
               for r in table.ordered_rows]
        assert got == [(k, tuple(str(c) for c in cells)) for k, cells in want]
        assert "fine, slower" in str(table.get_cell("c3", "MESSAGE"))
        # a state change re-sorts: the moved rows are rewritten, and the table still matches
        tracker.update(CheckResult(name="c7", state="CRITICAL", message="down", checked_at=T))
        pane.redraw()
        assert table.ordered_rows[0].key.value == "c7"
        want = health_rows(tracker.statuses(), pane.clock(), "", message_width=_msg_width(pane),
                           styles=pane.level_styles())
        got = [(r.key.value, tuple(str(table.get_cell(r.key, c)) for c in COLUMNS))
               for r in table.ordered_rows]
        assert got == [(k, tuple(str(c) for c in cells)) for k, cells in want]


def _msg_width(pane) -> int:
    from opsconsole.ui.panes.health import FIXED_W

    return max((pane.size.width or 80) - FIXED_W - 2, 12)
