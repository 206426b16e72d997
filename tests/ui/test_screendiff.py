"""ScreenDiff sends only changed cells, and the terminal ends up showing exactly what Textual
would have drawn. Checked with a small terminal model fed both Textual's own output and the
diffed output, and end to end in a real tmux."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys

import pytest
from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.geometry import Region, Size
from textual.strip import Strip

from conftest import REPO, cli_env
from eventually import eventually_sync
from opsconsole.ui.screendiff import ScreenDiff

TOKEN = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])|\x1b\]8;[^\x1b]*\x1b\\|(.)", re.S)


class Term:
    """Just enough of a terminal for what Textual and ScreenDiff write: CUP, SGR, text."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.grid = [[(" ", "")] * w for _ in range(h)]
        self.x = self.y = 0
        self.sgr = ""

    def feed(self, data: str) -> None:
        from rich.cells import get_character_cell_size

        for m in TOKEN.finditer(data):
            params, cmd, ch = m.group(1), m.group(2), m.group(3)
            if cmd == "H":
                y, _, x = (params or "1;1").partition(";")
                self.y, self.x = int(y or 1) - 1, int(x or 1) - 1
            elif cmd == "m":
                codes = (params or "0").split(";")
                # state = the codes after the last reset
                while "0" in codes:
                    codes = codes[codes.index("0") + 1:]
                    self.sgr = ""
                if codes:
                    self.sgr = ";".join(([self.sgr] if self.sgr else []) + codes)
            elif cmd:
                raise AssertionError(f"unexpected sequence {m.group(0)!r}")
            elif ch is not None:
                if ch == "\n":
                    continue
                if ch == "\r":
                    self.x = 0
                    continue
                w = get_character_cell_size(ch)
                if w == 0:
                    px = self.x - 1
                    if px >= 0 and self.grid[self.y][px][0] == "":
                        px -= 1
                    c = self.grid[self.y][px]
                    self.grid[self.y][px] = (c[0] + ch, c[1])
                    continue
                assert 0 <= self.y < self.h and 0 <= self.x + w - 1 < self.w, (self.x, self.y, ch)
                row = self.grid[self.y]
                # like a real terminal: overwriting half of a wide character blanks the other
                for c in range(self.x, self.x + w):
                    if row[c][0] == "" and c > 0:
                        row[c - 1] = (" ", row[c - 1][1])
                    if c + 1 < self.w and row[c + 1][0] == "" and row[c][0] != "":
                        row[c + 1] = (" ", row[c + 1][1])
                row[self.x] = (ch, self.sgr)
                if w == 2:
                    row[self.x + 1] = ("", self.sgr)
                self.x += w


STYLES = [None, Style(bold=True), Style(color="red"), Style(color="red", bgcolor="blue"),
          Style(reverse=True, color="green"), Style(color="#123456", italic=True),
          Style.from_meta({"row": 1})]
CHARS = "abc ▁▂▇█│xyz日本"


def random_strip(rng: random.Random, width: int) -> Strip:
    segs = []
    used = 0
    while used < width:
        style = rng.choice(STYLES)
        text = ""
        for _ in range(rng.randint(1, 8)):
            ch = rng.choice(CHARS)
            cw = 2 if ch in "日本" else 1
            if used + cw > width:
                ch, cw = " ", 1
            text += ch
            used += cw
            if used >= width:
                break
        if rng.random() < 0.05 and text:
            text += "\u0301"  # a combining accent
        segs.append(Segment(text, style))
    return Strip(segs)


def mutate(rng: random.Random, strip: Strip, width: int) -> Strip:
    if rng.random() < 0.3:
        return strip
    if rng.random() < 0.3:
        return random_strip(rng, width)
    a = rng.randrange(width)
    b = min(width, a + rng.randint(1, 12))
    return Strip.join([strip.crop(0, a), random_strip(rng, b - a), strip.crop(b)])


@pytest.mark.parametrize("seed", range(10))
def test_diffed_output_leaves_the_terminal_as_textual_would(seed):
    rng = random.Random(seed)
    w, h = 37, 9
    console = Console(color_system="256", force_terminal=True, width=w)
    assert console._color_system == ColorSystem.EIGHT_BIT
    ref, mine = Term(w, h), Term(w, h)
    diff = ScreenDiff()
    screen = [random_strip(rng, w) for _ in range(h)]
    total_ref = total_mine = 0
    for step in range(80):
        if step and rng.random() < 0.08:
            diff.invalidate()  # e.g. after a resume: what it does not know, it sends
        if step == 0 or rng.random() < 0.25:
            screen = [mutate(rng, s, w) for s in screen]
            update = LayoutUpdate([[s] for s in screen], Region(0, 0, w, h))
        else:
            # a partial update: a few spans; each line cut into two "widgets" at a column
            cut = rng.randint(1, w - 1)
            ys = sorted(rng.sample(range(h), rng.randint(1, h)))
            spans = []
            for y in ys:
                screen[y] = mutate(rng, screen[y], w)
                x1 = rng.randrange(w)
                spans.append((y, x1, rng.randint(x1 + 1, w)))
            chops = [{0: s.crop(0, cut), cut: s.crop(cut)} for s in screen]
            update = ChopsUpdate(chops, spans, [[cut, w] for _ in range(h)])
        out_ref = update.render_segments(console)
        out_mine = diff.render(update, console, Size(w, h))
        ref.feed(out_ref)
        mine.feed(out_mine)
        total_ref += len(out_ref)
        total_mine += len(out_mine)
        assert mine.grid == ref.grid, f"step {step}"
    assert total_mine < total_ref


def test_an_unchanged_repaint_sends_nothing_and_a_small_change_sends_little():
    w, h = 80, 24
    console = Console(color_system="256", force_terminal=True, width=w)
    diff = ScreenDiff()
    line = Strip([Segment("CPU  [|||     ]  12.5%", Style(bold=True)), Segment(" " * 58)])
    lines = [line] * h
    first = diff.render(LayoutUpdate([[s] for s in lines], Region(0, 0, w, h)), console, Size(w, h))
    assert len(first) > w * h
    again = diff.render(LayoutUpdate([[s] for s in lines], Region(0, 0, w, h)), console, Size(w, h))
    assert again == ""
    changed = Strip([Segment("CPU  [|||     ]  12.7%", Style(bold=True)), Segment(" " * 58)])
    lines[3] = changed
    out = diff.render(LayoutUpdate([[s] for s in lines], Region(0, 0, w, h)), console, Size(w, h))
    term = Term(w, h)
    term.feed(first)
    term.feed(out)
    assert "".join(c for c, _ in term.grid[3]).startswith("CPU  [|||     ]  12.7%")
    assert len(out) < 30  # one cursor move, one style, one character


def test_a_new_size_or_invalidate_sends_everything_again():
    w, h = 20, 3
    console = Console(color_system="256", force_terminal=True, width=w)
    diff = ScreenDiff()
    lines = [[Strip([Segment("x" * w)])] for _ in range(h)]
    diff.render(LayoutUpdate(lines, Region(0, 0, w, h)), console, Size(w, h))
    assert diff.render(LayoutUpdate(lines, Region(0, 0, w, h)), console, Size(w, h)) == ""
    diff.invalidate()
    assert "x" * w in diff.render(LayoutUpdate(lines, Region(0, 0, w, h)), console, Size(w, h))
    # a resized terminal: the shadow is not trusted
    assert "x" * w in diff.render(LayoutUpdate(lines, Region(0, 0, w, h)), console, Size(w, h + 1))


# ---------------------------------------------------------------------- end to end in tmux
def _tmux(sock: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True,
                          timeout=10).stdout


def _wait_screen(sock: str, name: str, pred, timeout: float = 20.0) -> str:
    def screen() -> str:
        return _tmux(sock, "capture-pane", "-p", "-t", name)

    return eventually_sync(lambda: (lambda s: s if pred(s) else "")(screen()), timeout,
                           what="the screen to match", last=screen)


def press_until(sock: str, name: str, key: str, pred, attempts: int = 10) -> str:
    """Press ``key`` until the screen matches. A key typed in the first instants can land in
    the (hidden) filter input that Textual auto-focuses before the app sets focus; then
    escape clears the filter and the key is pressed again."""
    for _ in range(attempts):
        _tmux(sock, "send-keys", "-t", name, key)
        try:
            return _wait_screen(sock, name, pred, timeout=2.0)
        except AssertionError:
            if "filter:" in _tmux(sock, "capture-pane", "-p", "-t", name):
                _tmux(sock, "send-keys", "-t", name, "Escape")
    return _wait_screen(sock, name, pred, timeout=2.0)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_in_a_real_terminal_switching_panes_leaves_no_stale_cells(tmp_path):
    sock, name = f"test-screendiff-{id(tmp_path)}", "app"
    env = cli_env({"OPSCONSOLE_DATA_DIR": str(tmp_path / "data"),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    for var in ("COLUMNS", "LINES"):  # pytest-xdist sets them; the terminal's size must win
        env.pop(var, None)
    cmd = f"{sys.executable} -m opsconsole --refresh 0.5"
    subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", name,
                    "-x", "80", "-y", "24", "-c", str(REPO), cmd], env=env, check=True, timeout=10)
    try:
        _wait_screen(sock, name, lambda s: "1 HEALTH" in s and "no checks configured" in s)
        screen = press_until(sock, name, "2",
                             lambda s: "2 RESOURCES" in s and "LOAD" in s and "PID" in s)
        assert "no checks configured" not in screen
        _tmux(sock, "send-keys", "-t", name, "1")
        # nothing of the resources pane survives on screen
        _wait_screen(sock, name, lambda s: "1 HEALTH" in s and "no checks configured" in s
                     and "LOAD" not in s and "PID" not in s)
        # resize: everything is sent again and fits the new size
        _tmux(sock, "resize-window", "-t", name, "-x", "160", "-y", "48")
        screen = _wait_screen(sock, name, lambda s: "2 RESOURCES" in s and "1 HEALTH" in s
                              and "4 BLOCKING LOCKS" in s)
        _tmux(sock, "resize-window", "-t", name, "-x", "80", "-y", "24")
        screen = _wait_screen(sock, name, lambda s: "[1 Health]" in s)
        assert "BLOCKING LOCKS" not in screen.split("\n", 2)[2]
    finally:
        _tmux(sock, "kill-server")
