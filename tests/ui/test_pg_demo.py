"""``opsconsole demo``: setup, the scene the panes show, and cleanup (also on Ctrl+C)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import cli_env
from eventually import eventually_sync
from opsconsole.demo import Demo, demo_config
from opsconsole.incidents.sink import MemorySink
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services

pytestmark = pytest.mark.pg


def server_running(base: Path) -> bool:
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(str(base) in part for part in (p.info["cmdline"] or [])):
                return True
        except psutil.Error:
            continue
    return False


def test_demo_check_sets_up_shows_the_scene_and_cleans_up(run_cli):
    proc = run_cli("demo", "--check", timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = proc.stdout
    assert "demo scene: complete" in out
    base = Path(re.search(r"cluster: (\S+)", out).group(1))
    assert re.search(r"● \d+ \| idle in xact", out)  # root blocker idle in transaction
    assert "AccessExclusiveLock demo_accounts" in out and "pg_sleep" in out
    assert f"removed {base}" in out
    assert not base.exists() and not server_running(base)


def test_demo_cleans_up_on_ctrl_c(tmp_path):
    env = cli_env({"OPSCONSOLE_DATA_DIR": str(tmp_path / "data")})
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "demo", "--check", "--hold", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(tmp_path))
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("holding"):
                break
        base = Path(re.search(r"cluster: (\S+)", "".join(lines)).group(1))
        assert base.exists() and server_running(base)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130
        assert "interrupted: cleaning up" in err
        assert not base.exists() and not server_running(base)
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_demo_console_shows_every_pg_pane_alive(tmp_path):
    demo = Demo(log=lambda s: None)
    demo.start()
    base = demo.cluster.base
    try:
        app = OpsConsoleApp(demo_config(demo.dsn), RunOptions(data_dir=tmp_path, refresh=0.5),
                            Services(sink=MemorySink()))
        async with app.run_test(size=(160, 48)) as pilot:
            locks, slow = app.pane("locks"), app.pane("slow")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                nodes = locks.snapshot.nodes if locks.snapshot else ()
                running = slow.snapshot.backends if slow.snapshot else ()
                if (max((n.depth for n in nodes), default=0) >= 3
                        and any("pg_sleep" in b.query for b in running)):
                    break
                await pilot.pause(0.1)
            root = locks.snapshot.roots[0]
            assert root.backend.state == "idle in transaction" and root.blocks >= 3
            assert root.backend.application == "demo-billing-worker"
            assert sum(1 for b in slow.snapshot.backends if b.idle_in_transaction) >= 2
            assert "LIVE" in locks.header_text().plain and "LIVE" in slow.header_text().plain
            # the demo's own rule judges the lock chain: pending (for: 10s), with its runbook
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                    r["name"] == "demo-lock-chain" and r["state"] in ("pending", "firing")
                    for r in app.alert_rows()):
                await pilot.pause(0.1)
            row = next(r for r in app.alert_rows() if r["name"] == "demo-lock-chain")
            assert row["state"] in ("pending", "firing") and row["runbook"] == "pg-lock-contention"
    finally:
        demo.stop()
        await asyncio.sleep(0)
    assert not base.exists() and not server_running(base)


def test_demo_with_a_bad_config_exits_2_before_starting_anything(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("databases: [{name: main, dsn: 42, bogus: 1}]\n")
    proc = run_cli("demo", "--check", "--config", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"opsconsole: {bad}:1:") and "Traceback" not in proc.stderr
    assert "starting a throwaway" not in proc.stdout


def _pane_pid(t) -> int:
    out = subprocess.run(["tmux", "-L", t.sock, "display-message", "-p", "-t", "t",
                          "#{pane_pid}"], capture_output=True, text=True, timeout=10).stdout
    return int(out.strip())


def _running_demo(t) -> tuple[psutil.Process, Path, int]:
    """(the console process, its cluster directory, the postmaster's pid) of the demo in
    tmux session ``t``: from the pane's process tree and the console's connections to its
    server, so demos run by others on this machine at the same time are never confused
    with ours."""
    def find():
        for p in psutil.Process(_pane_pid(t)).children(recursive=True):
            try:
                if "demo" not in p.cmdline() or "opsconsole" not in p.cmdline():
                    continue
                ports = {c.raddr.port for c in p.net_connections("tcp")
                         if c.raddr and c.raddr.ip == "127.0.0.1"}
            except psutil.Error:
                continue
            for c in psutil.net_connections("tcp"):
                if c.status == psutil.CONN_LISTEN and c.laddr.port in ports and c.pid:
                    cmd = psutil.Process(c.pid).cmdline()
                    if "-D" in cmd:
                        return p, Path(cmd[cmd.index("-D") + 1]).parent, c.pid
        return None

    return eventually_sync(find, 60, what="the demo's console, cluster and server")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _demo_in_tmux(tmp_path, data: Path):
    from test_cli_shell import Tmux

    env = cli_env({"TERM": "xterm-256color", "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    for var in ("COLUMNS", "LINES", "OPSCONSOLE_DATA_DIR"):
        env.pop(var, None)
    done = tmp_path / "exit-code"
    cmd = f"{sys.executable} -m opsconsole demo --data-dir {data}; echo $? > {done}; sleep 60"
    return Tmux(160, 48, env, cmd), done


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_demo_keeps_incidents_and_exports_in_the_data_dir_and_removes_only_the_cluster(
        tmp_path, run_cli):
    """`opsconsole demo --data-dir D` as a newcomer runs it: every PG pane alive, `i` declares
    an incident, `e` exports its postmortem; `q` stops and removes the throwaway cluster
    (saying so) while the incident and the export stay in D."""
    data = tmp_path / "data"
    t, done = _demo_in_tmux(tmp_path, data)
    try:
        t.wait_for("root blocker", timeout=60)
        t.wait_for("idle in xact")
        console, base, server = _running_demo(t)
        t.keys("i")
        t.wait_for("Declare an incident")
        t.keys("Checkout payments failing", "Enter")
        t.wait_for("Declared SEV3", timeout=20)  # the incident screen opens on its timeline
        t.keys("e")
        t.wait_for("written to", timeout=20)
        t.keys("Escape")
        t.wait_for("▲ INC-")  # back on the console: the header shows the active incident
        t.keys("q")  # an incident is active: quitting asks (y, after a short key guard)
        t.wait_for("Quit opsconsole?")
        eventually_sync(lambda: (t.keys("y"), "Quit opsconsole?" not in t.capture())[1],
                        timeout=30, what="y to be taken", last=t.capture)
        eventually_sync(done.exists, 60, what="the demo to exit", last=t.capture)
        assert done.read_text().strip() == "0", t.capture()
        screen = t.capture()
        assert "stopping the demo PostgreSQL" in screen and f"removed {base}" in screen
        assert not base.exists()
        eventually_sync(lambda: _gone(server) and _gone(console.pid), 20,
                        what="the server and the console gone")
    finally:
        t.kill()
    exports = list(data.rglob("*.md"))
    assert len(exports) == 1 and "Checkout payments failing" in exports[0].read_text()
    listed = run_cli("incident", "list", "--data-dir", str(data))
    assert listed.returncode == 0 and "Checkout payments failing" in listed.stdout, listed


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("when", ["console", "teardown"])
def test_closing_the_terminal_during_the_demo_removes_the_whole_cluster(tmp_path, when):
    """The terminal goes away (tmux killed: SIGHUP, then a dead tty) while the console runs,
    or just after `q` while the demo is tearing down: the server is stopped and its
    directory removed entirely, within a bound."""
    t, _ = _demo_in_tmux(tmp_path, tmp_path / "data")
    try:
        t.wait_for("root blocker", timeout=60)
        console, base, server = _running_demo(t)
        assert base.exists() and not _gone(server)
        if when == "teardown":
            t.keys("q")  # no incident is active: no confirmation
            eventually_sync(lambda: "root blocker" not in t.capture(), 20,
                            what="the console to leave the screen", last=t.capture)
    finally:
        t.kill()
    eventually_sync(lambda: not base.exists(), 45, what=f"{base} removed",
                    last=lambda: sorted(str(p) for p in base.rglob("*"))[:10])
    eventually_sync(lambda: _gone(server) and _gone(console.pid), 20,
                    what="the server and the console gone")
