"""Snapshot tests of the slow queries and locks panes, fed by fixed snapshots and a fixed
clock (``Services.pg_source`` / ``Services.clock``) so the SVGs are stable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from test_incident_ui import FixedHost

from opsconsole.config import AppConfig
from opsconsole.incidents.sink import MemorySink
from opsconsole.postgres.actions import SignalResult
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.locktree import WaitInfo, build_tree
from opsconsole.postgres.model import (
    ActivitySnapshot,
    Backend,
    LocksSnapshot,
    ServerInfo,
    Statement,
    StatementsSnapshot,
)
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from uihelpers import past_guard

NOW = datetime(2026, 3, 14, 3, 12, tzinfo=UTC)
START = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
SERVER = ServerInfo(version_num=150004, version="15.4", user="monitor", database="shop",
                    superuser=False, read_all_stats=True, signal_backend=False,
                    pgss_version="1.10", pgss_loaded=True, own_pid=1)


def be(pid: int, state: str, age: float, query: str, wait: tuple[str | None, str | None] = (None, None),
       user: str = "app", xact: float | None = None, xid: bool = False,
       app: str = "api") -> Backend:
    return Backend(pid=pid, user=user, database="shop", application=app, client="10.0.4.21",
                   state=state, wait_event_type=wait[0], wait_event=wait[1], backend_start=START,
                   query_start=START, query_age=age, xact_age=xact if xact is not None else age,
                   state_age=age, holds_xid=xid, holds_xmin=False, query=query)


BACKENDS = (
    be(4242, "idle in transaction", 842.0, "UPDATE accounts SET balance = balance - 10 WHERE id = 7",
       wait=("Client", "ClientRead"), user="billing", xact=845.0, xid=True, app="billing-worker"),
    be(4250, "active", 61.3, "UPDATE accounts SET balance = balance + 5 WHERE id = 7",
       wait=("Lock", "transactionid")),
    be(4251, "active", 45.0, "ALTER TABLE accounts ADD COLUMN note text", wait=("Lock", "relation"),
       user="deploy", app="migrate"),
    be(4260, "active", 12.4, "SELECT count(*) FROM accounts WHERE owner = 'ACME Corp'",
       wait=("Lock", "relation"), app="reports"),
    be(4300, "active", 14.2, "SELECT o.id, sum(l.amount) FROM orders o JOIN lines l ON l.order_id = o.id "
       "WHERE o.created > '2026-01-01' GROUP BY 1", wait=("IO", "DataFileRead"), app="reports"),
    be(4301, "idle in transaction (aborted)", 95.0, "INSERT INTO audit (note) VALUES ('x')",
       wait=("Client", "ClientRead")),
)


def statements() -> tuple[Statement, ...]:
    def st(q: int, calls: int, total: float, rows: int, dc: int | None, dt: float | None,
           text: str) -> Statement:
        return Statement(key=(16384, 10, q, True), user="app", database="shop", calls=calls,
                         total_ms=total, rows=rows, d_calls=dc, d_total_ms=dt,
                         d_rows=None if dc is None else dc, interval=None if dc is None else 2.0,
                         query=text)

    return (
        st(11, 90210, 812345.6, 90210, 412, 3290.5, "SELECT * FROM accounts WHERE id = $1"),
        st(12, 1200, 95012.0, 1200, 30, 2011.0, "UPDATE accounts SET balance = balance + $1 WHERE id = $2"),
        st(13, 88, 441000.0, 88, 1, 1320.0, "SELECT o.id, sum(l.amount) FROM orders o JOIN lines l ON l.order_id = o.id WHERE o.created > $1 GROUP BY $2"),
        st(14, 530000, 21000.0, 530000, 2600, 98.2, "INSERT INTO events (kind, payload) VALUES ($1, $2)"),
        st(15, 3, 12.0, 0, None, None, "CREATE INDEX CONCURRENTLY orders_created ON orders (created)"),
    )


class FixedPgSource:
    """Fixed data for snapshots: what PgSource would return, without a server."""

    def __init__(self) -> None:
        self.target = DatabaseTarget("shop-primary", "")
        self.options = PostgresOptions()
        self.signals: list[tuple[int, str]] = []

    async def activity(self, min_duration: float | None = None) -> ActivitySnapshot:
        return ActivitySnapshot(SERVER, BACKENDS, NOW, 1.0)

    async def locks(self) -> LocksSnapshot:
        by = {b.pid: b for b in BACKENDS}
        nodes = build_tree({p: by[p] for p in (4242, 4250, 4251, 4260)}, {
            4250: WaitInfo((4242,), "transactionid", "ShareLock", None, 61.0),
            4251: WaitInfo((4242, 4250), "relation", "AccessExclusiveLock", "accounts", 45.0),
            4260: WaitInfo((4251,), "relation", "AccessShareLock", "accounts", 12.0),
        })
        return LocksSnapshot(SERVER, tuple(nodes), NOW, waiting=3)

    async def statements(self, sort: str = "total", top: int | None = None) -> StatementsSnapshot:
        from opsconsole.postgres.statements import sort_statements

        return StatementsSnapshot(SERVER, tuple(sort_statements(statements(), sort)), NOW,
                                  has_deltas=True)

    async def explain(self, query: str, database: str | None, generic: bool,
                      analyze: bool = False, **kw: Any) -> str:
        return "Index Scan using accounts_pkey on accounts  (cost=0.29..8.30 rows=1 width=40)"

    async def signal(self, backend: Backend, mode: str, **kw: Any) -> SignalResult:
        self.signals.append((backend.pid, mode))
        return SignalResult(True, "signalled", f"pid {backend.pid}: {mode} sent")

    async def close(self) -> None:
        pass


def fixed_app(read_only: bool = False) -> OpsConsoleApp:
    return OpsConsoleApp(
        AppConfig(),
        RunOptions(read_only=read_only, refresh=60.0, data_dir=None),
        Services(clock=lambda: NOW, sink=MemorySink(), hostname="ops1",
                 pg_source=FixedPgSource(), host_collector=FixedHost()),  # (tab badges)
    )


async def _ready(pilot: Any, pane_id: str, keys: tuple[str, ...] = ()) -> None:
    await pilot.pause(0.2)
    await pilot.press(str({"slow": 3, "locks": 4}[pane_id]))
    pane = pilot.app.pane(pane_id)
    for k in keys:
        await pilot.press(k)
    for _ in range(100):
        if pane.polls >= 1 and pane.state == "live" and pane.table.row_count:
            break
        await asyncio.sleep(0.02)
    await pilot.pause()


def test_slow_running_now_80x24(snap_compare):
    assert snap_compare(fixed_app(), terminal_size=(80, 24),
                        run_before=lambda p: _ready(p, "slow"))


def test_slow_top_statements_80x24(snap_compare):
    assert snap_compare(fixed_app(), terminal_size=(80, 24),
                        run_before=lambda p: _ready(p, "slow", ("v",)))


def test_locks_tree_80x24(snap_compare):
    assert snap_compare(fixed_app(), terminal_size=(80, 24),
                        run_before=lambda p: _ready(p, "locks"))


def test_locks_zoomed_wide(snap_compare):
    assert snap_compare(fixed_app(), terminal_size=(150, 36),
                        run_before=lambda p: _ready(p, "locks", ("z",)))


def test_confirm_terminate_modal_80x24(snap_compare):
    async def run_before(pilot: Any) -> None:
        await _ready(pilot, "locks")
        await pilot.press("K")
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=run_before)


def test_read_only_footer_has_no_cancel_80x24(snap_compare):
    assert snap_compare(fixed_app(read_only=True), terminal_size=(80, 24),
                        run_before=lambda p: _ready(p, "slow"))


# ---------------------------------------------------------------------- behaviour, fixed data
async def test_filter_keeps_whole_lock_trees_and_filters_running_rows():
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, "locks")
        locks = app.pane("locks")
        await pilot.press("slash", *"deploy", "enter")
        await pilot.pause()
        assert locks.filter_text == "deploy"
        assert locks.table.row_count == 4  # the whole tree of the matching waiter
        await pilot.press("escape")  # nothing open: filter stays
        await _ready(pilot, "slow")
        slow = app.pane("slow")
        await pilot.press("slash", *"reports")
        await pilot.pause()
        keys = [slow.table.coordinate_to_cell_key((i, 0)).row_key.value
                for i in range(slow.table.row_count)]
        assert keys == ["4260", "4300"]
        await pilot.press("escape")
        await pilot.pause()
        assert slow.table.row_count == 6 and "filter" not in slow.header_text().plain


async def test_explain_details_and_sort_in_top_view():
    from opsconsole.ui.screens.pg import ExplainScreen, TextScreen

    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, "slow", ("v",))
        slow = app.pane("slow")
        for _ in range(100):
            if slow.table.row_count == 5:
                break
            await pilot.pause(0.02)
        assert slow.selected_key() == "16384:10:11:1"  # most time in the interval first
        await pilot.press("s")  # calls/s
        for _ in range(100):
            if slow.selected_key() == "16384:10:14:1" or slow.table.coordinate_to_cell_key((0, 0)).row_key.value == "16384:10:14:1":
                break
            await pilot.pause(0.02)
        assert slow.table.coordinate_to_cell_key((0, 0)).row_key.value == "16384:10:14:1"
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)
        for _ in range(100):
            if app.screen.result:
                break
            await pilot.pause(0.02)
        assert "Index Scan using accounts_pkey" in app.screen.result
        assert "generic plan" in app.screen.title_text
        await pilot.press("escape")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen) and "queryid" in app.screen.body
        await pilot.press("escape")
        await pilot.press("c")  # no backend in the top view: nothing opens
        await pilot.pause()
        assert not isinstance(app.screen, TextScreen)
        assert app.services.pg_source.signals == []


async def test_confirm_cancel_goes_through_the_source_once():
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, "slow")
        slow = app.pane("slow")
        slow.table.move_cursor(row=1)  # 4250, active
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("c")  # the action's own key is no answer
        await pilot.pause()
        assert not app.services.pg_source.signals
        await past_guard(pilot, app.screen)
        await pilot.press("y")
        for _ in range(100):
            if app.services.pg_source.signals:
                break
            await pilot.pause(0.02)
        assert app.services.pg_source.signals == [(4250, "cancel")]
        assert slow.last_signal.ok
