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


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_demo_in_a_real_terminal_declares_an_incident_and_cleans_up(tmp_path):
    """`opsconsole demo` as a newcomer runs it: every PG pane alive, `i` declares an incident
    in the throwaway data dir (shown in the header), `q` removes everything."""
    from test_cli_shell import Tmux

    env = cli_env({"TERM": "xterm-256color", "OPSCONSOLE_DATA_DIR": str(tmp_path / "d"),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    for var in ("COLUMNS", "LINES"):
        env.pop(var, None)
    done = tmp_path / "exit-code"
    t = Tmux(160, 48, env, f"{sys.executable} -m opsconsole demo; echo $? > {done}; sleep 60")
    try:
        t.wait_for("root blocker", timeout=60)
        t.wait_for("idle in xact")
        t.keys("i")
        t.wait_for("Declare an incident")
        t.keys("Checkout payments failing", "Enter")
        t.wait_for("Declared SEV3", timeout=20)  # the incident screen opens on its timeline
        t.keys("Escape")
        t.wait_for("▲ INC-")  # back on the console: the header shows the active incident
        t.keys("q")  # an incident is active: quitting asks (y, after a short key guard)
        t.wait_for("Quit opsconsole?")
        eventually_sync(lambda: (t.keys("y"), "Quit opsconsole?" not in t.capture())[1],
                        timeout=30, what="y to be taken", last=t.capture)
        deadline = time.monotonic() + 60
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists() and done.read_text().strip() == "0", t.capture()
        assert "removed /tmp/opsconsole-pg-" in t.capture()
    finally:
        t.kill()
