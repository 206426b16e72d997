"""``opsconsole watch``: the headless evaluator, as real processes against a real webhook
receiver and a real store — one evaluator per store, a SIGKILLed one replaced without a
duplicate notification, silences honoured; ``opsconsole alerts`` and ``silence`` read it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_alerts_notify import Receiver

from conftest import cli_env
from eventually import eventually_sync
from opsconsole.incidents.lease import Lease
from opsconsole.incidents.store import DB_NAME
from servers import serve_http


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused, CRITICAL
    return port


@pytest.fixture
def receiver():
    rec = Receiver()
    with serve_http(rec.handler) as srv:
        rec.url = f"http://127.0.0.1:{srv.server_address[1]}"
        yield rec
        rec.release.set()


def config(tmp_path, receiver, port: int) -> str:
    p = tmp_path / "config.yaml"
    p.write_text(f"""\
checks:
  - {{name: api, kind: tcp, address: "127.0.0.1:{port}", interval: 1s, timeout: 1s}}
notify:
  - {{name: oncall, kind: webhook, url: "{receiver.url}/hook", timeout: 2s}}
alerts:
  - name: api-down
    expr: check.api.state == CRITICAL
    for: 2s
    severity: critical
    notify: [oncall]
    runbook: service-down
""")
    return str(p)


class Watch:
    """One ``opsconsole watch`` process; its output lines collected in a thread."""

    def __init__(self, cfg: str, data: str) -> None:
        self.lines: list[str] = []
        self.p = subprocess.Popen(
            [sys.executable, "-m", "opsconsole", "watch", "--config", cfg, "--data-dir", data,
             "--interval", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=cli_env())
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsconsole", *args], capture_output=True,
                          text=True, timeout=60, env=cli_env())


def test_one_evaluator_a_killed_one_is_replaced_without_a_second_notification(tmp_path,
                                                                              receiver):
    cfg, data = config(tmp_path, receiver, closed_port()), str(tmp_path / "data")
    first = Watch(cfg, data)
    second = None
    try:
        eventually_sync(lambda: first.saw("lease taken"), 30, what="the first to evaluate",
                        last=lambda: first.lines)
        second = Watch(cfg, data)
        eventually_sync(lambda: second.saw("standing by: the evaluator is pid "
                                           f"{first.p.pid}"), 30, what="the second to wait",
                        last=lambda: second.lines)
        eventually_sync(lambda: [b for b in receiver.bodies("/hook") if b["state"] == "firing"],
                        30, what="the firing notification", last=lambda: first.lines)
        fired = receiver.bodies("/hook")[0]
        assert (fired["alert"], fired["severity"], fired["runbook"]) == (
            "api-down", "critical", "service-down")
        # the evaluator dies without a word; the other one takes over once its lease ends
        first.p.send_signal(signal.SIGKILL)
        first.p.wait(10)
        eventually_sync(lambda: second.saw("lease taken"), 60, what="the takeover",
                        last=lambda: second.lines)
        took = next(line for line in second.lines if "lease taken" in line)
        assert "; 0 alert state" not in took, took  # api-down's firing, at least, resumed
        # it keeps evaluating a while: still firing, and nobody is told twice
        lease = Lease(Path(data) / DB_NAME)
        since = lease.current().renewed_at
        eventually_sync(lambda: lease.current().renewed_at > since + 1.5, 20,
                        what="the new evaluator to go on evaluating (renewing its lease)",
                        last=lambda: second.lines)
        assert second.p.poll() is None
        rows = json.loads(cli("alerts", "--config", cfg, "--data-dir", data, "--json").stdout)
        assert [(r["name"], r["state"]) for r in rows if r["name"] == "api-down"] == [
            ("api-down", "firing")]
        assert [b["state"] for b in receiver.bodies("/hook")] == ["firing"]
        assert not any("api-down: pending → firing" in line for line in second.lines)
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_silenced_alert_is_recorded_and_shown_but_not_notified(tmp_path, receiver):
    cfg, data = config(tmp_path, receiver, closed_port()), str(tmp_path / "data")
    added = cli("silence", "add", "--config", cfg, "--data-dir", data, "--match", "check=api",
                "--for", "1h", "--reason", "deploy in progress")
    assert added.returncode == 0, added.stderr
    sid = added.stdout.strip()
    listed = cli("silence", "list", "--config", cfg, "--data-dir", data)
    assert sid in listed.stdout and "deploy in progress" in listed.stdout
    w = Watch(cfg, data)
    try:
        eventually_sync(lambda: w.saw("api-down: pending → firing"), 30, what="firing",
                        last=lambda: w.lines)
        assert any("silenced: check=" in line for line in w.lines if "→ firing" in line)
        rows = json.loads(cli("alerts", "--config", cfg, "--data-dir", data, "--json").stdout)
        (row,) = [r for r in rows if r["name"] == "api-down"]
        assert row["state"] == "silenced" and "deploy in progress" in row["silenced_by"]
    finally:
        w.stop()
    assert receiver.bodies() == []
    shown = cli("incident", "list", "--config", cfg, "--data-dir", data)
    assert shown.returncode == 0
    expired = cli("silence", "expire", "--config", cfg, "--data-dir", data, sid)
    assert expired.returncode == 0 and f"expired {sid}" in expired.stdout
    again = cli("silence", "expire", "--config", cfg, "--data-dir", data, sid)
    assert again.returncode == 2 and "already expired" in again.stderr


def test_bad_silences_and_read_only_watch_are_refused_clearly(tmp_path, receiver):
    cfg, data = config(tmp_path, receiver, closed_port()), str(tmp_path / "data")
    bad = cli("silence", "add", "--config", cfg, "--data-dir", data, "--match", "check",
              "--for", "1h", "--reason", "x")
    assert bad.returncode == 2 and "expected a matcher like check=api" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = cli("silence", "add", "--config", cfg, "--data-dir", data, "--match", "check=api",
              "--for", "soon", "--reason", "x")
    assert bad.returncode == 2 and "--for 'soon'" in bad.stderr
    ro = cli("--read-only", "watch", "--config", cfg, "--data-dir", data)
    assert ro.returncode == 2 and "writes nothing" in ro.stderr


def test_alerts_test_replays_history_the_seed_cpu_rule_does_not_flap(tmp_path):
    from alertseeds import EXAMPLE

    cfg = tmp_path / "c.yaml"
    cfg.write_text(EXAMPLE)
    hist = tmp_path / "h.jsonl"
    lines = []
    # 10 minutes at 85 %, then 10 minutes wobbling around 80 (never under the 70 clear level),
    # then 10 minutes at 50: one firing, one resolution — no flapping on the threshold
    for i in range(90):
        cpu = 85 if i < 30 else (79 if i % 2 else 81) if i < 60 else 50
        lines.append(json.dumps({"at": 1_780_000_000 + 20 * i, "values": {"host.cpu": cpu}}))
    hist.write_text("# recorded by hand\n" + "\n".join(lines) + "\n")
    out = cli("alerts", "test", str(hist), "--config", str(cfg))
    assert out.returncode == 0, out.stderr
    cpu = [line for line in out.stdout.splitlines() if "high-cpu:" in line]
    # (escalation level 1 is "after: 0m": reached as it fires)
    assert [line.split("(")[1].split(")")[0] for line in cpu] == [
        "pending", "firing", "escalated", "resolved"], out.stdout
    assert cpu[1].startswith("2026-05-28 20:31:40Z")  # for: 5m after the first sample
    assert "would have fired 1 time" in out.stdout
    as_json = json.loads(cli("alerts", "test", str(hist), "--config", str(cfg), "--json").stdout)
    assert [t["event"] for t in as_json if t["rule"] == "high-cpu"] == [
        "pending", "firing", "escalated", "resolved"]
    hist.write_text('{"at": 1, "values": {"host.cpu": 5}}\n{"at": "yesterday", "values": {}}\n')
    bad = cli("alerts", "test", str(hist), "--config", str(cfg))
    assert bad.returncode == 2 and f"{hist}:2: \"at\" must be epoch seconds or ISO 8601" in \
        bad.stderr and "Traceback" not in bad.stderr
