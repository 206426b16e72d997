"""From decision to record: the seed api-down rule's transitions become notifications a real
webhook receiver gets (one episode, one dedup key) and events in a real SQLite store, told
as sentences on the timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from test_alerts_notify import Receiver

from alertseeds import EXAMPLE
from eventually import eventually
from hostdata import fixed_snapshot
from opsconsole.alerts.notify import Notifier
from opsconsole.alerts.notify_config import load_notify_targets
from opsconsole.alerts.record import delivery_event, notification_for, transition_event
from opsconsole.alerts.rules import Evaluator
from opsconsole.alerts.signals import SignalSet
from opsconsole.checks.engine import CheckResult
from opsconsole.checks.tracker import CheckTracker
from opsconsole.config import parse_config
from opsconsole.incidents.describe import describe
from opsconsole.incidents.store import SQLiteStore
from servers import serve_http

T0 = 1_780_000_000.0


@pytest.fixture
def receiver():
    rec = Receiver()
    with serve_http(rec.handler) as srv:
        rec.url = f"http://127.0.0.1:{srv.server_address[1]}"
        yield rec
        rec.release.set()


async def test_api_down_is_told_once_per_transition_and_recorded(receiver, tmp_path):
    clock = [T0]
    ev = Evaluator([r for r in parse_config(EXAMPLE).alerts if r.name == "api-down"],
                   lambda: clock[0])
    tracker = CheckTracker()
    hook = load_notify_targets(f'- {{name: oncall, kind: webhook, url: "{receiver.url}/h"}}\n'
                               f'- {{name: am, kind: webhook, url: "{receiver.url}/am"}}')
    store = SQLiteStore(tmp_path / "incidents.db")
    recorded: list = []
    notifier = Notifier(hook, on_delivery=lambda d: recorded.append(delivery_event(d)))

    def tick(state: str, advance: float) -> None:
        clock[0] += advance
        at = datetime.fromtimestamp(clock[0], UTC)
        tracker.update(CheckResult("api", state, f"api is {state}", 0.05, checked_at=at,
                                   kind="http"))
        sigs = SignalSet(host=fixed_snapshot(cpu=5.0),
                         checks={s.name: s for s in tracker.statuses()})
        for t in ev.evaluate(sigs):
            store.append(*transition_event(t))
            n = notification_for(t, host="ops-01")
            if n is not None and t.notify:
                notifier.send(n, list(t.notify))

    tick("OK", 0)
    tick("CRITICAL", 10)   # pending
    tick("CRITICAL", 15)   # still pending (25 s)
    tick("CRITICAL", 10)   # 35 s: firing
    tick("CRITICAL", 10)   # still firing: nothing new
    tick("OK", 60)         # resolved
    await eventually(lambda: len(receiver.bodies()) == 4, what="firing + resolved, 2 targets")
    await notifier.drain(5)
    await notifier.aclose()
    for path in ("/h", "/am"):
        fired, resolved = receiver.bodies(path)
        assert (fired["state"], resolved["state"]) == ("firing", "resolved")
        assert fired["dedup_key"] == resolved["dedup_key"]  # one episode
        assert fired["host"] == "ops-01" and fired["severity"] == "critical"
        assert fired["labels"]["alertname"] == "api-down" and fired["runbook"] == "service-down"
    for type_, data in recorded:
        store.append(type_, data)
    lines = [describe(e) for e in store.events(None)]
    store.close()
    assert lines[0].startswith("Alert api-down (critical) is pending: value CRITICAL")
    assert lines[1].startswith("Alert api-down (critical) is FIRING: value CRITICAL")
    assert "runbook service-down" in lines[1]
    assert lines[2].startswith("Alert api-down (critical) resolved") and "after 1m" in lines[2]
    told = sorted(lines[3:])
    assert told == ["Notified am (webhook) of api-down firing",
                    "Notified am (webhook) of api-down resolved",
                    "Notified oncall (webhook) of api-down firing",
                    "Notified oncall (webhook) of api-down resolved"]
