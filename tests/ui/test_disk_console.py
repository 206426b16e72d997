"""The console on a full disk (a real small tmpfs) and in --read-only mode, with a real
flapping HTTP check: it never exits, says when recording fails, writes the events kept in
memory once space is back, and read-only writes nothing at all."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from diskfull import small_disk
from eventually import eventually
from hostdata import FixedCollector
from opsconsole import events as ev
from opsconsole.checks.spec import HttpCheck
from opsconsole.config import AppConfig
from opsconsole.incidents.store import SQLiteStore
from opsconsole.schema import Duration
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.screens.incident import IncidentScreen


def console(url: str, data, *, read_only: bool = False) -> OpsConsoleApp:
    cfg = AppConfig(checks=[HttpCheck(name="web", url=url, interval=Duration(0.2),
                                      timeout=Duration(2), failures_before_critical=1)])
    # no sink, no store: the console's own (the incident store in the data directory)
    return OpsConsoleApp(cfg, RunOptions(refresh=3600, data_dir=data, read_only=read_only),
                         Services(hostname="ops-01", host_collector=FixedCollector(),
                                  clock=lambda: datetime.now(UTC)))


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path) as d:
        yield d


async def test_on_a_full_disk_the_console_says_recording_failed_and_catches_up(disk,
                                                                               switch_web):
    data = disk.root / "data"
    app = console(switch_web.url, data)
    async with app.run_test(size=(100, 30)) as pilot:
        await eventually(lambda: app.incident_store is not None, pilot=pilot, what="store")
        health = app.pane("health")
        await eventually(lambda: "1 OK" in health.summary, 15, pilot=pilot, what="check OK")
        store = app.incident_store
        before = store.last_seq()
        disk.fill()

        switch_web.healthy.clear()  # OK → CRITICAL: an event nothing can write
        await eventually(lambda: "1 CRIT" in health.summary, 15, pilot=pilot, what="CRIT")
        switch_web.healthy.set()  # → OK: a second one, queued behind the first
        await eventually(lambda: "1 OK" in health.summary, 15, pilot=pilot, what="OK again")
        header = app.main.query_one("#console-header")

        def line() -> str:
            return str(header.render())

        await eventually(lambda: "events kept in memory, 2 pending" in line(), 10,
                         pilot=pilot, what="the recording-failed line", last=line)
        assert "recording failed: disk full — events kept in memory, 2 pending" in line()
        assert app.is_running and store.last_seq() == before

        disk.free()
        app.sink.retry_now()
        await eventually(lambda: "recording failed" not in line(), 20, pilot=pilot,
                         what="the line gone once space is back", last=line)
        changes = [(e.data["old"], e.data["new"]) for e in store.events_after(before)
                   if e.type == ev.HEALTH_CHANGED]
        assert changes == [("OK", "CRITICAL"), ("CRITICAL", "OK")]
        assert any("recording works again" in str(n.message) for n in app._notifications)
        assert app.is_running


async def test_read_only_records_nothing_and_writes_no_file(tmp_path, switch_web):
    data = tmp_path / "data"
    with SQLiteStore(data / "incidents.db") as store:
        iid = store.declare("web down", "SEV2").incident_id
        last = store.last_seq()
    before = sorted(os.listdir(data))
    app = console(switch_web.url, data, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(lambda: app.incident_store is not None, pilot=pilot, what="store")
        health = app.pane("health")
        await eventually(lambda: "1 OK" in health.summary, 15, pilot=pilot, what="check OK")
        await pilot.press("5")
        await eventually(lambda: iid in app.pane("incidents").states, 10, pilot=pilot,
                         what="the incident in its pane")
        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, IncidentScreen), pilot=pilot,
                         what="the incident screen")
        assert app.active_incident == iid
        switch_web.healthy.clear()  # flaps while the incident is open
        await eventually(lambda: "1 CRIT" in health.summary, 15, pilot=pilot, what="CRIT")
        switch_web.healthy.set()
        await eventually(lambda: "1 OK" in health.summary, 15, pilot=pilot, what="OK")
        await pilot.press("e")
        await eventually(lambda: any("read-only: no file written" in str(n.message)
                                     for n in app._notifications), 10, pilot=pilot,
                         what="the export refused as a file")
    with SQLiteStore(data / "incidents.db", read_only=True) as store:
        assert store.last_seq() == last
    assert sorted(os.listdir(data)) == before  # no journal, no -wal/-shm, no postmortems/
    assert "journal.jsonl" not in before
