"""The command line and the console in real terminals (tmux), as an operator starts it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from conftest import cli_env
from eventually import eventually_sync
from opsconsole import __version__


def test_version(run_cli):
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"opsconsole {__version__}"


def test_bad_config_exits_2_with_location_and_no_traceback(run_cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("refresh: 2s\nthresholds:\n  cpu: {careful: 1, warning: 2, critcal: 3}\n")
    out = run_cli("--config", str(cfg))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{cfg}:3:33: thresholds.cpu: unknown key 'critcal'" in out.stderr


def test_config_from_env_is_used(run_cli, tmp_path):
    cfg = tmp_path / "env.yaml"
    cfg.write_text("refresh: never\n")
    out = run_cli(env={"OPSCONSOLE_CONFIG": str(cfg)})
    assert out.returncode == 2 and f"{cfg}:1:10" in out.stderr


def test_missing_config_file_is_clear(run_cli, tmp_path):
    out = run_cli("--config", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_bad_refresh_argument(run_cli):
    out = run_cli("--refresh", "soon")
    assert out.returncode == 2 and "--refresh" in out.stderr and "Traceback" not in out.stderr


def test_module_entry_point_help(run_cli):
    out = run_cli("--help")
    assert out.returncode == 0
    for opt in ["--config", "--theme", "--refresh", "--read-only", "--data-dir", "--version"]:
        assert opt in out.stdout


TMUX = shutil.which("tmux")


class Tmux:
    def __init__(self, width: int, height: int, env: dict[str, str], cmd: str) -> None:
        self.sock = f"opsconsole-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        envs = []
        for k in ("TERM", "NO_COLOR", "PYTHONPATH", "OPSCONSOLE_DATA_DIR", "XDG_CONFIG_HOME"):
            if k in env:
                envs += ["-e", f"{k}={env[k]}"]
        subprocess.run([TMUX, "-L", self.sock, "-f", "/dev/null", "new-session", "-d", "-s", "t",
                        "-x", str(width), "-y", str(height), *envs, cmd], check=True, env=env,
                       timeout=20)

    def capture(self) -> str:
        return subprocess.run([TMUX, "-L", self.sock, "capture-pane", "-p", "-t", "t"],
                              capture_output=True, text=True, timeout=10).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([TMUX, "-L", self.sock, "send-keys", "-t", "t", *keys], check=True, timeout=10)

    def resize(self, w: int, h: int) -> None:
        subprocess.run([TMUX, "-L", self.sock, "resize-window", "-t", "t", "-x", str(w), "-y", str(h)],
                       check=True, timeout=10)

    def wait_for(self, text: str | tuple[str, ...], timeout: float = 20) -> str:
        """The screen once it shows ``text`` (or any one of a tuple of texts)."""
        texts = (text,) if isinstance(text, str) else text
        return eventually_sync(
            lambda: (lambda s: s if any(t in s for t in texts) else "")(self.capture()),
            timeout, what=" or ".join(map(repr, texts)), last=self.capture)

    def kill(self) -> None:
        subprocess.run([TMUX, "-L", self.sock, "kill-server"], capture_output=True, timeout=10)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
@pytest.mark.parametrize("term, no_color", [("xterm-256color", False), ("screen-256color", True),
                                             ("linux", False), ("tmux-256color", True)])
def test_runs_in_real_terminals(tmp_path, term, no_color):
    env = cli_env({"TERM": term, "OPSCONSOLE_DATA_DIR": str(tmp_path / "d"),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    if no_color:
        env["NO_COLOR"] = "1"
    done = tmp_path / "exit-code"
    cmd = f"{sys.executable} -m opsconsole --refresh 1; echo $? > {done}; sleep 30"
    t = Tmux(80, 24, env, cmd)
    try:
        t.wait_for("2 Resources")  # 80x24: one pane at a time, tabs on top
        t.wait_for("LIVE every 1s")
        screen = t.wait_for("▶ 1 HEALTH")
        assert "opsconsole" in screen and "LIVE" in screen and "▶ 1 HEALTH" in screen
        t.keys("2")
        t.wait_for("▶ 2 RESOURCES")
        t.wait_for("LOAD")  # the resources pane has data
        for w, h in [(60, 15), (30, 8), (160, 48), (80, 24)]:
            t.resize(w, h)
        t.wait_for("RESOURCES")
        t.keys("q")
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists(), t.capture()
        assert done.read_text().strip() == "0"
        assert "Traceback" not in t.capture()
    finally:
        t.kill()


_ = os


SCREEN = shutil.which("screen")


@pytest.mark.skipif(SCREEN is None, reason="GNU screen is not installed")
def test_runs_inside_gnu_screen(tmp_path):
    """GNU screen (TERM=screen inside): start, show data, switch pane, quit cleanly."""
    name = f"ops{uuid.uuid4().hex[:8]}"
    env = cli_env({"OPSCONSOLE_DATA_DIR": str(tmp_path / "d"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                   "SCREENDIR": str(tmp_path / "screens")})
    (tmp_path / "screens").mkdir(mode=0o700)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    done = tmp_path / "exit-code"
    rc = tmp_path / "screenrc"
    rc.write_text("term screen-256color\n")
    cmd = f"{sys.executable} -m opsconsole --refresh 1; echo $? > {done}; sleep 30"
    proc = subprocess.Popen([SCREEN, "-c", str(rc), "-D", "-m", "-S", name, "sh", "-c", cmd], env=env)
    hard = tmp_path / "hardcopy"

    def capture() -> str:
        subprocess.run([SCREEN, "-S", name, "-X", "hardcopy", str(hard)], env=env, timeout=10,
                       capture_output=True)
        return hard.read_text(errors="replace") if hard.exists() else ""

    def wait_for(text: str, timeout: float = 20) -> str:
        return eventually_sync(lambda: (lambda s: s if text in s else "")(capture()), timeout,
                               what=repr(text), interval=0.2, last=capture)

    try:
        wait_for("LIVE every 1s")
        subprocess.run([SCREEN, "-S", name, "-X", "stuff", "2"], env=env, timeout=10)
        wait_for("LOAD")
        subprocess.run([SCREEN, "-S", name, "-X", "stuff", "q"], env=env, timeout=10)
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists() and done.read_text().strip() == "0"
    finally:
        subprocess.run([SCREEN, "-S", name, "-X", "quit"], env=env, timeout=10, capture_output=True)
        proc.wait(timeout=10)
