"""ASCII only where the terminal cannot show more: TERM=linux, LANG=C, --ascii (real tmux)."""

from __future__ import annotations

import shutil
import sys

import pytest
from test_cli_shell import Tmux

from conftest import cli_env

TMUX = shutil.which("tmux")


def _non_ascii(screen: str) -> set[str]:
    return {ch for ch in screen if not ch.isascii()}


@pytest.mark.tmux
@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
@pytest.mark.parametrize("prefix, flag", [
    ("env TERM=linux ", ""),
    ("env -u LC_ALL -u LC_CTYPE LANG=C TERM=xterm-256color ", ""),
    ("", " --ascii"),
])
def test_screen_is_pure_ascii(tmp_path, prefix, flag):
    # tmux sets the pane's TERM itself (hence `env TERM=…` in the command), and runs in a
    # UTF-8 locale, so anything non-ASCII the console sends would be captured
    env = cli_env({"OPSCONSOLE_DATA_DIR": str(tmp_path / "d"),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "LANG": "C.UTF-8"})
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    cmd = f"{prefix}{sys.executable} -m opsconsole --refresh 1{flag}; sleep 30"
    t = Tmux(80, 24, env, cmd)
    try:
        t.wait_for("> 1 HEALTH")  # the focus marker, in ASCII
        t.keys("2")
        screen = t.wait_for("LOAD")  # the resources pane: bars and sparklines
        assert "> 2 RESOURCES" in screen
        assert _non_ascii(screen) == set(), screen
        t.keys("?")
        screen = t.wait_for("opsconsole keys")
        assert _non_ascii(screen) == set(), screen
    finally:
        t.kill()
