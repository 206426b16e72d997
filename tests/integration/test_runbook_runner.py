"""The runner against real subprocesses, a real PostgreSQL and a real HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import asyncpg
import psutil
import pytest

from opsconsole.config import AppConfig, parse_config
from opsconsole.incidents.sink import JournalSink, MemorySink
from opsconsole.runbooks.model import load_yaml_runbook
from opsconsole.runbooks.output import LIVE_LINES
from opsconsole.runbooks.params import ParamError, resolve_params
from opsconsole.runbooks.session import RunbookSession, SessionOptions
from opsconsole.secrets import MASK
from servers import serve_http

NASTY = "a b; rm -rf / $(touch /tmp/pwned-opsconsole) `id` 'q' \"dq\" \\ \n second line $HOME *"
ARGV = f"{sys.executable} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"


def runbook(text: str, tmp_path: Path | None = None):
    return load_yaml_runbook(Path("test.yaml"), text)


def session(rb, values=None, *, config=None, data_dir, sink=None, **kw):
    return RunbookSession(rb, resolve_params(rb, values or {}), SessionOptions(
        config=config or AppConfig(), sink=sink or MemorySink(), data_dir=data_dir, **kw))


def finished(sink: MemorySink) -> list[dict]:
    return [e.data for e in sink.events if e.type == "runbook.step_finished"]


@pytest.fixture
def http_server():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            code = 200 if self.path.startswith("/health") else 503
            if self.path.startswith("/flaky") and len(hits) >= 3:
                code = 200
            body = json.dumps({"path": self.path}).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    with serve_http(Handler) as srv:
        srv.hits = hits
        yield srv


def shell_rb(run: str, extra: str = "", params: str = "") -> str:
    return (f"id: t\ntitle: T\n{params}steps:\n  - title: s\n    kind: shell\n    run: {json.dumps(run)}\n"
            + extra)


# --------------------------------------------------------------------------- substitution


async def test_a_nasty_value_reaches_the_command_as_one_literal_argument(tmp_path):
    rb = runbook(shell_rb(ARGV + " {{ v }} end", params="params:\n  - name: v\n"))
    sink = MemorySink()
    s = session(rb, {"v": NASTY}, data_dir=tmp_path, sink=sink)
    out = await s.run_step(0)
    assert out.status == "ok", out
    argv = json.loads(out.output_first[0])
    assert argv == [NASTY, "end"]
    assert not Path("/tmp/pwned-opsconsole").exists()


async def test_secret_params_are_masked_on_screen_in_events_output_and_files(tmp_path):
    secret = "s3cr3t-Value-42"
    rb = runbook(shell_rb("echo token is {{ pw }}; " + ARGV + " {{ pw }} {{ user }}",
                          params="params:\n  - name: pw\n    secret: true\n  - name: user\n"))
    journal = JournalSink(tmp_path / "journal.jsonl")
    s = session(rb, {"pw": secret, "user": "alice"}, data_dir=tmp_path, sink=journal)
    shown = s.render(rb.steps[0]).display
    assert secret not in shown and MASK in shown
    out = await s.run_step(0)
    assert out.status == "ok"
    # the command really got the value, as one word...
    assert out.output_first[0] == f"token is {MASK}"
    assert json.loads(out.output_first[1].replace(MASK, "MASKED")) == ["MASKED", "alice"]
    # ...and it is nowhere on record
    assert secret not in (tmp_path / "journal.jsonl").read_text()
    assert secret not in Path(out.output_file).read_text()
    events = journal.read()
    assert events[-1]["data"]["params"] == {"pw": MASK, "user": "alice"}
    assert all(secret not in json.dumps(e) for e in events)


def test_parameter_values_are_checked():
    rb = runbook("id: t\ntitle: T\nparams:\n  - name: pid\n    pattern: '^[0-9]+$'\n"
                 "  - name: mode\n    type: enum\n    choices: [fast, safe]\n    default: safe\n"
                 "  - name: n\n    type: int\n    default: '3'\n"
                 "steps:\n  - title: s\n    kind: manual\n")
    assert resolve_params(rb, {"pid": "42"}) == {"pid": "42", "mode": "safe", "n": "3"}
    with pytest.raises(ParamError, match="does not match"):
        resolve_params(rb, {"pid": "42; ls"})
    with pytest.raises(ParamError, match="one of fast, safe"):
        resolve_params(rb, {"pid": "1", "mode": "yolo"})
    with pytest.raises(ParamError, match="expected an integer"):
        resolve_params(rb, {"pid": "1", "n": "many"})
    with pytest.raises(ParamError, match="unknown parameter 'pdi'"):
        resolve_params(rb, {"pid": "1", "pdi": "2"})
    with pytest.raises(ParamError, match="pid: a value is required"):
        resolve_params(rb, {})
    assert resolve_params(rb, {}, context={"pid": "77"})["pid"] == "77"


# --------------------------------------------------------------------------- processes


async def test_a_hanging_step_is_stopped_at_its_timeout_with_its_whole_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    # the shell ignores SIGTERM and its child would outlive it: both must go
    rb = runbook(shell_rb(f"trap '' TERM; sleep 300 & echo $! > {pidfile}; echo started; wait",
                          extra="    timeout: 1s\n"))
    sink = MemorySink()
    s = session(rb, data_dir=tmp_path, sink=sink, kill_grace=0.5)
    out = await s.run_step(0)
    assert out.status == "timeout" and "timed out after 1s" in out.message
    assert s.states[0] == "failed"
    child = int(pidfile.read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    assert finished(sink)[-1]["status"] == "timeout"


async def test_stop_terminates_the_running_step(tmp_path):
    rb = runbook(shell_rb("echo running; sleep 300", extra="    timeout: 60s\n"))
    s = session(rb, data_dir=tmp_path)
    task = asyncio.ensure_future(s.run_step(0))
    deadline = time.monotonic() + 10
    while (s.capture is None or s.capture.lines == 0) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert s.running == 0
    assert s.stop()
    out = await asyncio.wait_for(task, 10)
    assert out.status == "stopped" and s.states[0] == "stopped"


async def test_a_flood_of_output_keeps_memory_bounded_and_hashes_everything(tmp_path):
    n = 400_000
    rb = runbook(shell_rb(f"seq 1 {n}"))
    sink = MemorySink()
    s = session(rb, data_dir=tmp_path, sink=sink)
    out = await s.run_step(0)
    assert out.status == "ok"
    cap = s.capture
    assert cap.lines == n
    assert len(cap.live) == LIVE_LINES and len(cap.head) == 10 and len(cap.tail) == 10
    assert out.output_first[0] == "1" and out.output_last[-1] == str(n)
    expected = "".join(f"{i}\n" for i in range(1, n + 1)).encode()
    assert out.output_sha256 == hashlib.sha256(expected).hexdigest()
    assert Path(out.output_file).read_bytes() == expected
    data = finished(sink)[-1]
    assert data["output_sha256"] == out.output_sha256 and data["output_lines"] == n


async def test_a_step_that_needs_a_tty_gets_a_clear_message(tmp_path):
    rb = runbook(shell_rb("tty"))
    s = session(rb, data_dir=tmp_path)
    out = await s.run_step(0)
    assert out.status == "failed"
    assert "needs an interactive terminal" in out.message or "interactive terminal (TTY)" in out.message


async def test_stdin_is_empty_so_a_prompt_does_not_hang(tmp_path):
    rb = runbook(shell_rb("read answer; echo \"got [$answer] rc=$?\"", extra="    timeout: 20s\n"))
    out = await session(rb, data_dir=tmp_path).run_step(0)
    assert out.status == "ok" and out.output_first == ["got [] rc=1"]  # EOF at once


async def test_retries_capture_and_later_substitution(tmp_path):
    marker = tmp_path / "tries"
    text = ("id: t\ntitle: T\nsteps:\n"
            "  - title: flaky\n    kind: shell\n"
            f"    run: echo x >> {marker}; [ $(wc -l < {marker}) -ge 3 ] && echo 'version=15.4'\n"
            "    retries: 3\n    retry_delay: 0.05\n    capture: {ver: 'version=([0-9.]+)'}\n"
            "  - title: use\n    kind: shell\n    run: echo got {{ ver }}\n")
    rb = runbook(text)
    sink = MemorySink()
    s = session(rb, data_dir=tmp_path, sink=sink)
    out = await s.run_step(0)
    assert out.status == "ok" and out.attempts == 3
    assert [d["attempt"] for d in finished(sink)] == [1, 2, 3]
    out2 = await s.run_step(1)
    assert out2.output_first == ["got 15.4"]


async def test_on_failure_steps_run_when_a_step_fails(tmp_path):
    text = ("id: t\ntitle: T\nsteps:\n  - title: breaks\n    kind: shell\n    run: exit 3\n"
            "    on_failure:\n      - title: collect logs\n        kind: shell\n        run: echo collected\n")
    sink = MemorySink()
    s = session(runbook(text), data_dir=tmp_path, sink=sink)
    out = await s.run_step(0)
    # the handler succeeded: the step is recovered (not ok, not failed), the failure kept
    assert out.status == "recovered" and out.exit_code == 3 and "exit status 3" in out.message
    assert s.states[0] == "recovered"
    recs = finished(sink)
    assert [r["step"] for r in recs] == [1, "1.on_failure.1"]
    assert recs[1]["status"] == "ok" and recs[1]["output_first"] == ["collected"]


async def test_confirmation_read_only_and_dry_run(tmp_path):
    flag = tmp_path / "ran"
    text = (f"id: t\ntitle: T\nsteps:\n  - title: danger\n    kind: shell\n    run: touch {flag}\n"
            "    confirm: restart\n    dry_run: echo would touch\n")
    rb = runbook(text)
    s = session(rb, data_dir=tmp_path)
    assert (await s.run_step(0)).status == "refused"
    assert (await s.run_step(0, "yes")).status == "refused"
    assert not flag.exists() and s.states[0] == "pending"
    ro = session(rb, data_dir=tmp_path, read_only=True)
    assert (await ro.run_step(0, "restart")).status == "refused" and not flag.exists()
    dry = session(rb, data_dir=tmp_path, dry_run=True)
    out = await dry.run_step(0)
    assert out.status == "dry-run" and out.output_first == ["would touch"] and not flag.exists()
    assert (await s.run_step(0, "restart")).status == "ok" and flag.exists()


async def test_every_run_is_recorded_with_host_figures_and_milestone(tmp_path):
    text = ("id: rec\ntitle: Recorded\nsteps:\n  - title: work\n    kind: shell\n"
            "    run: echo one; echo two; echo three\n    milestone: mitigated\n")
    sink = MemorySink()
    figures = iter([{"cpu_percent": 10.0}, {"cpu_percent": 20.0}])
    s = session(runbook(text), data_dir=tmp_path, sink=sink, incident_id="INC-7",
                host_figures=lambda: next(figures))
    out = await s.run_step(0)
    assert out.ok
    types = [e.type for e in sink.events]
    assert types == ["runbook.step_started", "runbook.step_finished", "incident.milestone_set"]
    assert all(e.incident_id == "INC-7" for e in sink.events)
    d = sink.events[1].data
    assert d["runbook"] == "rec" and d["step"] == 1 and d["step_title"] == "work"
    assert d["command"] == "$ echo one; echo two; echo three"
    assert d["exit_status"] == 0 and d["status"] == "ok" and d["duration"] >= 0
    assert d["output_first"] == ["one", "two", "three"] and d["output_last"] == []
    assert d["host_before"] == {"cpu_percent": 10.0} and d["host_after"] == {"cpu_percent": 20.0}
    assert Path(d["output_file"]).read_text() == "one\ntwo\nthree\n"
    assert Path(d["output_file"]).is_relative_to(tmp_path)
    assert d["output_sha256"] == hashlib.sha256(b"one\ntwo\nthree\n").hexdigest()
    assert d["started_at"] and d["host"]
    m = sink.events[2].data
    assert m["milestone"] == "mitigated" and m["at"] and "runbook rec step 1" in m["source"]


async def test_default_host_figures_come_from_the_host_collector(tmp_path):
    from opsconsole.runbooks.session import host_figures_default

    sink = MemorySink()
    s = session(runbook(shell_rb("true")), data_dir=tmp_path, sink=sink,
                host_figures=host_figures_default())
    await s.run_step(0)
    before = finished(sink)[0]["host_before"]
    assert set(before) >= {"cpu", "load1", "mem", "processes"}
    assert before["processes"] > 0


# --------------------------------------------------------------------------- http / check / wait


async def test_http_check_and_wait_steps(tmp_path, http_server):
    port = http_server.server_address[1]
    cfg = parse_config(f"checks:\n  - name: api\n    kind: http\n    url: http://127.0.0.1:{port}/health\n"
                       f"  - name: broken\n    kind: http\n    url: http://127.0.0.1:{port}/nope\n")
    text = (f"id: t\ntitle: T\nsteps:\n"
            f"  - title: get\n    kind: http\n    url: http://127.0.0.1:{port}/health?x={{{{ q }}}}\n"
            f"  - title: bad\n    kind: http\n    url: http://127.0.0.1:{port}/down\n"
            f"  - title: check\n    kind: check\n    check: api\n"
            f"  - title: check bad\n    kind: check\n    check: broken\n"
            f"  - title: wait\n    kind: wait\n    url: http://127.0.0.1:{port}/flaky\n    interval: 0.05s\n    timeout: 20s\n"
            f"  - title: wait never\n    kind: wait\n    until: 'false'\n    interval: 0.05s\n    timeout: 0.5s\n"
            "params:\n  - name: q\n")
    s = session(runbook(text), {"q": "a b&c"}, config=cfg, data_dir=tmp_path)
    out = await s.run_step(0)
    assert out.ok and out.exit_code == 200 and out.output_first[0] == "HTTP 200 OK"
    assert "/health?x=a%20b%26c" in http_server.hits
    out = await s.run_step(1)
    assert out.status == "failed" and "HTTP 503, expected 200" in out.message
    assert (await s.run_step(2)).ok
    bad = await s.run_step(3)
    assert bad.status == "failed" and "broken is CRITICAL" in bad.message
    waited = await s.run_step(4)
    assert waited.ok and len([h for h in http_server.hits if h == "/flaky"]) >= 1
    never = await s.run_step(5)
    assert never.status == "timeout" and "condition not met" in never.message


# --------------------------------------------------------------------------- SQL


@pytest.mark.pg
async def test_sql_params_are_bound_never_interpolated(tmp_path, pg_cluster):
    pg_cluster.psql("create table if not exists rb_victim(x int)")
    cfg = AppConfig(databases=[__import__("opsconsole.postgres.config", fromlist=["x"]).DatabaseTarget(
        "main", pg_cluster.dsn())])
    evil = "'); drop table rb_victim; --"
    text = ("id: t\ntitle: T\nparams:\n  - name: v\n  - name: pid\nsteps:\n"
            "  - title: echo\n    kind: sql\n    database: main\n    sql: select $1::text as v, length($1) as n\n"
            "    args: [v]\n"
            "  - title: pid as text coerced to int\n    kind: sql\n    database: main\n"
            "    sql: select pid from pg_stat_activity where pid = $1\n    args: [pid]\n")
    conn = await asyncpg.connect(pg_cluster.dsn())
    try:
        pid = conn.get_server_pid()
        s = session(runbook(text), {"v": evil, "pid": str(pid)}, config=cfg, data_dir=tmp_path)
        assert "$1 = " in s.render(s.runbook.steps[0]).display
        out = await s.run_step(0)
        assert out.ok, out
        assert out.output_first[0].split("|")[0].strip() == "v"
        assert evil in out.output_first[2]
        assert await conn.fetchval("select to_regclass('rb_victim') is not null")
        out = await s.run_step(1)
        assert out.ok and out.output_first[2].strip() == str(pid) and out.output_first[3] == "(1 row)"
    finally:
        await conn.close()


@pytest.mark.pg
async def test_a_slow_sql_step_stops_at_its_timeout(tmp_path, pg_cluster):
    from opsconsole.postgres.config import DatabaseTarget

    cfg = AppConfig(databases=[DatabaseTarget("main", pg_cluster.dsn())])
    text = ("id: t\ntitle: T\nsteps:\n  - title: slow\n    kind: sql\n    database: main\n"
            "    sql: select pg_sleep(30)\n    timeout: 1s\n"
            "  - title: unknown db\n    kind: sql\n    database: nope\n    sql: select 1\n")
    s = session(runbook(text), config=cfg, data_dir=tmp_path)
    out = await s.run_step(0)
    assert out.status in ("failed", "timeout")
    assert "statement timeout" in out.message or "timed out" in out.message
    out = await s.run_step(1)
    assert out.status == "failed" and "'nope' is not in the config" in out.message


@pytest.mark.pg
async def test_a_sql_step_reaches_a_key_value_dsn_target(tmp_path, pg_cluster):
    """``databases:`` may be written as libpq key=value pairs, as the panes accept them."""
    from opsconsole.postgres.config import DatabaseTarget

    kv = f"host=127.0.0.1 port={pg_cluster.port} user=postgres dbname=postgres"
    cfg = AppConfig(databases=[DatabaseTarget("kv", kv)])
    rb = runbook("id: t\ntitle: T\nsteps:\n  - title: q\n    kind: sql\n    database: kv\n"
                 "    sql: select current_database() as db, 6 * 7 as answer\n")
    out = await session(rb, config=cfg, data_dir=tmp_path).run_step(0)
    assert out.ok, out
    assert [c.strip() for c in out.output_first[2].split("|")] == ["postgres", "42"]


@pytest.mark.pg
async def test_a_sql_step_runs_on_opsconsoles_monitoring_safe_connection(tmp_path, pg_cluster):
    """Runbook SQL goes through opsconsole.postgres.conn.connect: opsconsole's
    application_name, the configured lock_timeout, the step's timeout as statement_timeout."""
    from opsconsole.postgres.config import DatabaseTarget
    from opsconsole.postgres.conn import APP_NAME
    from opsconsole.runbooks.steps.sql import RUNBOOK_APP_NAME

    cfg = parse_config(f"databases:\n  - name: main\n    dsn: {pg_cluster.dsn()}\n"
                       "postgres:\n  lock_timeout: 750ms\n")
    assert isinstance(cfg.databases[0], DatabaseTarget)
    rb = runbook("id: t\ntitle: T\nsteps:\n  - title: settings\n    kind: sql\n    database: main\n"
                 "    timeout: 7s\n    sql: select current_setting('lock_timeout') as lt, "
                 "current_setting('application_name') as app, "
                 "current_setting('statement_timeout') as st\n")
    out = await session(rb, config=cfg, data_dir=tmp_path).run_step(0)
    assert out.ok, out
    lock_timeout, app, statement_timeout = [c.strip() for c in out.output_first[2].split("|")]
    assert lock_timeout == "750ms"
    assert app == RUNBOOK_APP_NAME and app.startswith(APP_NAME)
    assert statement_timeout == "7s"


def test_no_textual_in_the_runbook_core():
    code = ("import sys; import opsconsole.runbooks.session, opsconsole.runbooks.steps, "
            "opsconsole.runbooks.library; print('textual' in sys.modules)")
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    assert r.stdout.strip() == "False", r.stderr


async def test_output_that_looks_like_credentials_is_masked(tmp_path):
    rb = runbook(shell_rb("echo 'api_key=AbCdEf123456'; echo 'password = hunter2'; echo plain line"))
    out = await session(rb, data_dir=tmp_path).run_step(0)
    assert out.output_first == [f"api_key={MASK}", f"password={MASK}", "plain line"]
    text = Path(out.output_file).read_text()
    assert "AbCdEf123456" not in text and "hunter2" not in text


async def test_a_database_that_refuses_is_a_failed_step_without_its_password(tmp_path):
    from opsconsole.pgcluster import free_port
    from opsconsole.postgres.config import DatabaseTarget

    dsn = f"postgresql://app:pw-Secret-77@127.0.0.1:{free_port()}/app"
    cfg = AppConfig(databases=[DatabaseTarget("main", dsn)])
    rb = runbook("id: t\ntitle: T\nsteps:\n  - title: q\n    kind: sql\n    database: main\n    sql: select 1\n")
    sink = MemorySink()
    out = await session(rb, config=cfg, data_dir=tmp_path, sink=sink).run_step(0)
    assert out.status == "failed" and "could not connect to main" in out.message
    assert "pw-Secret-77" not in json.dumps([e.data for e in sink.events])
    assert "pw-Secret-77" not in Path(out.output_file).read_text()
