"""Alerts in the console: it evaluates from what its panes collect (a real tcp check to a
closed port goes CRITICAL), shows the alert pending then firing in the strip and the tab
line, records acknowledgements and silences in the real store, opens the rule's runbook with
the check filled in; two consoles on one store: one evaluates, one notification at a real
webhook receiver, the other shows the same alert; --read-only writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from test_alerts_notify import Receiver

from conftest import cli_env
from hostdata import FIXED_NOW
from opsconsole.config import parse_config
from opsconsole.events import ALERT_ACK, ALERT_TRANSITION
from opsconsole.incidents.store import DB_NAME, open_store
from servers import serve_http
from uihelpers import make_app, wait_for


def closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config_text(tmp_path: Path, port: int, hook: str | None = None, for_: str = "30s") -> str:
    notify = f'notify:\n  - {{name: oncall, kind: webhook, url: "{hook}", timeout: 2s}}\n' \
        if hook else ""
    return f"""\
checks:
  - {{name: api, kind: tcp, address: "127.0.0.1:{port}", interval: 1s, timeout: 1s}}
{notify}alerts:
  - name: api-down
    expr: check.api.state == CRITICAL
    for: {for_}
    severity: critical
    runbook: service-down  # the shipped one: its `service` from the check's name
    params: {{service: "{{check}}"}}
    {"notify: [oncall]" if hook else ""}
    escalate:
      - {{after: 10m, notify: []}}
"""


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self):
        return self.now


def row(app, name="api-down"):
    return next((r for r in app.alerts.view.rows if r["name"] == name), None)


def tabs(app) -> str:
    return app.main.query_one("#pane-tabs").lines[0].plain


def store_events(data: Path, *types: str):
    store = open_store(data, DB_NAME, read_only=True)
    try:
        return store.events_after(0, types=types)
    finally:
        store.close()


async def test_a_critical_check_is_pending_then_firing_acked_and_its_runbook_opens(tmp_path):
    clock = Clock()
    data = tmp_path / "data"
    app = make_app(parse_config(config_text(tmp_path, closed_port())), data_dir=data,
                   clock=clock, alert_interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: (r := row(app)) and r["state"] == "pending", 30,
                       what="api-down pending")
        assert app.alerts.view.who() == "alerts: this console"
        assert "alerts: this console" in app.header_text(160).plain
        # the fixed host's memory (76 %) has the default warning rule pending too
        pending = sum(1 for r in app.alerts.view.rows if r["state"] == "pending")
        assert pending >= 1 and f"Health ✗1 △{pending}]" in tabs(app)
        clock.now = FIXED_NOW + timedelta(seconds=31)  # the for: has held
        await wait_for(pilot, lambda: row(app)["state"] == "firing", 30, what="firing")
        await wait_for(pilot, lambda: "Health ✗1 ▲1" in tabs(app), 10, what="the tab count")
        strip = app.main.query_one("#alerts-strip")
        assert strip.has_class("-shown")
        app.set_current_pane("health", focus=True)
        await pilot.pause()
        assert type(app.focused).__name__ == "AlertsTable"  # a firing alert takes the focus
        await pilot.press("a")
        await wait_for(pilot, lambda: row(app)["acked_by"], 30, what="the ack applied")
        acks = store_events(data, ALERT_ACK)
        assert [e.data["alert"] for e in acks] == ["api-down"]
        assert any(e.data["event"] == "acknowledged" for e in
                   store_events(data, ALERT_TRANSITION))
        clock.now = FIXED_NOW + timedelta(minutes=20)  # past the escalation: none, acked
        await wait_for(pilot, lambda: row(app)["for"] > 1000, 30, what="time to pass")
        assert row(app)["escalation"] == 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.id == "runbook-params", 30,
                       what="the runbook's parameters")
        from textual.widgets import Input

        values = [i.value for i in app.screen.query(Input)]
        assert values == ["api", "http://127.0.0.1:8000/health"]  # the alert's; the default
        assert "from the alert api-down" in str(app.screen.query_one("#param-service-source").render())


async def test_silence_from_the_console_is_what_silence_list_shows(tmp_path):
    data = tmp_path / "data"
    cfg = config_text(tmp_path, closed_port(), for_="0s")
    (tmp_path / "c.yaml").write_text(cfg)
    from datetime import UTC, datetime

    app = make_app(parse_config(cfg), data_dir=data, clock=lambda: datetime.now(UTC),
                   alert_interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: (r := row(app)) and r["state"] == "firing", 30,
                       what="firing")
        app.set_current_pane("health", focus=True)
        await pilot.pause()
        await pilot.press("S")
        await wait_for(pilot, lambda: app.screen.id == "silence-modal", 10, what="the modal")
        await pilot.press(*"2h", "tab", *"deploy\x1b[31m", "enter")
        await wait_for(pilot, lambda: row(app).get("silenced_by"), 30, what="silenced")
        assert "deploy" in row(app)["silenced_by"]
    out = subprocess.run([sys.executable, "-m", "opsconsole", "silence", "list", "--json",
                          "--config", str(tmp_path / "c.yaml"), "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=60, env=cli_env())
    (sil,) = json.loads(out.stdout)
    assert sil["reason"].startswith("deploy") and "\x1b" not in sil["reason"]
    assert sil["matchers"] == ["alertname=api-down"] or "api-down" in json.dumps(sil)


@pytest.fixture
def receiver():
    rec = Receiver()
    with serve_http(rec.handler) as srv:
        rec.url = f"http://127.0.0.1:{srv.server_address[1]}"
        yield rec
        rec.release.set()


async def test_two_consoles_one_evaluates_one_notification_the_other_shows_it(tmp_path,
                                                                            receiver):
    from datetime import UTC, datetime

    data = tmp_path / "data"
    cfg = parse_config(config_text(tmp_path, closed_port(), hook=f"{receiver.url}/hook",
                                   for_="0s"))
    real = lambda: datetime.now(UTC)  # noqa: E731
    first = make_app(cfg, data_dir=data, clock=real, alert_interval=0.2)
    second = make_app(cfg, data_dir=data, clock=real, alert_interval=0.2)
    async with first.run_test(size=(80, 24)) as p1:
        await wait_for(p1, lambda: (r := row(first)) and r["state"] == "firing", 30,
                       what="the first console firing")
        async with second.run_test(size=(80, 24)) as p2:
            await wait_for(p2, lambda: (r := row(second)) and r["state"] == "firing", 30,
                           what="the second console showing it")
            assert second.alerts.view.mode == "following"
            assert second.alerts.view.who().startswith("alerts: watch on pid ")
            assert second.alerts.core is not None and not second.alerts.core.lease.held
            await wait_for(p1, lambda: receiver.bodies("/hook"), 30, what="the webhook")
            for _ in range(5):  # both go on ticking a while
                n = second.alerts.ticks
                await wait_for(p2, lambda n=n: second.alerts.ticks > n, 30, what="a tick")
    assert [b["state"] for b in receiver.bodies("/hook")] == ["firing"]


async def test_read_only_console_displays_and_writes_nothing(tmp_path):
    data = tmp_path / "data"
    cfg = parse_config(config_text(tmp_path, closed_port(), for_="0s"))
    from datetime import UTC, datetime

    writer = make_app(cfg, data_dir=data, clock=lambda: datetime.now(UTC), alert_interval=0.2)
    async with writer.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: (r := row(writer)) and r["state"] == "firing", 30,
                       what="firing")
    db = data / DB_NAME
    before = db.read_bytes()
    ro = make_app(cfg, data_dir=data, read_only=True, alert_interval=0.2)
    async with ro.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: (r := row(ro)) and r["state"] == "firing", 30,
                       what="the read-only console showing the recorded alert")
        assert ro.alerts.core is None
        assert ro.alerts.view.mode == "stale"  # its evaluator quit; nobody evaluates
        ro.set_current_pane("health", focus=True)
        await pilot.pause()
        await pilot.press("a", "S")
        await pilot.pause()
        assert ro.screen.id != "silence-modal"
    assert db.read_bytes() == before


async def test_an_ack_from_the_console_stops_a_running_watch_escalating(tmp_path, receiver):
    """``opsconsole watch`` in another process evaluates; the console follows, and its ``a``
    is applied by the watch: the alert is acknowledged there and its escalation level is
    never reached (nor notified)."""
    from datetime import UTC, datetime

    from test_watch import Watch

    data = tmp_path / "data"
    text = config_text(tmp_path, closed_port(), hook=f"{receiver.url}/hook", for_="0s")
    text = text.replace("{after: 10m, notify: []}", "{after: 15s, notify: [oncall]}")
    (tmp_path / "c.yaml").write_text(text)
    watch = Watch(str(tmp_path / "c.yaml"), str(data))
    try:
        from eventually import eventually_sync

        eventually_sync(lambda: watch.saw("api-down: inactive → firing"), 60,
                        what="the watch firing", last=lambda: watch.lines)
        app = make_app(parse_config(text), data_dir=data, clock=lambda: datetime.now(UTC),
                       alert_interval=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: (r := row(app)) and r["state"] == "firing", 30,
                           what="the console showing the watch's alert")
            assert app.alerts.view.mode == "following"
            assert f"pid {watch.p.pid}" in app.alerts.view.who()
            app.set_current_pane("health", focus=True)
            await pilot.pause()
            await pilot.press("a")
            await wait_for(pilot, lambda: row(app)["acked_by"], 30,
                           what="the watch applying the ack (recorded state)")
        assert watch.saw("api-down: firing → firing (acknowledged)")
        acked = next(e for e in store_events(data, ALERT_TRANSITION)
                     if e.data["event"] == "acknowledged")
        fired = acked.data["since"]

        # the watch records its state only on a change: wait on its lease renewals (one a
        # tick) past the time the escalation level was due
        from opsconsole.incidents.lease import Lease

        lease = Lease(data / DB_NAME)
        eventually_sync(lambda: lease.current().renewed_at > fired + 16, 60,
                        what="the watch evaluating past the escalation time",
                        last=lambda: watch.lines)
        assert watch.p.poll() is None
        assert not any("escalated" in line for line in watch.lines), watch.lines
        assert [b["state"] for b in receiver.bodies("/hook")] == ["firing"]
    finally:
        watch.stop()
