"""``opsconsole runbook list | validate | run`` as a subprocess, and the shipped runbooks run
end-to-end against real local targets (PostgreSQL cluster, HTTP server, this host)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import pytest

from eventually import eventually
from samples import ISSUE_EXAMPLE


def journal(tmp_path: Path) -> list[dict]:
    """Every event a CLI run recorded: the incident store in the data dir (where runs record,
    like the console), then anything the operator journal took as a fallback."""
    from opsconsole.incidents.store import open_store

    out: list[dict] = []
    data = tmp_path / "cli-data"
    if (data / "incidents.db").exists():
        with open_store(data) as store:
            out += [e.to_json() for e in store.events_after(0)]
    p = data / "journal.jsonl"
    if p.exists():
        out += [json.loads(line) for line in p.read_text().splitlines()]
    return out


def declare(run_cli, *extra: str) -> str:
    r = run_cli("incident", "declare", "--title", "runbook test", "--severity", "SEV2", *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def config(tmp_path: Path, text: str) -> str:
    p = tmp_path / "config.yaml"
    p.write_text(text)
    return str(p)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        code = 200 if self.path.startswith("/health") else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


def serve(port: int = 0) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", port), _Health)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def http_server():
    srv = serve()
    yield srv
    srv.shutdown()
    srv.server_close()


# --------------------------------------------------------------------------- list / validate


def test_list_shows_shipped_runbooks(run_cli):
    r = run_cli("runbook", "list")
    assert r.returncode == 0, r.stderr
    assert "pg-lock-contention" in r.stdout and "daily-ops-checklist" in r.stdout
    assert len(r.stdout.strip().splitlines()) >= 10


def test_validate_checks_every_file_and_exits_2(run_cli, tmp_path):
    d = tmp_path / "rb"
    d.mkdir()
    (d / "a-good.yaml").write_text(ISSUE_EXAMPLE)
    (d / "b-kind.yaml").write_text("id: b\ntitle: t\nsteps:\n  - title: a\n    kind: nope\n")
    (d / "c-missing.yaml").write_text("id: c\ntitle: t\nsteps:\n  - title: a\n    kind: sql\n    sql: select 1\n")
    (d / "d-param.md").write_text("---\nparams: [{name: who}]\n---\n# T\n\n```sh\necho '{{ who }}'\n```\n")
    r = run_cli("runbook", "validate", str(d))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{d / 'b-kind.yaml'}:5:11: steps[0]: unknown kind 'nope'" in r.stderr
    assert f"{d / 'c-missing.yaml'}:4:5: steps[0]: missing required key 'database'" in r.stderr
    assert f"{d / 'd-param.md'}:6:1:" in r.stderr and "{{ who }} inside single quotes" in r.stderr
    assert "ok  " in r.stdout and "a-good.yaml" in r.stdout
    assert "3 error(s) in 4 file(s)" in r.stderr


def test_validate_shipped_is_clean(run_cli):
    r = run_cli("runbook", "validate")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok  ") >= 10


def test_runbook_dirs_from_config_are_searched(run_cli, tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "hello.yaml").write_text("id: hello\ntitle: Hello\nsteps:\n  - title: s\n    kind: shell\n    run: echo hi\n")
    cfg = config(tmp_path, f"runbook_dirs: [{d}]\n")
    r = run_cli("runbook", "list", "--config", cfg)
    assert "hello" in r.stdout
    r = run_cli("runbook", "run", "hello", "--config", cfg)
    assert r.returncode == 0 and "│ hi" in r.stdout


# --------------------------------------------------------------------------- run


def test_run_records_and_prints_output(run_cli, tmp_path):
    p = tmp_path / "rb.yaml"
    p.write_text("id: two\ntitle: Two steps\nparams:\n  - name: who\nsteps:\n"
                 "  - title: greet\n    kind: shell\n    run: printf '%s\\n' hello {{ who }}\n"
                 "  - title: fails\n    kind: shell\n    run: echo bad; exit 4\n"
                 "  - title: never\n    kind: shell\n    run: echo never\n")
    iid = declare(run_cli)
    r = run_cli("runbook", "run", str(p), "--param", "who=it's me", "--incident", iid)
    assert r.returncode == 1
    assert "│ hello\n" in r.stdout and "│ it's me\n" in r.stdout
    assert "FAILED (exit 4)" in r.stdout and "never" not in r.stdout.split("fails")[1]
    ev = [e for e in journal(tmp_path) if e["type"].startswith("runbook.")]
    fin = [e for e in ev if e["type"] == "runbook.step_finished"]
    assert [e["data"]["status"] for e in fin] == ["ok", "failed"]
    assert ev and all(e["incident_id"] == iid for e in ev)
    assert fin[0]["data"]["params"] == {"who": "it's me"}
    assert fin[0]["actor"]["user"] and fin[0]["actor"]["host"]
    assert Path(fin[1]["data"]["output_file"]).read_text() == "bad\n"


def test_run_parameter_errors_exit_2(run_cli, tmp_path):
    r = run_cli("runbook", "run", "pg-lock-contention", "--param", "pid=12; drop")
    assert r.returncode == 2 and "does not match the pattern" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("runbook", "run", "no-such-runbook")
    assert r.returncode == 2 and "no runbook 'no-such-runbook'" in r.stderr
    r = run_cli("runbook", "run", "pg-lock-contention")
    assert r.returncode == 2 and "pid: a value is required" in r.stderr


def test_dangerous_steps_need_yes_when_not_interactive(run_cli, tmp_path):
    flag = tmp_path / "restarted"
    p = tmp_path / "rb.yaml"
    p.write_text(f"id: d\ntitle: D\nsteps:\n  - title: restart\n    kind: shell\n    run: touch {flag}\n"
                 "    confirm: restart\n    dry_run: echo would restart\n")
    r = run_cli("runbook", "run", str(p))
    assert r.returncode == 1 and "needs confirmation" in r.stderr and not flag.exists()
    r = run_cli("runbook", "run", str(p), "--dry-run")
    assert r.returncode == 0 and "│ would restart" in r.stdout and not flag.exists()
    r = run_cli("--read-only", "runbook", "run", str(p), "--yes")
    assert r.returncode == 2 and "read-only" in r.stderr and not flag.exists()
    r = run_cli("runbook", "run", str(p), "--yes")
    assert r.returncode == 0 and flag.exists()


def test_a_broken_config_is_located(run_cli, tmp_path):
    cfg = config(tmp_path, "hotkeys:\n  - key: f5\n")
    r = run_cli("runbook", "list", "--config", cfg)
    assert r.returncode == 2 and f"{cfg}:2:5: hotkeys[0]: missing required key 'runbook'" in r.stderr


# --------------------------------------------------------------------------- shipped, end-to-end


def test_high_cpu_memory_disk_and_traffic_run_on_this_host(run_cli, tmp_path, http_server):
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        r = run_cli("runbook", "run", "high-cpu", "--param", f"pid={sleeper.pid}", "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "cores:" in r.stdout and "%CPU" in r.stdout
        ni = subprocess.run(["ps", "-o", "ni=", "-p", str(sleeper.pid)], capture_output=True, text=True)
        assert ni.stdout.strip() == "10"
    finally:
        sleeper.kill()
        sleeper.wait()
    r = run_cli("runbook", "run", "high-memory")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Mem:" in r.stdout and "(end of OOM report)" in r.stdout
    d = tmp_path / "fill"
    (d / "big").mkdir(parents=True)
    (d / "big" / "blob").write_bytes(b"x" * 2_000_000)
    r = run_cli("runbook", "run", "disk-almost-full", "--param", f"path={d}",
                *[a for n in (1, 2, 3, 4) for a in ("--step", str(n))])  # not the vacuum
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Inodes" in r.stdout and f"{d}/big" in r.stdout and "(end of list)" in r.stdout
    port = http_server.server_address[1]
    r = run_cli("runbook", "run", "high-traffic", "--param", f"url=http://127.0.0.1:{port}/health",
                "--param", f"port={port}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "HTTP 200 in" in r.stdout and "Total:" in r.stdout


def test_service_down_checks_and_waits_for_health(run_cli, tmp_path, http_server):
    port = http_server.server_address[1]
    r = run_cli("runbook", "run", "service-down", "--param", "service=opsconsole-test.service",
                "--param", f"health_url=http://127.0.0.1:{port}/health", "--step", "1", "--step", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    ev = journal(tmp_path)
    assert [e["type"] for e in ev].count("incident.milestone_set") == 1


@pytest.mark.pg
def test_backup_verification_reads_a_real_dump(run_cli, tmp_path, pg_cluster):
    backups = tmp_path / "backups"
    backups.mkdir()
    subprocess.run(["pg_dump", "-Fc", "-f", str(backups / "nightly.dump"), pg_cluster.dsn()], check=True,
                   timeout=60)
    r = run_cli("runbook", "run", "backup-verification", "--param", f"backup_dir={backups}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "captured backup_file" in r.stdout and "nightly.dump" in r.stdout
    assert "; Archive created at" in r.stdout
    (backups / "nightly.dump").write_bytes(b"garbage")
    r = run_cli("runbook", "run", "backup-verification", "--param", f"backup_dir={backups}")
    assert r.returncode == 1


@pytest.mark.pg
def test_daily_checklist_markdown_runs_against_postgres(run_cli, tmp_path, pg_cluster):
    cfg = config(tmp_path, f"databases:\n  - name: main\n    dsn: {pg_cluster.dsn()}\n")
    r = run_cli("runbook", "run", "daily-ops-checklist", "--config", cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "longest_transaction" in r.stdout and "postgres" in r.stdout
    ev = journal(tmp_path)
    skipped = [e for e in ev if e["type"] == "runbook.step_skipped"]
    assert len(skipped) == 3  # the three "- [ ]" items are ticked by people, not by --yes


@pytest.mark.pg
def test_slow_queries_runbook_finds_a_running_query(run_cli, tmp_path, pg_cluster):
    cfg = config(tmp_path, f"databases:\n  - name: main\n    dsn: {pg_cluster.dsn()}\n")

    async def scenario():
        conn = await asyncpg.connect(pg_cluster.dsn())
        slow = asyncio.ensure_future(conn.execute("select pg_sleep(30) /* rb-slow-marker */"))
        try:
            await asyncio.sleep(0)
            deadline = time.monotonic() + 10
            checker = await asyncpg.connect(pg_cluster.dsn())
            while time.monotonic() < deadline:
                n = await checker.fetchval("select count(*) from pg_stat_activity where query like "
                                           "'%rb-slow-marker%' and state = 'active' and pid <> pg_backend_pid() "
                                           "and now() - query_start > interval '1 second'")
                if n:
                    break
                await asyncio.sleep(0.1)
            await checker.close()
            pid = conn.get_server_pid()
            r = await asyncio.to_thread(run_cli, "runbook", "run", "pg-slow-queries", "--config", cfg,
                                        "--param", "min_duration=1s", "--param", f"pid={pid}", "--yes")
            with pytest.raises(asyncpg.QueryCanceledError):
                await asyncio.wait_for(slow, 10)
            return r, pid
        finally:
            slow.cancel()
            await conn.close()

    r, pid = asyncio.run(scenario())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rb-slow-marker" in r.stdout and str(pid) in r.stdout
    assert "total_ms" in r.stdout


def lock_scenario(run_cli, cluster, runbook: str, cfg: str, *extra: str):
    """A real blocker holding a row lock inside a long statement, a real waiter, and the
    runbook run against the blocker's pid. Returns (CompletedProcess, pid)."""
    cluster.psql("create table if not exists rb_lock(x int); truncate rb_lock; insert into rb_lock values (1)")

    async def scenario():
        blocker = await asyncpg.connect(cluster.dsn())
        waiter = await asyncpg.connect(cluster.dsn())
        try:
            hold = asyncio.ensure_future(blocker.execute(
                "select pg_sleep(60) from (select * from rb_lock for update) s"))
            pid = blocker.get_server_pid()
            # pg_sleep runs once the row is locked: then the waiter can only wait
            await wait_for_backend(cluster, pid, "wait_event = 'PgSleep'")
            wait = asyncio.ensure_future(waiter.execute("update rb_lock set x = 2"))
            await wait_for_backend(cluster, waiter.get_server_pid(), "wait_event_type = 'Lock'")
            r = await asyncio.to_thread(run_cli, "runbook", "run", runbook, "--config", cfg,
                                        "--param", f"pid={pid}", "--yes", *extra)
            await asyncio.wait_for(wait, 10)  # the waiter got its lock: the blocker was cancelled
            with pytest.raises(asyncpg.QueryCanceledError):
                await hold
            return r, pid
        finally:
            blocker.terminate()
            await waiter.close()

    return asyncio.run(scenario())


@pytest.mark.pg
def test_the_issue_example_works_as_written(run_cli, tmp_path, pg_cluster):
    """The runbook from the issue, verbatim: real blocker, real cancel, real HTTP on :8000."""
    try:
        srv = serve(8000)
    except OSError:
        pytest.fail("port 8000 is busy: the issue's example needs it for its health step")
    example = tmp_path / "example.yaml"
    example.write_text(ISSUE_EXAMPLE)
    cfg = config(tmp_path, f"databases:\n  - name: main\n    dsn: {pg_cluster.dsn()}\n")
    try:
        iid = declare(run_cli, "--config", cfg)
        r, pid = lock_scenario(run_cli, pg_cluster, str(example), cfg, "--incident", iid)
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "idle_for" in r.stdout and str(pid) in r.stdout
    assert "pg_cancel_backend" in r.stdout and "HTTP 200 OK" in r.stdout
    ev = journal(tmp_path)
    fin = [e["data"] for e in ev if e["type"] == "runbook.step_finished"]
    assert [d["status"] for d in fin] == ["ok", "ok", "ok", "ok"]  # the manual step is skipped
    assert fin[1]["command"].startswith("[main] select pg_cancel_backend($1)")
    assert fin[1]["params"] == {"pid": str(pid)}
    milestone = [e for e in ev if e["type"] == "incident.milestone_set"]
    assert milestone and milestone[0]["data"]["milestone"] == "mitigated"
    assert all(e["incident_id"] == iid for e in ev)


@pytest.mark.pg
def test_shipped_lock_contention_cancels_then_terminates(run_cli, tmp_path, pg_cluster):
    cfg = config(tmp_path, f"databases:\n  - name: main\n    dsn: {pg_cluster.dsn()}\n")
    r, pid = lock_scenario(run_cli, pg_cluster, "pg-lock-contention", cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "blocked_by" in r.stdout and f"[{pid}]" in r.stdout, r.stdout  # the waiter waits on pid
    fin = [e["data"] for e in journal(tmp_path) if e["type"] == "runbook.step_finished"]
    # the cancel worked, nothing blocks any more: terminate (step 5) is skipped by its when:
    assert [d["step"] for d in fin] == [1, 2, 3, 4, 7]
    assert all(d["status"] == "ok" for d in fin)
    skipped = {e["data"]["step"]: e["data"]["reason"] for e in journal(tmp_path)
               if e["type"] == "runbook.step_skipped"}
    assert "still_blocked is '0'" in skipped[5]


async def wait_for_backend(cluster, pid: int, condition: str, timeout: float = 10.0) -> None:
    """Wait until backend ``pid`` matches ``condition`` in pg_stat_activity; fail the test
    after ``timeout`` seconds."""
    c = await asyncpg.connect(cluster.dsn())
    try:
        async def row() -> object:
            return await c.fetchrow("select state, wait_event_type, wait_event, query "
                                    "from pg_stat_activity where pid = $1", pid)

        last: list[object] = []

        async def matches() -> bool:
            last[:] = [await row()]
            return bool(await c.fetchval(f"select count(*) from pg_stat_activity where "
                                         f"pid = $1 and {condition}", pid))

        await eventually(matches, timeout, what=f"backend {pid} {condition}",
                         last=lambda: last[0] if last else None)
    finally:
        await c.close()


@pytest.mark.pg
def test_connection_saturation_terminates_old_idle_sessions(run_cli, tmp_path, pg_cluster_private):
    cluster = pg_cluster_private
    cfg = config(tmp_path, f"databases:\n  - name: main\n    dsn: {cluster.dsn()}\n")

    async def scenario():
        idle = [await asyncpg.connect(cluster.dsn()) for _ in range(3)]
        pids = [c.get_server_pid() for c in idle]
        await asyncio.sleep(1.2)  # state_change must be older than the 1s threshold
        r = await asyncio.to_thread(run_cli, "runbook", "run", "pg-connection-saturation", "--config", cfg,
                                    "--param", "idle_for=1s", "--yes")
        checker = await asyncpg.connect(cluster.dsn())
        left = await checker.fetchval("select count(*) from pg_stat_activity where pid = any($1::int[])", pids)
        await checker.close()
        for c in idle:
            c.terminate()
        return r, pids, left

    r, pids, left = asyncio.run(scenario())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "max_connections" in r.stdout
    assert all(str(p) in r.stdout for p in pids)
    assert left == 0


def test_secret_params_never_reach_the_terminal_or_the_journal(run_cli, tmp_path):
    p = tmp_path / "rb.yaml"
    p.write_text("id: s\ntitle: S\nparams:\n  - name: token\n    secret: true\nsteps:\n"
                 "  - title: use\n    kind: shell\n    run: echo using {{ token }}; echo \"len=${#OPSCONSOLE_P_TOKEN}\"\n")
    secret = "tok-9f8e7d6c5b4a"
    r = run_cli("runbook", "run", str(p), env={"OPSCONSOLE_PARAM_TOKEN": secret})
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout + r.stderr
    assert "│ using ••••" in r.stdout and f"len={len(secret)}" in r.stdout
    recorded = [f for f in (tmp_path / "cli-data").iterdir()
                if f.name.startswith(("incidents.db", "journal"))]
    assert recorded  # the run was recorded (the store and its WAL)
    for f in recorded:
        assert secret.encode() not in f.read_bytes()
    for f in (tmp_path / "cli-data" / "runbook-output").iterdir():
        assert secret not in f.read_text()


def test_validate_checks_hotkeys_in_the_config(run_cli, tmp_path):
    cfg = config(tmp_path, "hotkeys:\n  - key: f5\n    runbook: high-cpu\n    step: 2\n"
                           "  - key: f6\n    runbook: nope\n  - key: f7\n    runbook: high-cpu\n    step: 99\n")
    r = run_cli("runbook", "validate", "--config", cfg)
    assert r.returncode == 2
    assert f"{cfg}:6:14: hotkeys[1].runbook: no runbook 'nope'" in r.stderr
    assert f"{cfg}:9:11: hotkeys[2].step: runbook high-cpu has steps 1..5, not 99" in r.stderr
    assert "hotkeys[0]" not in r.stderr


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupting_a_run_stops_the_step_and_records_it(tmp_path, sig):
    import os
    import signal
    import sys

    from conftest import cli_env

    pidfile = tmp_path / "child.pid"
    p = tmp_path / "rb.yaml"
    p.write_text(f"id: i\ntitle: I\nsteps:\n  - title: hang\n    kind: shell\n"
                 f"    run: sleep 300 & echo $! > {pidfile}; echo started; wait\n"
                 "  - title: after\n    kind: shell\n    run: echo must not run\n")
    env = cli_env({"OPSCONSOLE_DATA_DIR": str(tmp_path / "cli-data"), "XDG_CONFIG_HOME": str(tmp_path / "x")})
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "runbook", "run", str(p)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 20
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, out + err
    assert "must not run" not in out and "interrupted" in err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the step's child process survived the interrupt")
    fin = [e for e in journal(tmp_path) if e["type"] == "runbook.step_finished"]
    assert len(fin) == 1 and fin[0]["data"]["status"] == "stopped"


# --------------------------------------------------------------------------- incidents


def test_run_records_on_the_incident_and_the_postmortem_lists_it(run_cli, tmp_path):
    """`runbook run --incident` records through the incident store, like the console: the
    incident's timeline and its postmortem show the execution."""
    import hashlib

    p = tmp_path / "mitigate.yaml"
    p.write_text("id: mitigate\ntitle: Mitigate\nsteps:\n"
                 "  - title: flip the switch\n    kind: shell\n    run: echo switched-over\n"
                 "    milestone: mitigated\n")
    iid = declare(run_cli)
    r = run_cli("runbook", "run", str(p), "--incident", iid, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "│ switched-over" in r.stdout
    assert not (tmp_path / "cli-data" / "journal.jsonl").exists()  # the store took everything

    md = run_cli("incident", "export", iid, "--format", "md")
    assert md.returncode == 0, md.stderr
    runs = md.stdout.split("## Runbook executions", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in runs.splitlines() if "flip the switch" in line)
    sha = hashlib.sha256(b"switched-over\n").hexdigest()
    assert "| mitigate |" in row and "| 0 |" in row and sha[:16] in row, row
    assert "echo switched-over" in row
    mttm = next(line for line in md.stdout.splitlines() if "(MTTM)" in line)
    assert mttm.split("|")[2].strip() != "–", mttm  # a duration, not a dash

    show = run_cli("incident", "show", iid)
    assert show.returncode == 0, show.stderr
    row = next(line for line in show.stdout.splitlines() if "“flip the switch”" in line)
    assert re.search(r"Runbook mitigate step \d+ “flip the switch”: ok in \S+ \(exit 0\) — "
                     r"\$ echo switched-over", row), row
    assert "Milestone Mitigated at" in show.stdout
    assert "mitigated" in show.stdout.split("milestones:", 1)[1].splitlines()[0]


def test_run_with_an_unknown_incident_exits_2_before_running(run_cli, tmp_path):
    marker = tmp_path / "ran"
    p = tmp_path / "rb.yaml"
    p.write_text(f"id: t\ntitle: T\nsteps:\n  - title: touch\n    kind: shell\n    run: touch {marker}\n")
    declare(run_cli)  # a store exists, with another incident in it
    r = run_cli("runbook", "run", str(p), "--incident", "INC-20000101-9", "--yes")
    assert r.returncode == 2
    assert "--incident INC-20000101-9: no such incident" in r.stderr
    assert "Traceback" not in r.stderr and "step 1" not in r.stdout
    assert not marker.exists()
    assert not [e for e in journal(tmp_path) if e["type"].startswith("runbook.")]


def test_run_prints_skipped_recovered_and_an_early_end(run_cli, tmp_path):
    p = tmp_path / "flow.yaml"
    p.write_text("id: flow\ntitle: Flow\nsteps:\n"
                 "  - title: only on mondays\n    kind: shell\n    run: echo no\n"
                 "    when: {shell: 'false'}\n"
                 "  - title: broken\n    kind: shell\n    run: exit 4\n"
                 "    on_failure:\n      - title: fix\n        kind: shell\n        run: 'true'\n"
                 "  - title: verify\n    kind: shell\n    run: 'true'\n"
                 "    stop_when: {shell: 'true'}\n"
                 "  - title: escalate\n    kind: shell\n    run: exit 9\n")
    r = run_cli("runbook", "run", str(p))
    assert r.returncode == 0, r.stderr
    assert "→ SKIPPED — when: shell `false` exits 0 did not hold" in r.stdout
    assert "→ RECOVERED (exit 4)" in r.stdout and "exit status 4" in r.stdout
    assert "1 later step(s) skipped" in r.stdout
    assert "runbook flow: done — recovered: condition shell `true` exits 0 held" in r.stdout


@pytest.mark.pg
def test_a_database_parameter_defaults_to_the_configured_target(run_cli, tmp_path, pg_cluster):
    """The shipped lock runbook says `default: main`; a console whose only target is called
    `orders` runs it on `orders`, not on a `main` it does not have."""
    cfg = config(tmp_path, f"databases:\n  - name: orders\n    dsn: {pg_cluster.dsn()}\n")
    r = run_cli("runbook", "run", "pg-lock-contention", "--config", cfg, "-p", "pid=1",
                "--step", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[orders] select w.pid" in r.stdout, r.stdout
    assert "not in the config" not in r.stdout + r.stderr
