"""Alert notifications delivered to real receivers: an HTTP server on 127.0.0.1, a real
Alertmanager, real subprocesses for the command target."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import psutil
import pytest

from amserver import available, get_json, run_alertmanager
from eventually import eventually
from opsconsole.alerts.notify import Notification, Notifier, make_dedup_key
from opsconsole.alerts.notify_config import load_notify_targets
from opsconsole.secrets import MASK
from servers import serve_http

T0 = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


def note(state="firing", *, alert="api-down", labels=None, at=T0, level=0, summary=None,
         **kw) -> Notification:
    labels = {"check": "api", "service": "api"} if labels is None else labels
    return Notification(alert=alert, state=state, severity=kw.pop("severity", "critical"),
                        summary=summary or f"check api is {state}", at=at,
                        dedup_key=make_dedup_key(alert, labels, T0), value=kw.pop("value", 2.0),
                        labels=labels, host="db1", level=level, runbook="service-down",
                        starts_at=T0, ends_at=at if state == "resolved" else None, **kw)


class Receiver:
    """A webhook receiver: records every request; ``plan`` says how to answer the next ones
    (``"ok"``, ``"500"``, ``"hang"``: hold the request until ``release`` is set)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.plan: list[str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with rec.lock:
                    rec.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": json.loads(body)})
                    action = rec.plan.pop(0) if rec.plan else "ok"
                if action == "hang":
                    rec.release.wait(10)
                    return
                if action == "500":
                    # a hostile/ chatty server echoing what it got, secrets included
                    echo = f"boom path={self.path} auth={self.headers.get('Authorization')}"
                    data = echo.encode()
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.handler = H

    def bodies(self, path: str | None = None) -> list[dict]:
        with self.lock:
            return [r["body"] for r in self.requests if path is None or r["path"] == path]


@pytest.fixture
def receiver():
    rec = Receiver()
    with serve_http(rec.handler) as srv:
        rec.url = f"http://127.0.0.1:{srv.server_address[1]}"
        yield rec
        rec.release.set()


def targets(yaml_text: str):
    return load_notify_targets(yaml_text)


async def test_webhook_gets_one_post_per_transition_with_the_documented_fields(receiver):
    n = Notifier(targets(f'- {{name: oncall, kind: webhook, url: "{receiver.url}/hook"}}'))
    n.send(note("firing"), ["oncall"])
    await eventually(lambda: len(receiver.bodies()) == 1, what="the firing POST")
    n.send(note("resolved", at=T0 + timedelta(minutes=3)), ["oncall"])
    await eventually(lambda: len(receiver.bodies()) == 2, what="the resolved POST")
    await n.drain(5)
    fired, resolved = receiver.bodies("/hook")
    for body, state in ((fired, "firing"), (resolved, "resolved")):
        assert {"alert", "state", "severity", "value", "summary", "host", "at"} <= set(body)
        assert body["alert"] == "api-down" and body["state"] == state
        assert body["severity"] == "critical" and body["value"] == 2.0 and body["host"] == "db1"
        assert body["summary"] == f"check api is {state}"
        assert datetime.fromisoformat(body["at"]).tzinfo is not None
        assert body["labels"] == {"check": "api", "service": "api"}
        assert body["runbook"] == "service-down"
    assert datetime.fromisoformat(resolved["at"]) == T0 + timedelta(minutes=3)
    assert fired["dedup_key"] == resolved["dedup_key"]
    assert [d.ok for d in n.deliveries] == [True, True]
    assert n.deliveries[0].sentence() == "notified oncall (webhook) of api-down firing"
    await n.aclose()


async def test_the_same_notification_twice_is_one_post(receiver):
    n = Notifier(targets(f'- {{name: oncall, kind: webhook, url: "{receiver.url}/hook"}}'))
    first = n.send(note("firing"))
    again = n.send(note("firing"))  # the next evaluation, same transition
    later = note("firing", at=T0 + timedelta(seconds=30))  # re-built by a later evaluation
    await n.drain(5)
    third = n.send(later)
    await n.drain(5)
    assert len(first) == 1 and again == [] and third == []
    assert len(receiver.bodies()) == 1
    # a new level (escalation) of the same episode is a new notification
    assert len(n.send(note("escalated", level=1))) == 1
    await n.drain(5)
    assert [b["state"] for b in receiver.bodies()] == ["firing", "escalated"]
    await n.aclose()


async def test_an_evaluator_thread_can_hand_notifications_over(receiver):
    n = Notifier(targets(f'- {{name: oncall, kind: webhook, url: "{receiver.url}/hook"}}'))
    loop = asyncio.get_running_loop()
    counts = await asyncio.to_thread(
        lambda: [n.send_from_thread(loop, note(s)).result(5) for s in ("firing", "firing")])
    assert counts == [1, 0]  # the second is the same transition
    await eventually(lambda: len(receiver.bodies()) == 1, what="the POST")
    await n.drain(5)
    assert len(receiver.bodies()) == 1
    await n.aclose()


async def test_retry_after_a_500_delivers_once(receiver):
    receiver.plan = ["500"]
    n = Notifier(targets(f'- {{name: oncall, kind: webhook, url: "{receiver.url}/hook", '
                         f'backoff: 10ms}}'))
    n.send(note())
    await n.drain(10)
    assert len(receiver.bodies()) == 2  # the failed one and the retry, the same body
    assert receiver.bodies()[0] == receiver.bodies()[1]
    (d,) = n.deliveries
    assert d.ok and d.attempts == 2 and d.status == 200
    assert d.tried == ("HTTP 500 Internal Server Error: boom path=•••• auth=None",)
    await n.aclose()


async def test_resolved_never_overtakes_a_firing_still_being_retried(receiver):
    # the firing POST fails once and is retried after a backoff; the resolved sent during
    # that backoff must wait for it, or the receiver would end with the alert firing
    receiver.plan = ["500"]
    n = Notifier(targets(f'- {{name: oncall, kind: webhook, url: "{receiver.url}/hook", '
                         f'backoff: 300ms, max_backoff: 300ms}}'))
    n.send(note("firing"))
    await eventually(lambda: len(receiver.bodies()) == 1, what="the failing first POST")
    n.send(note("resolved"))
    await n.drain(10)
    assert [b["state"] for b in receiver.bodies()] == ["firing", "firing", "resolved"]
    assert [(d.state, d.ok) for d in n.deliveries] == [("firing", True), ("resolved", True)]
    await n.aclose()


async def test_a_hanging_receiver_times_out_and_the_retry_delivers(receiver):
    receiver.plan = ["hang"]
    n = Notifier(targets(f'- {{name: oncall, kind: webhook, url: "{receiver.url}/hook", '
                         f'timeout: 300ms, backoff: 10ms}}'))
    n.send(note())
    await n.drain(10)
    (d,) = n.deliveries
    assert d.ok and d.attempts == 2 and d.tried == ("timed out after 0.3s",)
    assert len(receiver.bodies()) == 2 and receiver.bodies()[0] == receiver.bodies()[1]
    await n.aclose()


async def test_send_returns_at_once_and_a_hung_target_does_not_hold_up_the_others(receiver):
    receiver.plan = ["hang"]
    other = Receiver()
    with serve_http(other.handler) as srv:
        url2 = f"http://127.0.0.1:{srv.server_address[1]}"
        n = Notifier(targets(f'- {{name: slow, kind: webhook, url: "{receiver.url}/a", '
                             f'timeout: 5s, retries: 0}}\n'
                             f'- {{name: fast, kind: webhook, url: "{url2}/b"}}'))
        tasks = n.send(note())
        assert len(tasks) == 2 and not any(t.done() for t in tasks)  # nothing awaited yet
        await eventually(lambda: other.bodies(), what="the fast target's POST")
        await eventually(lambda: receiver.bodies(), what="the slow target's POST, held")
        assert not tasks[0].done()  # still held by the hanging receiver
        receiver.release.set()
        await n.drain(10)
        await n.aclose()


SECRET_PATH = "T0KEN-s3cret-abcdef0123"


async def test_a_failing_target_never_leaks_its_secrets(receiver, caplog, monkeypatch):
    monkeypatch.setenv("HOOK_AUTH", "Bearer sekrit-bearer-value-42")
    receiver.plan = ["500", "500"]
    ts = targets(f'- {{name: oncall, kind: webhook, url: "{receiver.url}/hook/{SECRET_PATH}'
                 f'?token=qtok-98765", retries: 1, backoff: 10ms, '
                 f'headers: {{Authorization: {{env: HOOK_AUTH}}, X-Api-Key: inline-key-777}}}}\n'
                 f'- {{name: dead, kind: slack, url: "http://127.0.0.1:9/services/T1/B2/'
                 f'{SECRET_PATH}", retries: 0}}')
    caplog.set_level(logging.DEBUG)
    n = Notifier(ts)
    n.send(note())
    await n.drain(10)
    await n.aclose()
    assert receiver.requests[0]["headers"]["Authorization"] == "Bearer sekrit-bearer-value-42"
    assert receiver.requests[0]["headers"]["X-Api-Key"] == "inline-key-777"
    assert len(n.deliveries) == 2 and not any(d.ok for d in n.deliveries)
    failed = next(d for d in n.deliveries if d.target == "oncall")
    assert failed.status == 500 and "boom" in failed.error and MASK in failed.error
    shown = json.dumps([d.to_dict() for d in n.deliveries]) + " ".join(
        d.sentence() for d in n.deliveries) + caplog.text + repr(ts)
    for secret in (SECRET_PATH, "qtok-98765", "sekrit-bearer-value-42", "inline-key-777"):
        assert secret not in shown
    assert f"{receiver.url}/{MASK}" in shown  # where it went, without the secret part


async def test_a_missing_env_secret_is_a_failed_delivery_not_a_crash(receiver):
    ts = targets(f'- {{name: pd, kind: pagerduty, url: "{receiver.url}/enqueue", '
                 f'routing_key: {{env: OPSCONSOLE_TEST_NO_SUCH_VAR}}}}')
    n = Notifier(ts, env={})
    n.send(note())
    await n.drain(5)
    (d,) = n.deliveries
    assert not d.ok and d.attempts == 1
    assert d.error == "environment variable OPSCONSOLE_TEST_NO_SUCH_VAR is not set"
    assert receiver.bodies() == []
    await n.aclose()


async def test_a_bad_url_read_from_the_environment_is_a_failed_delivery():
    ts = targets('- {name: hook, kind: webhook, url: {env: HOOK_URL}}')
    n = Notifier(ts, env={"HOOK_URL": "http://[not-a-host/s3cr3t-path-value"})
    n.send(note())
    await n.drain(5)
    (d,) = n.deliveries
    assert not d.ok and d.attempts == 1
    assert d.error == "the URL from $HOOK_URL: expected an http:// or https:// URL with a host"
    assert "s3cr3t-path-value" not in json.dumps(d.to_dict())
    await n.aclose()


async def test_pagerduty_events_v2_shape_with_a_routing_key_from_a_file(receiver, tmp_path):
    key = tmp_path / "pd.key"
    key.write_text("R0UTINGKEY0123456789abcdef\n")
    n = Notifier(targets(f'- {{name: pd, kind: pagerduty, url: "{receiver.url}/v2/enqueue", '
                         f'routing_key: {{file: "{key}"}}}}'))
    n.send(note("firing"))
    n.send(note("acknowledged"))
    await n.drain(5)
    n.send(note("resolved", at=T0 + timedelta(minutes=5)))
    await n.drain(5)
    bodies = receiver.bodies("/v2/enqueue")
    by_action = {b["event_action"]: b for b in bodies}
    assert set(by_action) == {"trigger", "acknowledge", "resolve"}
    assert {b["routing_key"] for b in bodies} == {"R0UTINGKEY0123456789abcdef"}
    assert len({b["dedup_key"] for b in bodies}) == 1
    p = by_action["trigger"]["payload"]
    assert p["summary"] == "check api is firing" and p["source"] == "db1"
    assert p["severity"] == "critical" and p["custom_details"]["labels"]["check"] == "api"
    assert "R0UTINGKEY" not in json.dumps([d.to_dict() for d in n.deliveries])
    await n.aclose()


async def test_slack_text_cannot_mention_link_or_write_escapes(receiver):
    hostile = "\x1b]52;c;cm0gLXJmIC8K\x07 <!channel> <http://evil|click> & \x9b2J"
    n = Notifier(targets(f'- {{name: chat, kind: slack, url: "{receiver.url}/services/x"}}'))
    n.send(note(summary=hostile, labels={"check": "<!here>"}))
    await n.drain(5)
    (body,) = receiver.bodies()
    text = json.dumps(body, ensure_ascii=False)
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert "<!channel>" not in text and "<!here>" not in text and "<http" not in text
    assert "&lt;!channel&gt;" in body["text"] and "&amp;" in body["text"]
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"
    await n.aclose()


SCRIPT = """
import json, os, sys
data = sys.stdin.read()
env = {k: v for k, v in os.environ.items() if k.startswith("OPSCONSOLE_ALERT_")}
env["HAS_CONSOLE_ENV"] = "OPSCONSOLE_TEST_LEAK" in os.environ
env["EXTRA"] = os.environ.get("EXTRA")
with open(sys.argv[1], "w") as f:
    json.dump({"stdin": json.loads(data), "env": env}, f)
"""


async def test_command_target_gets_the_json_on_stdin_and_alert_env(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_TEST_LEAK", "console-only")
    script = tmp_path / "hook.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out.json"
    ts = targets(f'- {{name: cmd, kind: command, command: ["{sys.executable}", "{script}", '
                 f'"{out}"], env: {{EXTRA: extra-value}}}}')
    n = Notifier(ts)
    n.send(note(summary="disk \x1b[2Jfull\r\nnow", value="95 %"))
    await n.drain(10)
    (d,) = n.deliveries
    assert d.ok, d.error
    got = json.loads(out.read_text())
    assert got["stdin"]["alert"] == "api-down" and got["stdin"]["state"] == "firing"
    assert got["stdin"]["labels"] == {"check": "api", "service": "api"}
    assert "\x1b" not in got["stdin"]["summary"] and "\r" not in got["stdin"]["summary"]
    env = got["env"]
    assert env["OPSCONSOLE_ALERT_NAME"] == "api-down"
    assert env["OPSCONSOLE_ALERT_STATE"] == "firing"
    assert env["OPSCONSOLE_ALERT_SEVERITY"] == "critical"
    assert env["OPSCONSOLE_ALERT_VALUE"] == "95 %"
    assert "\x1b" not in env["OPSCONSOLE_ALERT_SUMMARY"]
    assert "\n" not in env["OPSCONSOLE_ALERT_SUMMARY"]
    assert json.loads(env["OPSCONSOLE_ALERT_LABELS"]) == {"check": "api", "service": "api"}
    assert env["HAS_CONSOLE_ENV"] is False and env["EXTRA"] == "extra-value"
    await n.aclose()


async def test_a_hanging_command_is_killed_with_its_group_at_the_timeout(tmp_path):
    pidfile = tmp_path / "child.pid"
    ts = targets(f'- {{name: cmd, kind: command, timeout: 500ms, retries: 0, command: '
                 f'["/bin/sh", "-c", "sleep 60 & echo $! > {pidfile}; echo started; wait"]}}')
    n = Notifier(ts)
    n.send(note())
    await n.drain(10)
    (d,) = n.deliveries
    assert not d.ok and d.error.startswith("killed after 0.5s timeout")
    assert "started" in d.error
    child = int(pidfile.read_text())

    def gone():
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    await eventually(gone, what="the background child killed")
    await n.aclose()


async def test_a_failing_command_is_retried_and_its_output_recorded(tmp_path):
    ts = targets('- {name: cmd, kind: command, retries: 1, backoff: 10ms, command: '
                 '["/bin/sh", "-c", "echo no route to pager >&2; exit 3"]}')
    n = Notifier(ts)
    n.send(note())
    await n.drain(10)
    (d,) = n.deliveries
    assert not d.ok and d.attempts == 2 and d.status == 3
    assert d.error == "exit 3: no route to pager"
    await n.aclose()


# --------------------------------------------------------------------------- Alertmanager

needs_am = pytest.mark.skipif(not available(), reason="prometheus-alertmanager is not "
                              "installed (/usr/bin/prometheus-alertmanager; scripts/test "
                              "installs it)")


@pytest.fixture
def am_with_hook(tmp_path):
    rec = Receiver()
    with serve_http(rec.handler) as srv:
        hook = f"http://127.0.0.1:{srv.server_address[1]}/am"
        with run_alertmanager(tmp_path / "am", webhook_url=hook) as base:
            yield base, rec


@needs_am
async def test_alertmanager_receives_the_pushed_alert_and_its_resolution(am_with_hook):
    base, hook = am_with_hook
    n = Notifier(targets(f'- {{name: am, kind: alertmanager, url: "{base}", '
                         f'generator_url: "http://db1/alerts"}}'))
    now = datetime.now(UTC).replace(microsecond=0)
    fired = Notification(alert="api-down", state="firing", severity="critical",
                         summary="check api is CRITICAL", description="HTTP 503 for 30s",
                         at=now, dedup_key="k1", labels={"check": "api"}, host="db1",
                         runbook="service-down", starts_at=now, value=503)
    n.send(fired)
    await n.drain(10)
    assert n.deliveries[-1].ok, n.deliveries[-1].error

    def ours():
        alerts = get_json(f"{base}/api/v2/alerts")
        return [a for a in alerts if a["labels"].get("alertname") == "api-down"]

    (alert,) = await eventually(ours, what="the alert in Alertmanager")
    assert alert["labels"] == {"alertname": "api-down", "check": "api",
                               "severity": "critical", "host": "db1"}
    assert alert["annotations"]["summary"] == "check api is CRITICAL"
    assert alert["annotations"]["description"] == "HTTP 503 for 30s"
    assert alert["annotations"]["runbook"] == "service-down"
    assert alert["generatorURL"] == "http://db1/alerts"
    assert datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00")) == now
    assert alert["status"]["state"] == "active"
    firing_hook = await eventually(
        lambda: [b for b in hook.bodies("/am") if b["status"] == "firing"],
        what="Alertmanager's own webhook for the firing alert")
    assert firing_hook[0]["alerts"][0]["labels"]["check"] == "api"

    ended = now + timedelta(seconds=1)
    n.send(Notification(alert="api-down", state="resolved", severity="critical",
                        summary="check api is OK", at=ended, dedup_key="k1",
                        labels={"check": "api"}, host="db1", runbook="service-down",
                        starts_at=now, ends_at=ended))
    await n.drain(10)
    assert n.deliveries[-1].ok, n.deliveries[-1].error
    resolved = await eventually(
        lambda: [b for b in hook.bodies("/am") if b["status"] == "resolved"], timeout=15,
        what="Alertmanager's webhook for the resolved alert")
    a = resolved[0]["alerts"][0]
    assert a["labels"]["alertname"] == "api-down"
    assert datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")) == ended
    # and Alertmanager no longer lists it as active
    await eventually(lambda: not [x for x in ours() if x["status"]["state"] == "active"
                                  and x["endsAt"] > datetime.now(UTC).isoformat()],
                     what="the alert no longer active")
    await n.aclose()



# --------------------------------------------------------------------------- TLS

@pytest.fixture
def tls_receiver(tmp_path):
    import ssl

    from test_checks import make_cert  # the same self-signed certificates the http checks use

    crt, key = make_cert(tmp_path, 30.0, "hook")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    rec = Receiver()
    with serve_http(rec.handler) as srv:
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        rec.url = f"https://127.0.0.1:{srv.server_address[1]}"
        rec.crt = crt
        yield rec
        rec.release.set()


async def test_tls_is_verified_unless_told_otherwise(tls_receiver):
    url = f"{tls_receiver.url}/hook"
    n = Notifier(targets(f'- {{name: strict, kind: webhook, url: "{url}", retries: 0}}\n'
                         f'- {{name: ca, kind: webhook, url: "{url}", ca_file: "{tls_receiver.crt}"}}\n'
                         f'- {{name: lax, kind: webhook, url: "{url}", verify_tls: false}}'))
    n.send(note())
    await n.drain(10)
    by = {d.target: d for d in n.deliveries}
    assert not by["strict"].ok and "CERTIFICATE_VERIFY_FAILED" in by["strict"].error
    assert by["ca"].ok, by["ca"].error
    assert by["lax"].ok, by["lax"].error
    assert len(tls_receiver.bodies()) == 2
    await n.aclose()
