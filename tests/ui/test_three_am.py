"""The 3 a.m. path, end to end in a real terminal (tmux, 80x24) on `opsconsole demo`:
the root blocker is seen on the locks pane, an incident declared, the lock runbook opened
with its parameters pre-filled from the locks pane and its first steps run, the blocker
terminated with a deliberate confirmation (its pid, typed, after the key guard), the
postmortem exported — and all of it still there after `q`."""

from __future__ import annotations

import re
import shutil
import sys

import pytest

from conftest import cli_env
from eventually import eventually_sync

pytestmark = [pytest.mark.pg, pytest.mark.tmux,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def test_the_3am_path_on_the_demo_at_80x24(tmp_path, run_cli):
    from test_cli_shell import Tmux

    data = tmp_path / "data"
    env = cli_env({"TERM": "xterm-256color", "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    for var in ("COLUMNS", "LINES", "OPSCONSOLE_DATA_DIR"):
        env.pop(var, None)
    done = tmp_path / "exit-code"
    t = Tmux(80, 24, env, f"{sys.executable} -m opsconsole demo --data-dir {data}; "
                          f"echo $? > {done}; sleep 60")
    pressed: list[str] = []

    def press(*keys: str) -> None:
        pressed.extend(keys)
        t.keys(*keys)

    try:
        # 1. the root blocker, seen on the locks pane
        # (the tab says "Locks" when other badges need the room: a loaded host's resources)
        t.wait_for(("Blocking locks ●", "Locks ●"), timeout=90)
        press("4")
        screen = t.wait_for("1 root blocker(s)", timeout=30)
        pid = re.search(r"● (\d+) ", screen).group(1)
        # 2. an incident
        press("i")
        t.wait_for("Declare an incident")
        press("orders locked", "Enter")
        t.wait_for("Declared SEV3", timeout=20)
        press("Escape")
        t.wait_for("▲ INC-")
        # 3. the lock runbook, its parameters pre-filled from the locks pane
        press("r")
        t.wait_for("runbooks")
        press("lock")
        t.wait_for("PostgreSQL lock contention")
        press("Enter")
        form = t.wait_for("from the locks pane: root blocker pid")
        assert f"root blocker pid {pid}" in form and "demo" in form, form
        press("Enter", "Enter")  # the pid, then the database: both right as they are
        t.wait_for("Who blocks whom")
        press("Enter")  # step 1: who blocks whom
        t.wait_for("step 1 exit 0", timeout=30)
        press("Escape")  # the walkthrough keeps its progress
        t.wait_for("runbooks  10 loaded")
        press("Escape")
        t.wait_for("c cancel")
        # 4. terminate the root blocker: K K is no answer; its pid, typed, is
        press("4", "K", "K")
        t.wait_for(f"type the pid {pid}")
        assert "ROOT BLOCKER: it blocks 3 session(s)" in t.capture()

        def typed_pid_taken() -> bool:
            # typed while the guard holds, the keys are dropped: type again, but only into
            # the dialog (never into the pane behind it once it has closed)
            screen = t.capture()
            if "session terminated" in screen:
                return True
            if f"type the pid {pid}" in screen:
                press("C-u", pid, "Enter")
            return False

        eventually_sync(typed_pid_taken, timeout=30, interval=0.3,
                        what="the typed pid to be taken", last=t.capture)
        t.wait_for("no blocking", timeout=20)
        # 5. the postmortem, from the incident's timeline
        press("t")
        t.wait_for("Terminated backend pid")
        press("e")
        t.wait_for("written to", timeout=20)  # (the toast wraps the path: checked below)
        press("Escape")  # (not in one burst with q: ESC then q is how a terminal sends alt+q)
        t.wait_for("c cancel")
        press("q")
        t.wait_for("Quit opsconsole?")

        def answered_yes() -> bool:
            if done.exists():
                return True
            if "Quit opsconsole?" in t.capture():
                press("y")
            return False

        eventually_sync(answered_yes, timeout=60, interval=0.3, what="the demo to exit",
                        last=t.capture)
        assert done.read_text().strip() == "0", t.capture()
        assert "kept: the demo's incidents" in t.capture()
    finally:
        t.kill()

    # still there after q: the incident, the terminate on its timeline, the export
    exports = list((data / "postmortems").glob("INC-*.md"))
    assert len(exports) == 1, exports
    md = exports[0].read_text()
    assert "orders locked" in md
    assert f"Terminated backend pid {pid}" in md and "root blocker of 3 session(s)" in md, md
    assert "Runbook pg-lock-contention step 1 “Who blocks whom”: ok" in md
    listed = run_cli("incident", "list", "--data-dir", str(data))
    assert listed.returncode == 0 and "orders locked" in listed.stdout
    keys = [k for k in pressed if len(k) == 1 or k in ("Enter", "Escape")]
    print(f"3 a.m. path: {len(keys)} command keys, plus typed text "
          f"({sum(len(k) for k in pressed if len(k) > 1 and k not in ('Enter', 'Escape', 'C-u'))} chars)")
