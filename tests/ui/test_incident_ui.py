"""The console's incident parts, driven with Pilot, plus snapshots of the pane and screen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsconsole import events as ev
from opsconsole.events import Actor
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.store import SQLiteStore
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.modals import ChoiceModal, DeclareModal, TextModal
from opsconsole.ui.panes.incidents import IncidentsPane
from opsconsole.ui.screens.incident import IncidentScreen
from opsconsole.ui.widgets import TimelineView

NOW = datetime(2026, 11, 24, 21, 43, 0, tzinfo=UTC)
ALICE = Actor("alice", "10.0.0.5", "/dev/pts/1", "ops1")
BOB = Actor("bob", None, "/dev/pts/2", "ops1")


class FixedHost:
    """Fixed host figures so nothing on screen depends on this machine."""

    def collect(self, force_processes: bool = False):
        from opsconsole.sources.host import FsUsage, HostSnapshot

        return HostSnapshot(
            taken_at=NOW.timestamp(), cpu_total=42.0, per_core=(40.0, 44.0),
            load=(1.5, 1.2, 0.9), cores=2, mem_total=8 << 30, mem_used=3 << 30,
            mem_percent=37.5, swap_total=0, swap_used=0, swap_percent=0.0,
            filesystems=(FsUsage("/", "/dev/vda", "ext4", 100 << 30, 64 << 30, 36 << 30, 64.0),),
            disk_read=0.0, disk_write=0.0, net=(), processes=(), process_count=120)


def make_app(tmp_path: Path, store: SQLiteStore, read_only: bool = False,
             clock=lambda: NOW) -> OpsConsoleApp:
    return OpsConsoleApp(options=RunOptions(data_dir=tmp_path, read_only=read_only),
                         services=Services(clock=clock, host_collector=FixedHost(),
                                           incident_store=store, hostname="ops1"))


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "incidents.db")
    yield s
    s.close()


async def until(pilot, cond, what: str, seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def ready(pilot, app) -> None:
    await until(pilot, lambda: app.screen.id == "main" and app.main.panes, "main screen")
    await pilot.pause()


def types(store: SQLiteStore, iid: str) -> list[str]:
    return [e.type for e in store.events(iid)]


async def test_declare_with_i_opens_the_new_incident(tmp_path, store):
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, DeclareModal), "declare modal")
        await pilot.press(*"DB down", "tab", "1", "tab", *"api, db", "enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "incident screen")
        iid = app.screen.incident_id
        assert store.incidents() == [iid]
        state = tl.fold(store.events(iid))
        assert (state.title, state.severity, state.services) == ("DB down", "SEV1", ["api", "db"])
        assert app.active_incident == iid and app.sink.active == iid
        await until(pilot, lambda: app.screen.state.event_count == 1, "timeline loaded")
        assert "Declared SEV1 “DB down”" in app.screen.query_one(TimelineView).plain
        await pilot.press("escape")
        await until(pilot, lambda: iid in app.pane("incidents").states, "pane sees it")
        assert iid in app.header_text().plain and "SEV1" in app.header_text().plain


async def test_declare_refuses_a_bad_severity_and_empty_title(tmp_path, store):
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, DeclareModal), "declare modal")
        await pilot.press("enter")
        assert "A title is needed" in str(app.screen.query_one("#declare-error").render())
        await pilot.press(*"x", "tab", *"SEV9", "enter")
        assert "expected one of SEV1" in str(app.screen.query_one("#declare-error").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, DeclareModal)
        assert store.incidents() == []


async def test_note_status_severity_milestone_role_on_the_incident_screen(tmp_path, store):
    iid = store.declare("API 500s", "SEV3", ["api"], actor=ALICE).incident_id
    app = make_app(tmp_path, store, clock=lambda: datetime.now(UTC))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("5")
        pane = app.pane("incidents")
        await until(pilot, lambda: iid in pane.states, "pane rows")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "incident screen")
        screen = app.screen
        assert screen.incident_id == iid and app.active_incident == iid

        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TextModal), "note modal")
        await pilot.press(*"cache hit rate fell", "enter")
        await until(pilot, lambda: ev.NOTE in types(store, iid), "note stored")
        await until(pilot, lambda: "Note: cache hit rate fell" in
                    screen.query_one(TimelineView).plain, "note on the timeline")

        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "status choices")
        await pilot.press("down", "enter")  # investigating → identified
        await until(pilot, lambda: screen.state.status == "identified", "status shown")
        last = store.events(iid)[-1]
        assert last.type == ev.STATUS_CHANGED and last.data == {"status": "identified",
                                                                "previous": "investigating"}

        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "severity choices")
        await pilot.press("up", "up", "enter")  # SEV3 → SEV1
        await until(pilot, lambda: screen.state.severity == "SEV1", "severity shown")

        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "milestone choices")
        await pilot.press("enter")  # started
        await until(pilot, lambda: isinstance(app.screen, TextModal), "milestone time")
        await pilot.press(*["backspace"] * 3, *"-30m", "enter")
        await until(pilot, lambda: "started" in screen.state.explicit_milestones, "milestone")
        assert screen.state.durations().detect == pytest.approx(30 * 60, abs=60)

        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "role choices")
        await pilot.press("enter")  # commander
        await until(pilot, lambda: isinstance(app.screen, TextModal), "person")
        await pilot.press(*"carol", "enter")
        await until(pilot, lambda: screen.state.roles.get("commander") == "carol", "role")
        summary = screen.query_one("#incident-summary").plain
        assert "commander: carol" in summary and "SEV1 IDENTIFIED" in summary


async def test_n_and_t_work_globally_on_the_active_incident(tmp_path, store):
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("t")
        await until(pilot, lambda: any("No active incident" in str(n.message)
                                       for n in app._notifications), "no-active notice")
        await pilot.press("n")
        assert not isinstance(app.screen, TextModal)
        # declared elsewhere (another console), opened here: it becomes active
        iid = store.declare("Queue backlog", "SEV2", actor=BOB).incident_id
        await pilot.press("5")
        await until(pilot, lambda: iid in app.pane("incidents").states, "pane rows")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "incident screen")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, IncidentScreen), "back")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TextModal), "note modal")
        await pilot.press(*"from the main screen", "enter")
        await until(pilot, lambda: ev.NOTE in types(store, iid), "note stored")
        # the rest of the console records through app.sink: lands on the active incident
        app.sink.record("health.state_changed", {"check": "queue", "state": "critical"})
        app.sink.record("db.cancel", {"pid": 99, "ok": True})
        assert types(store, iid)[-2:] == ["health.state_changed", "db.cancel"]
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "timeline")
        await until(pilot, lambda: "Health queue: critical" in
                    app.screen.query_one(TimelineView).plain, "health on the timeline")
        assert "Cancelled query pid 99 → ok" in app.screen.query_one(TimelineView).plain


async def test_read_only_refuses_declare_and_note(tmp_path, store):
    iid = store.declare("x", "SEV3").incident_id
    app = make_app(tmp_path, store, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("i")
        await pilot.pause()
        assert not isinstance(app.screen, DeclareModal)
        await pilot.press("5")
        await until(pilot, lambda: iid in app.pane("incidents").states, "pane rows")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "screen")
        await pilot.press("n", "s")
        await pilot.pause()
        assert isinstance(app.screen, IncidentScreen)
        assert types(store, iid) == [ev.DECLARED]


async def test_another_console_shows_up_live(tmp_path, store):
    app = make_app(tmp_path, store)
    other = SQLiteStore(tmp_path / "incidents.db")  # a second console's connection
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("5")
        pane = app.pane("incidents")
        await until(pilot, lambda: pane.polls > 0, "first poll")
        iid = other.declare("Seen from afar", "SEV2", actor=BOB).incident_id
        await until(pilot, lambda: iid in pane.states, "other console's incident")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "screen")
        other.append(ev.NOTE, {"text": "typed in the other console"}, incident_id=iid,
                     actor=BOB)
        await until(pilot, lambda: "typed in the other console" in
                    app.screen.query_one(TimelineView).plain, "live note")
    other.close()


async def test_snapshot_and_export_keys(tmp_path, store):
    iid = store.declare("x", "SEV3").incident_id
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("5")
        await until(pilot, lambda: iid in app.pane("incidents").states, "rows")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "screen")
        await pilot.press("h")
        await until(pilot, lambda: ev.SNAPSHOT in types(store, iid), "snapshot stored")
        assert store.events(iid)[-1].data["cpu"] == 42.0
        await pilot.press("e")
        out = tmp_path / "postmortems" / f"{iid}.md"
        await until(pilot, out.exists, "export written")
        assert "Host snapshot: cpu 42%" in out.read_text()


def test_pane_rows_worst_first_with_overdue_clock():
    from opsconsole.incidents.config import ResponseTargets
    from opsconsole.ui.panes.incidents import incident_rows

    def st(iid, sev, minutes_ago, status="investigating", **kw):
        s = tl.IncidentState(id=iid, title=f"t{iid}", severity=sev, status=status,
                             declared_at=NOW - timedelta(minutes=minutes_ago))
        s.derived_milestones = {"started": s.declared_at, "detected": s.declared_at}
        s.derived_milestones.update(kw)
        return s

    states = [st("A", "SEV3", 5), st("B", "SEV1", 2), st("C", "SEV1", 9),
              st("D", "SEV2", 1, status="resolved"),
              st("E", "SEV2", 30, acknowledged=NOW - timedelta(minutes=29))]
    rows = incident_rows(states, NOW, ResponseTargets())
    assert [k for k, _ in rows] == ["C", "B", "E", "A"]
    cells = {k: c for k, c in rows}
    assert str(cells["C"][5]) == "! OVERDUE 4m"
    assert str(cells["B"][5]) == "3m left"
    assert str(cells["E"][5]) == "acked 1m"
    assert str(cells["A"][5]) == "55m left"
    assert [k for k, _ in incident_rows(states, NOW, ResponseTargets(), "tA")] == ["A"]


# ---------------------------------------------------------------------- snapshots
def seed(store: SQLiteStore) -> str:
    t = NOW - timedelta(minutes=40)
    a = store.declare("Checkout returns 500s", "SEV1", ["checkout", "db"], actor=ALICE,
                      ts=t).incident_id
    store.declare("Slow search results", "SEV3", ["search"], actor=BOB,
                  ts=t + timedelta(minutes=30))
    store.declare("Backups late", "SEV4", [], actor=BOB, ts=t - timedelta(hours=3))

    def add(minutes: float, type: str, actor: Actor = ALICE, **data: object) -> None:
        store.append(type, dict(data), incident_id=a, actor=actor,
                     ts=t + timedelta(minutes=minutes))

    add(1, ev.ROLE_ASSIGNED, role="commander", person="alice")
    add(2, "health.state_changed", check="checkout-http", previous="ok", state="critical",
        detail="HTTP 500")
    add(3, ev.NOTE, BOB, text="40 sessions waiting on a lock on orders")
    add(4, "db.cancel", pid=4242, user="app", database="shop", ok=True)
    add(5, ev.STATUS_CHANGED, status="identified", previous="investigating")
    add(6, ev.MILESTONE_SET, milestone="started", at=(t - timedelta(minutes=8)).isoformat())
    add(7, ev.SNAPSHOT, cpu=97.5, load1=7.2, mem=81.0, swap=0.0, processes=212)
    return a


def test_snapshot_incidents_pane(snap_compare, tmp_path):
    store = SQLiteStore(tmp_path / "incidents.db")
    seed(store)
    app = make_app(tmp_path, store)

    async def run_before(pilot) -> None:
        await ready(pilot, app)
        await pilot.press("5")
        pane = app.pane("incidents")
        await until(pilot, lambda: len(pane.states) == 3 and pane.polls > 0, "rows")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_incident_screen(snap_compare, tmp_path):
    store = SQLiteStore(tmp_path / "incidents.db")
    iid = seed(store)
    app = make_app(tmp_path, store)

    async def run_before(pilot) -> None:
        await ready(pilot, app)
        await pilot.press("5")
        await until(pilot, lambda: iid in app.pane("incidents").states, "rows")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen)
                    and app.screen.state.event_count == 8, "timeline")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_incident_pane_wide(snap_compare, tmp_path):
    store = SQLiteStore(tmp_path / "incidents.db")
    seed(store)
    app = make_app(tmp_path, store)

    async def run_before(pilot) -> None:
        await ready(pilot, app)
        await pilot.press("5", "z")
        pane = app.pane("incidents")
        await until(pilot, lambda: isinstance(pane, IncidentsPane) and len(pane.states) == 3,
                    "rows")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 30), run_before=run_before)


async def test_long_timeline_opens_on_the_newest_page_and_reads_older_on_demand(tmp_path, store):
    from opsconsole.ui.widgets import PAGE

    iid = store.declare("Long one", "SEV2", actor=ALICE).incident_id
    store.append(ev.STATUS_CHANGED, {"status": "identified"}, incident_id=iid, actor=ALICE)
    for i in range(2 * PAGE + 50):
        store.append(ev.NOTE, {"text": f"note {i}"}, incident_id=iid, actor=BOB)
    total = 2 * PAGE + 52
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        from opsconsole.ui.flows import open_incident

        open_incident(app, iid)
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen) and app.screen.loaded,
                    "screen loaded")
        screen = app.screen
        view = screen.query_one(TimelineView)
        # the state is whole although only the newest page was read
        assert screen.state.event_count == total and screen.state.status == "identified"
        assert len(view.seqs) == total and len(view.loaded) == PAGE
        await until(pilot, lambda: f"note {2 * PAGE + 49}" in view.plain, "newest drawn")
        assert "Declared" not in view.plain
        await pilot.press("home")
        await until(pilot, lambda: "Declared SEV2 “Long one”" in view.plain, "oldest read")
        assert view.line_text(0) is not None and "Declared" in view.line_text(0).plain
        # new events keep arriving at the end
        store.append(ev.NOTE, {"text": "the newest"}, incident_id=iid, actor=BOB)
        await until(pilot, lambda: screen.state.event_count == total + 1, "live event")
        assert view.events[-1].data["text"] == "the newest"


async def test_a_corrupt_store_is_shown_and_events_still_kept(tmp_path):
    db = tmp_path / "incidents.db"
    db.write_bytes(b"not sqlite" * 50)
    app = OpsConsoleApp(options=RunOptions(data_dir=tmp_path),
                        services=Services(clock=lambda: NOW, host_collector=FixedHost(),
                                          hostname="ops1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await until(pilot, lambda: app.store_error is not None, "store error")
        pane = app.pane("incidents")
        await until(pilot, lambda: pane.state == "stale", "stale pane")
        assert "not a SQLite database" in pane.header_text().plain
        assert any("not a SQLite database" in str(n.message) for n in app._notifications)
        e = app.sink.record("health.state_changed", {"check": "api", "state": "critical"})
        assert e.type == "health.state_changed"
        from opsconsole.incidents.sink import JournalSink

        kept = JournalSink(tmp_path / "journal.jsonl").read()
        assert kept[-1]["type"] == "health.state_changed"
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, DeclareModal), "declare modal")
        await pilot.press(*"x", "enter")
        await until(pilot, lambda: any("declare failed" in str(n.message)
                                       for n in app._notifications), "declare refused")
    assert db.read_bytes() == b"not sqlite" * 50


async def test_comms_draft_from_the_incident_screen(tmp_path, store):
    from opsconsole.ui.modals import CommsModal

    iid = store.declare("Checkout slow", "SEV2", ["checkout"], actor=ALICE).incident_id
    store.append(ev.NOTE, {"text": "rolled back release 42"}, incident_id=iid, actor=ALICE)
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        from opsconsole.ui.flows import open_incident

        open_incident(app, iid)
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen) and app.screen.loaded,
                    "screen")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "templates")
        await pilot.press("enter")  # the suggested one: initial (a young incident)
        await until(pilot, lambda: isinstance(app.screen, CommsModal), "draft")
        assert app.screen.template == "initial"
        assert app.screen.text.startswith("[SEV2] Investigating: Checkout slow")
        await pilot.press("escape")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "templates")
        await pilot.press("down", "enter")  # update
        await until(pilot, lambda: isinstance(app.screen, CommsModal), "draft")
        assert "Latest: rolled back release 42" in app.screen.text
