"""The health pane: pure row building, Pilot behaviour with real checks, snapshots."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from textual.widgets import DataTable

from opsconsole.checks.engine import CheckResult
from opsconsole.checks.spec import CommandCheck, HttpCheck, TcpCheck
from opsconsole.checks.tracker import CheckTracker
from opsconsole.config import AppConfig
from opsconsole.incidents.sink import MemorySink
from opsconsole.schema import Duration
from opsconsole.sources.host import FsUsage, HostSnapshot, ProcRow
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.panes.health import (
    HealthDetailsScreen,
    details_text,
    health_rows,
    summary,
)
from servers import serve_http
from uihelpers import wait_for

T = dt.datetime(2026, 11, 24, 21, 0, 0, tzinfo=dt.UTC)


def at(seconds_ago: float) -> dt.datetime:
    return T - dt.timedelta(seconds=seconds_ago)


def result(name: str, state: str, message: str, seconds_ago: float, latency: float | None = None,
           kind: str = "http", **details) -> CheckResult:
    return CheckResult(name=name, state=state, message=message, latency=latency,  # type: ignore[arg-type]
                       details=details, checked_at=at(seconds_ago), kind=kind)


SPECS = [
    HttpCheck(name="api", url="http://127.0.0.1:8000/health", failures_before_critical=3),
    TcpCheck(name="db-port", address="127.0.0.1:5432"),
    CommandCheck(name="disk-check-plugin",
                 command="/usr/lib/nagios/plugins/check_disk -w 20% -c 10% -p /"),
    HttpCheck(name="queue", url="http://127.0.0.1:8001/depth", failures_before_critical=3),
    HttpCheck(name="search", url="https://search.internal/ping"),
    CommandCheck(name="backup-age", command="check_backup"),
    TcpCheck(name="redis", address="127.0.0.1:6379"),
]


def filled_tracker(sink=None) -> CheckTracker:
    """A fixed history: api CRITICAL for 4m12s, a soft failure, an UNKNOWN plugin, ..."""
    tr = CheckTracker(SPECS, sink=sink)
    for i, lat in enumerate([0.012, 0.015, 0.011, 0.030, 0.090, 0.250]):
        tr.update(result("api", "OK", "HTTP 200 in 12ms", 900 - i * 60, lat))
    for k in range(3):
        tr.update(result("api", "CRITICAL", "connection refused by 127.0.0.1:8000", 252 - k * 30 + 60))
    tr.update(result("api", "CRITICAL", "connection refused by 127.0.0.1:8000", 252))
    for i, lat in enumerate([0.002, 0.001, 0.003, 0.002, 0.004, 0.002, 0.001]):
        tr.update(result("db-port", "OK", "connected to 127.0.0.1:5432 in 2ms", 7500 - i, lat,
                         kind="tcp"))
    tr.update(result("disk-check-plugin", "UNKNOWN",
                     "command not found: /usr/lib/nagios/plugins/check_disk", 30, kind="command"))
    tr.update(result("queue", "OK", "HTTP 200 in 40ms", 600, 0.040))
    tr.update(result("queue", "CRITICAL", "timed out after 2.0s (waiting for the response)", 20))
    tr.update(result("search", "OK", "HTTP 200 in 180ms, certificate valid 9 more days", 3600,
                     0.18))
    tr.update(result("search", "WARNING", "TLS certificate expires in 9 days", 1800, 0.2,
                     cert_days_left=9.2))
    tr.update(result("backup-age", "OK", "newest db.dump is 3h10m old, 1.2G", 86400 * 2,
                     kind="command"))
    return tr  # redis: never run (PENDING)


def test_rows_are_worst_first_with_words_symbols_and_time_in_state():
    rows = health_rows(filled_tracker().statuses(), T, message_width=60)
    got = [(k, str(c[0]), c[3]) for k, c in rows]
    assert got == [
        ("api", "✗ CRIT", "4m12s"),
        ("disk-check-plugin", "? UNKNOWN", "30s"),
        ("search", "! WARN", "30m00s"),
        ("queue", "! WARN", "20s"),
        ("backup-age", "✓ OK", "2d00h"),
        ("db-port", "✓ OK", "2h05m"),
        ("redis", "… PENDING", "–"),
    ]
    queue = dict(rows)["queue"]
    assert queue[4] == "failure 1/3: timed out after 2.0s (waiting for the response)"
    api = dict(rows)["api"]
    assert api[2].endswith("▁▁▁▂▄█") and api[2].strip().startswith("–")
    assert summary(filled_tracker().statuses()) == "1 CRIT · 1 UNKNOWN · 2 WARN · 2 OK · 1 PENDING"


def test_filter_matches_name_state_and_message():
    st = filled_tracker().statuses()
    assert [k for k, _ in health_rows(st, T, "crit")] == ["api"]
    assert [k for k, _ in health_rows(st, T, "refused")] == ["api"]
    assert [k for k, _ in health_rows(st, T, "warn")] == ["search", "queue"]
    assert [k for k, _ in health_rows(st, T, "tcp")] == ["db-port", "redis"]
    assert health_rows(st, T, "zzz") == []


def test_details_text_shows_state_since_and_history():
    tr = filled_tracker()
    text = details_text(tr.status("api"), T).plain
    assert "✗ CRIT for 4m12s (since 2026-11-24 20:55:48 UTC)" in text
    assert "connection refused by 127.0.0.1:8000" in text
    history = [h.strip() for h in text.split("State changes (newest first)")[1].strip().splitlines()]
    assert history[0].startswith("2026-11-24 20:55:48  WARN → CRIT")
    assert history[1].startswith("2026-11-24 20:54:48  OK → WARN")
    assert history[2].startswith("2026-11-24 20:45:00  start → OK")


# --------------------------------------------------------------------------- Pilot


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release = threading.Event()

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/hang":
            self.release.wait(30)
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def web():
    with serve_http(_Handler) as srv:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
        _Handler.release.set()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_app(tmp_path, checks, sink=None, services: dict | None = None, **opts) -> OpsConsoleApp:
    cfg = AppConfig(checks=checks)
    return OpsConsoleApp(cfg, RunOptions(data_dir=tmp_path, **opts),
                         Services(sink=sink or MemorySink(), hostname="testhost",
                                  **(services or {})))


def cell(table: DataTable, key: str, col: str) -> str:
    return str(table.get_cell(key, col))


async def test_pane_runs_real_checks_and_records_state_changes(tmp_path, web):
    sink = MemorySink()
    port = closed_port()
    checks = [
        HttpCheck(name="web", url=f"{web}/ok", interval=Duration(60)),
        TcpCheck(name="db-port", address=f"127.0.0.1:{port}", interval=Duration(60)),
        CommandCheck(name="plugin", command="/nonexistent/check_x", interval=Duration(60)),
        CommandCheck(name="warner", command="sh -c 'echo LOAD WARNING; exit 1'",
                     interval=Duration(60)),
    ]
    app = make_app(tmp_path, checks, sink)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.pane("health")
        table = pane.query_one(DataTable)
        await wait_for(pilot, lambda: pane.scheduler is not None and pane.scheduler.runs == 4
                       and table.row_count == 4 and "PENDING" not in pane.summary)
        await wait_for(pilot, lambda: [r.key.value for r in table.ordered_rows]
                       == ["db-port", "plugin", "warner", "web"])
        assert cell(table, "db-port", "MESSAGE").endswith("…")  # half the screen: cut
        await pilot.press("z")  # zoomed: the message column takes the whole width
        await wait_for(pilot, lambda: not cell(table, "db-port", "MESSAGE").endswith("…"))
        assert cell(table, "db-port", "STATE") == "✗ CRIT"
        assert cell(table, "db-port", "MESSAGE").startswith("connection refused by 127.0.0.1")
        assert cell(table, "plugin", "STATE") == "? UNKNOWN"
        assert cell(table, "plugin", "MESSAGE") == "command not found: /nonexistent/check_x"
        assert cell(table, "warner", "STATE") == "! WARN"
        assert cell(table, "web", "STATE") == "✓ OK"
        assert pane.summary == "1 CRIT · 1 UNKNOWN · 1 WARN · 1 OK"
        assert "1 CRIT · 1 UNKNOWN · 1 WARN · 1 OK" in str(pane.header_text())
        changes = [(e.data["check"], e.data["old"], e.data["new"]) for e in sink.events
                   if e.type == "health.state_changed"]
        assert sorted(changes) == [("db-port", None, "CRITICAL"), ("plugin", None, "UNKNOWN"),
                                   ("warner", None, "WARNING")]


async def test_enter_opens_details_with_history_and_escape_returns(tmp_path, web):
    port = closed_port()
    checks = [HttpCheck(name="web", url=f"{web}/ok", interval=Duration(60)),
              TcpCheck(name="db-port", address=f"127.0.0.1:{port}", interval=Duration(60))]
    app = make_app(tmp_path, checks)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.pane("health")
        table = pane.query_one(DataTable)
        await wait_for(pilot, lambda: pane.scheduler.runs == 2 and "PENDING" not in pane.summary)
        await wait_for(pilot, lambda: table.row_count == 2
                       and table.ordered_rows[0].key.value == "db-port")
        await pilot.press("1")
        await wait_for(pilot, lambda: table.has_focus)
        await pilot.press("down")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HealthDetailsScreen))
        text = str(app.screen.query_one("#health-details-text").render())
        assert text.startswith("web  (http · GET " + web)
        assert "✓ OK for " in text and "State changes (newest first)" in text
        assert "start → OK" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HealthDetailsScreen))
        assert table.has_focus


async def test_a_hung_check_holds_neither_the_others_nor_the_keyboard(tmp_path, web):
    checks = [HttpCheck(name="hung", url=f"{web}/hang", timeout=Duration(20),
                        interval=Duration(60))]
    checks += [HttpCheck(name=f"ok{i}", url=f"{web}/ok", interval=Duration(60)) for i in range(5)]
    app = make_app(tmp_path, checks)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.pane("health")
        table = pane.query_one(DataTable)
        await wait_for(pilot, lambda: pane.scheduler.runs == 5)
        await wait_for(pilot, lambda: table.row_count == 6 and all(
            cell(table, f"ok{i}", "STATE") == "✓ OK" for i in range(5)))
        assert cell(table, "hung", "STATE") == "… PENDING"
        assert "hung" in pane.scheduler.running
        await pilot.press("z")  # the UI still answers while the hung check waits
        await wait_for(pilot, lambda: app.zoomed)
        await pilot.press("z")
        await wait_for(pilot, lambda: not app.zoomed)


async def test_cursor_stays_on_its_check_when_rows_resort(tmp_path):
    states = {"a": "OK", "b": "OK", "c": "OK"}

    async def runner(spec, config):
        return CheckResult(name=spec.name, state=states[spec.name], message=states[spec.name],  # type: ignore[arg-type]
                           latency=0.01)

    checks = [TcpCheck(name=n, address="127.0.0.1:1", interval=Duration(3600)) for n in "abc"]
    app = make_app(tmp_path, checks, services={"check_runner": runner})
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.pane("health")
        table = pane.query_one(DataTable)
        await wait_for(pilot, lambda: pane.scheduler.runs == 3 and table.row_count == 3
                       and "PENDING" not in pane.summary)
        await pilot.press("1")
        await pilot.press("down", "down")
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        states[key] = "CRITICAL"
        await pilot.press("R")  # check now, instead of waiting an hour
        await wait_for(pilot, lambda: pane.scheduler.runs == 6)
        await wait_for(pilot, lambda: table.ordered_rows[0].key.value == key)
        assert table.cursor_row == 0  # moved with its row, not left on another check
        assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == key


async def test_filter_key_and_pause(tmp_path, web):
    port = closed_port()
    checks = [HttpCheck(name="web", url=f"{web}/ok", interval=Duration(60)),
              TcpCheck(name="db-port", address=f"127.0.0.1:{port}", interval=Duration(60))]
    app = make_app(tmp_path, checks)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.pane("health")
        table = pane.query_one(DataTable)
        await wait_for(pilot, lambda: pane.scheduler.runs == 2 and "PENDING" not in pane.summary)
        await pilot.press("1", "slash")
        await wait_for(pilot, lambda: pane.filter_open)
        await pilot.press(*"refused")
        await wait_for(pilot, lambda: [r.key.value for r in table.ordered_rows] == ["db-port"])
        await pilot.press("enter")  # keeps the filter, closes the box, does not open details
        await wait_for(pilot, lambda: not pane.filter_open)
        assert not isinstance(app.screen, HealthDetailsScreen)
        assert pane.filter_text == "refused" and "filter: refused" in str(pane.header_text())
        assert [r.key.value for r in table.ordered_rows] == ["db-port"]
        await pilot.press("slash", "escape")  # escape in the box clears the filter
        await wait_for(pilot, lambda: table.row_count == 2)
        await pilot.press("p")
        await wait_for(pilot, lambda: pane.state == "paused")
        assert "PAUSED" in str(pane.header_text())
        pane.scheduler.next_due = dict.fromkeys(pane.scheduler.next_due, 0.0)
        runs = pane.scheduler.runs
        for _ in range(5):
            await pilot.pause(0.1)
            pane._tick()
        assert pane.scheduler.runs == runs and not pane.scheduler.running
        await pilot.press("p")
        await wait_for(pilot, lambda: pane.scheduler.runs == runs + 2)


async def test_no_checks_configured_says_so(tmp_path):
    app = make_app(tmp_path, [])
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.pane("health")
        await pilot.pause()
        assert pane.state == "off"
        assert "no checks configured" in str(pane.query_one(".pane-empty").render())


# --------------------------------------------------------------------------- snapshots


class FixedHost:
    def collect(self) -> HostSnapshot:
        return HostSnapshot(
            taken_at=T.timestamp(), cpu_total=12.5, per_core=(10.0, 15.0), load=(0.5, 0.4, 0.3),
            cores=2, mem_total=8 * 1024**3, mem_used=3 * 1024**3, mem_percent=37.5,
            swap_total=0, swap_used=0, swap_percent=0.0,
            filesystems=(FsUsage("/", "/dev/sda1", "ext4", 100 * 1024**3, 60 * 1024**3,
                                 40 * 1024**3, 60.0),),
            disk_read=1024.0, disk_write=2048.0, net=(),
            processes=(ProcRow(101, "postgres", 5.0, 3.2, "postgres: writer"),
                       ProcRow(202, "www", 2.0, 1.1, "nginx: worker process")),
            process_count=2)


async def _never(spec, config):
    await asyncio.Event().wait()


def snapshot_app() -> OpsConsoleApp:
    cfg = AppConfig(checks=SPECS)
    return OpsConsoleApp(cfg, RunOptions(refresh=60.0), Services(
        clock=lambda: T, host_collector=FixedHost(), sink=MemorySink(), hostname="ops-1",
        check_runner=_never, check_tracker=filled_tracker()))


async def _settle(pilot) -> None:
    app = pilot.app
    pane = app.pane("health")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (pane.scheduler is not None and len(pane.scheduler.running) == len(SPECS)
               and app.pane("resources").polls >= 1
               and pane.query_one(DataTable).row_count == len(SPECS)):
        assert loop.time() < deadline
        await pilot.pause(0.05)
    await pilot.pause()


def test_snapshot_health_80x24(snap_compare):
    assert snap_compare(snapshot_app(), terminal_size=(80, 24), run_before=_settle)


def test_snapshot_health_160x48(snap_compare):
    assert snap_compare(snapshot_app(), terminal_size=(160, 48), run_before=_settle)


def test_snapshot_health_details_80x24(snap_compare):
    async def open_details(pilot) -> None:
        await _settle(pilot)
        await pilot.press("1", "enter")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not isinstance(pilot.app.screen, HealthDetailsScreen):
            assert loop.time() < deadline
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=(80, 24), run_before=open_details)


def test_snapshot_health_zoomed_160x48(snap_compare):
    """The war-room view: the health pane alone, full width (messages uncut)."""
    async def zoom(pilot) -> None:
        await _settle(pilot)
        await pilot.press("1", "z")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not pilot.app.zoomed:
            assert loop.time() < deadline
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=(160, 48), run_before=zoom)


PLUGIN = r"""#!/bin/sh
# a Nagios plugin with perfdata on the first line, 143 lines of long output and more
# perfdata after a second '|'; its figures grow on every run
n=$(cat "$0.count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$0.count"
echo "DISK WARNING - /var at 91% | '/var'=$((n * 1024 * 1024 * 1024))B;80;90;0;1099511627776 time=0.0$n"s
i=1; while [ $i -le 142 ]; do echo "volume $i ok"; i=$((i + 1)); done
echo "last volume ok | 'inode use'=$((n * 10))%;80;90"
exit 1
"""


async def test_details_show_perfdata_with_units_sparklines_and_the_whole_output(tmp_path):
    script = tmp_path / "check_vols"
    script.write_text(PLUGIN)
    script.chmod(0o755)
    app = make_app(tmp_path, [CommandCheck(name="vols", command=str(script),
                                           interval=Duration(60))])
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.pane("health")
        table = pane.query_one(DataTable)
        for runs in (1, 2, 3):  # three runs: a history for each label
            await wait_for(pilot, lambda runs=runs: pane.scheduler.runs == runs)
            if runs < 3:
                await pilot.press("1", "R")
        assert cell(table, "vols", "MESSAGE") == "DISK WARNING - /var at 91%"
        await pilot.press("1", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HealthDetailsScreen))
        screen = app.screen
        text = str(screen.query_one("#health-details-text").render())
        lines = text.splitlines()
        perf = lines[lines.index("Performance data") + 1:][:3]
        assert perf[0].split()[:3] == ["/var", "3.0", "GiB"]
        assert "(warn 80 · crit 90 · min 0 B · max 1.0 TiB)" in perf[0]
        assert perf[1].split()[:2] == ["time", "30ms"]
        assert perf[2].split()[:3] == ["inode", "use", "30%"]
        assert "  ▃▆█  " in perf[0]  # 1, 2, 3 GiB: a rising sparkline
        assert "    volume 7 ok" in lines and "    volume 8 ok" not in lines
        assert "    … +136 lines (o shows all)" in lines  # 144 lines, 8 shown
        await pilot.press("o")
        await wait_for(pilot, lambda: "last volume ok" in str(
            screen.query_one("#health-details-text").render()))
        text = str(screen.query_one("#health-details-text").render())
        assert "    volume 142 ok" in text.splitlines() and "+136 lines" not in text
        await pilot.press("end")  # long output scrolls
        box = screen.query_one("#health-details-box")
        await wait_for(pilot, lambda: box.scroll_y > 0)
        await pilot.press("o")
        await wait_for(pilot, lambda: "+136 lines" in str(
            screen.query_one("#health-details-text").render()))
