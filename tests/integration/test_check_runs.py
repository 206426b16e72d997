"""`opsconsole check` from cron or as a Nagios plugin honours failures_before_critical across
runs: a real TCP check against a closed port is WARNING "failure 1/3", then 2/3, then
CRITICAL; a run that succeeds resets the count; --read-only runs remember nothing."""

from __future__ import annotations

import json
import socket


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_failures_before_critical_counts_across_runs(run_cli, tmp_path):
    port = closed_port()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"checks:\n  - {{name: db, kind: tcp, address: \"127.0.0.1:{port}\", "
                   f"timeout: 1s, failures_before_critical: 3}}\n")
    state = tmp_path / "cli-data" / "check-state" / "runs.json"

    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "failure 1/3" in p.stdout
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 1 and "failure 2/3" in p.stdout, p.stdout
    p = run_cli("check", "--config", str(cfg), "--json")
    assert p.returncode == 2, p.stdout
    got = json.loads(p.stdout)
    assert got["state"] == "CRITICAL" and got["checks"][0]["state"] == "CRITICAL"
    assert got["checks"][0]["since"]

    before = state.read_bytes()
    p = run_cli("--read-only", "check", "--config", str(cfg))
    assert p.returncode == 2 and "read-only: this run is not remembered" in p.stdout, p.stdout
    assert state.read_bytes() == before  # nothing written

    with socket.socket() as srv:  # the service is back: OK, and the count starts again
        srv.bind(("127.0.0.1", port))
        srv.listen()
        p = run_cli("check", "--config", str(cfg))
        assert p.returncode == 0, p.stdout
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 1 and "failure 1/3" in p.stdout, p.stdout


def test_a_damaged_memory_is_an_empty_one(run_cli, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"checks:\n  - {{name: db, kind: tcp, address: \"127.0.0.1:{closed_port()}\", "
                   f"timeout: 1s, failures_before_critical: 2}}\n")
    state = tmp_path / "cli-data" / "check-state" / "runs.json"
    state.parent.mkdir(parents=True, mode=0o700)
    state.write_text("{not json")
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 1 and "failure 1/2" in p.stdout, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    assert json.loads(state.read_text())["db"]["failures"] == 1


def test_a_hand_edited_memory_never_gives_a_traceback(run_cli, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"checks:\n  - {{name: db, kind: tcp, address: \"127.0.0.1:{closed_port()}\", "
                   f"timeout: 1s, failures_before_critical: 1}}\n")
    state = tmp_path / "cli-data" / "check-state" / "runs.json"
    state.parent.mkdir(parents=True, mode=0o700)
    for text in ('{"db": {"state": "CRITICAL", "failures": "x", "since": "2026-01-01T00:00:00"}}',
                 "[" * 100_000 + "]" * 100_000):  # a naive timestamp; nesting too deep
        state.write_text(text)
        p = run_cli("check", "--config", str(cfg))
        assert p.returncode == 2, p.stdout + p.stderr
        assert "Traceback" not in p.stderr and "CRITICAL" in p.stdout
