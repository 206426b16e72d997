"""The terminal goes away (an SSH drop: SIGHUP) while a runbook step runs: the step's
process group is stopped like ``x`` stops it, its finish is recorded as "stopped: terminal
closed", and the console exits without a traceback."""

from __future__ import annotations

import os
import shutil
import sys
import uuid

import psutil
import pytest
from test_cli_shell import Tmux

from conftest import cli_env
from eventually import eventually_sync
from opsconsole.incidents.store import open_store

TMUX = shutil.which("tmux")


def _sleepers(marker: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        if p.info["cmdline"] and p.info["cmdline"][:2] == ["sleep", marker]:
            out.append(p)
    return out


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_sighup_stops_the_running_step_and_records_it(tmp_path):
    marker = f"300.{uuid.uuid4().int % 10**6:06d}"  # a sleep no other test starts
    rb = tmp_path / "rb"
    rb.mkdir()
    (rb / "hang.yaml").write_text(f"id: hang\ntitle: Hang test\nsteps:\n"
                                  f"  - title: Wait a long time\n    kind: shell\n"
                                  f"    run: sleep {marker}\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"runbook_dirs: [{rb}]\n")
    data = tmp_path / "d"
    env = cli_env({"TERM": "xterm-256color", "OPSCONSOLE_DATA_DIR": str(data),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    stderr = tmp_path / "stderr"
    # Textual draws on sys.__stderr__ (the terminal); Python's own error output (tracebacks,
    # "Exception ignored …" at shutdown) goes to sys.stderr and fd 2: those go to a file
    wrapper = tmp_path / "run.py"
    wrapper.write_text(
        "import os, runpy, sys\n"
        "sys.__stderr__ = os.fdopen(os.dup(2), 'w')\n"
        f"err = open({str(stderr)!r}, 'w', buffering=1)\n"
        "os.dup2(err.fileno(), 2)\n"
        "sys.stderr = err\n"
        f"sys.argv = ['opsconsole', '--config', {str(cfg)!r}]\n"
        "runpy.run_module('opsconsole', run_name='__main__')\n")
    t = Tmux(120, 40, env, f"{sys.executable} {wrapper}")
    try:
        t.wait_for("HEALTH", timeout=60)
        t.keys("r")
        t.wait_for(" loaded", timeout=60)  # the picker's title once the runbooks are parsed
        t.keys("-l", "Hang test")
        t.wait_for("hang.yaml)", timeout=30)  # the detail of the highlighted runbook
        t.keys("Enter")
        t.wait_for("Wait a long time", timeout=30)
        t.keys("Enter")
        sleepers = eventually_sync(lambda: _sleepers(marker), timeout=30, what="the step's sleep")
        pgid = os.getpgid(sleepers[0].pid)
        assert pgid != os.getpgid(0)
    finally:
        t.kill()  # the tmux server goes: the console gets SIGHUP
    eventually_sync(lambda: not _sleepers(marker), timeout=30, what="the sleep to be stopped",
                    last=lambda: _sleepers(marker))

    def recorded() -> list[dict]:
        if not (data / "incidents.db").exists():
            return []
        with open_store(data) as store:
            return [e.data for e in store.events_after(0) if e.type == "runbook.step_finished"]

    finished = eventually_sync(recorded, timeout=30, what="the step_finished record",
                               last=lambda: stderr.read_text())
    assert finished[-1]["status"] == "stopped"
    assert "stopped: terminal closed" in str(finished[-1])
    def console() -> list[str]:  # the console's process, unless it is gone (or a zombie)
        return [f"{p.pid} {p.info['status']}" for p in psutil.process_iter(["cmdline", "status"])
                if p.info["cmdline"] and str(wrapper) in p.info["cmdline"]
                and p.info["status"] != psutil.STATUS_ZOMBIE]

    eventually_sync(lambda: not console(), timeout=60, what="the console to exit",
                    last=lambda: (console(), stderr.read_text()))
    err = stderr.read_text()
    assert "Traceback" not in err and "Event loop is closed" not in err, err
