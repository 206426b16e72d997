"""Hostile text in the console: PostgreSQL query text, runbook titles and step output,
incident fields and ``$USER`` are drawn visibly, never sent to the terminal as control
sequences; Rich/Textual markup in them is drawn literally."""

from __future__ import annotations

import asyncio
import html
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from rich.console import Console
from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Input, RichLog, Static

from conftest import cli_env
from opsconsole.config import AppConfig, parse_config
from opsconsole.events import Actor
from opsconsole.incidents.store import SQLiteStore
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.schema import Duration
from opsconsole.ui import compat
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.screens.incident import IncidentScreen
from opsconsole.ui.screens.pg import TextScreen
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from opsconsole.ui.screens.runbook_walkthrough import RunbookParamsScreen, RunbookScreen
from opsconsole.ui.widgets import TimelineView
from uihelpers import make_app, wait_for

HOSTILE_QUERY = "select '\x1b]0;PWN\x07 \x9b2J [KMG]' as x, pg_sleep(30)"
BAD = {"\x1b", "\x07", *map(chr, range(0x80, 0xA0))}


def controls(text: str) -> set[str]:
    return {ch for ch in text if ch in BAD}


def strips_text(widget) -> str:
    """What the widget's lines hold, as the compositor would send them."""
    region = Region(0, 0, widget.size.width, widget.size.height)
    return "\n".join("".join(seg.text for seg in strip) for strip in widget.render_lines(region))


def assert_screen_clean(app) -> str:
    """The screenshot holds no control character; returns its text (entities decoded)."""
    svg = app.export_screenshot()
    assert controls(svg) == set()
    text = html.unescape(svg).replace("\u00a0", " ")
    assert controls(text) == set()
    return text


@pytest.mark.pg
async def test_hostile_query_text_in_the_slow_pane_and_its_details(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    victim = await asyncpg.connect(dsn)
    task = asyncio.create_task(victim.execute(HOSTILE_QUERY))
    cfg = AppConfig(databases=[DatabaseTarget("main", dsn)],
                    postgres=PostgresOptions(min_duration=Duration(0.1)))
    app = OpsConsoleApp(cfg, RunOptions(refresh=0.5, data_dir=tmp_path), Services())
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("3", "z")  # zoomed: the QUERY column is wide enough
            pane = app.pane("slow")
            table = pane.query_one("DataTable")

            def shown() -> bool:
                return any("PWN" in str(c) for i in range(table.row_count)
                           for c in table.get_row_at(i))

            await wait_for(pilot, shown, timeout=20)
            row = next(table.get_row_at(i) for i in range(table.row_count)
                       if any("PWN" in str(c) for c in table.get_row_at(i)))
            cell = next(str(c) for c in row if "PWN" in str(c))
            assert "␛]0;PWN␇ <U+009B>2J [KMG]" in cell  # visible, markup drawn literally
            await wait_for(pilot, lambda: "␛]0;PWN␇" in assert_screen_clean(app))
            # the details modal of that backend
            table.move_cursor(row=next(i for i in range(table.row_count)
                                       if any("PWN" in str(c) for c in table.get_row_at(i))))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
            await pilot.pause()
            body = app.screen.query_one("#pg-text-body", Static)
            lines = strips_text(body)
            assert controls(lines) == set() and "␛]0;PWN␇ <U+009B>2J [KMG]" in lines
            await wait_for(pilot, lambda: "␛]0;PWN␇" in assert_screen_clean(app))
    finally:
        victim.terminate()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def evil_runbooks(tmp_path: Path) -> Path:
    d = tmp_path / "rb"
    d.mkdir()
    (d / "evil.yaml").write_text(
        'id: evil\n'
        'title: "Evil \\e]0;TITLE\\a runbook"\n'
        'params:\n'
        '  - name: size\n'
        '    pattern: "^[0-9]+[KMG]$"\n'
        '    default: 10K\n'
        'steps:\n'
        '  - title: "print \\e]0;STEP\\a"\n'
        '    kind: shell\n'
        "    run: printf '\\033]0;X\\007\\033[2J\\302\\233K\\n'; echo after-the-escapes\n")
    return d


async def test_runbook_title_params_pattern_and_step_output(tmp_path):
    app = make_app(parse_config(f"runbook_dirs: [{evil_runbooks(tmp_path)}]\n"),
                   data_dir=tmp_path / "data")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen)
                       and bool(app.screen.shown))
        await pilot.press(*"evil")
        await wait_for(pilot, lambda: app.screen.shown and app.screen.shown[0].runbook
                       and app.screen.shown[0].runbook.id == "evil")
        await pilot.pause()
        detail = str(app.screen.query_one("#runbook-picker-detail", Static).render())
        assert "Evil ␛]0;TITLE␇ runbook" in detail
        await wait_for(pilot, lambda: "Evil ␛]0;TITLE␇ runbook" in assert_screen_clean(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen))
        await pilot.pause()
        label = str(app.screen.query_one(".runbook-param-label", Static).render())
        assert "pattern ^[0-9]+[KMG]$" in label  # not eaten as markup
        await wait_for(pilot, lambda: "[KMG]" in assert_screen_clean(app))
        app.screen.query_one("#param-size", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        assert "Evil ␛]0;TITLE␇ runbook" in str(screen.query_one("#runbook-title", Static).render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.states[0] == "ok")
        log = screen.query_one("#runbook-output", RichLog)

        def log_text() -> str:
            return "\n".join(strip.text for strip in log.lines)

        await wait_for(pilot, lambda: "after-the-escapes" in log_text())
        assert "␛]0;X␇␛[2J<U+009B>K" in log_text() and controls(log_text()) == set()
        await pilot.pause()
        await wait_for(pilot, lambda: "␛]0;X␇␛[2J<U+009B>K" in assert_screen_clean(app))


async def test_incident_fields_and_actor_on_the_incident_screen(tmp_path):
    store = SQLiteStore(tmp_path / "incidents.db")
    evil = Actor("evil\x1b[2J", None, None, "ops1")
    iid = store.declare("db \x1b]0;PWN\x07 down [b]x[/b]", "SEV2",
                        ["\x1b]52;c;aGFja2Vk\x07"], actor=evil,
                        extra={"commander": "bob\x9b2J"}).incident_id
    store.append("incident.note", {"text": "saw \x1b]0;N\x07 [KMG]"}, incident_id=iid,
                 actor=evil)
    app = make_app(data_dir=tmp_path, incident_store=store)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("5")
            pane = app.pane("incidents")
            await wait_for(pilot, lambda: iid in pane.states)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen))
            view = app.screen.query_one(TimelineView)
            await wait_for(pilot, lambda: "saw ␛]0;N␇ [KMG]" in view.plain)
            await pilot.pause()
            screen = assert_screen_clean(app)
            for shown in ("␛]52;c;aGFja2Vk␇", "bob<U+009B>2J", "evil␛[2J"):
                assert shown in screen
    finally:
        store.close()


def test_last_line_of_defence_cleans_compositor_updates():
    """A path that forgets to neutralise still cannot send ESC/BEL/C1: the update the
    compositor hands the driver shows them visibly and keeps its cell length."""
    console = Console(force_terminal=True, color_system="truecolor", width=40)
    raw = Strip([Segment("a\x1b]0;PWN\x07b\x9b2J "), Segment("       ")])
    n = raw.cell_length  # ESC, BEL and the C1 take no cell
    for update in (compat.LayoutUpdate([[raw]], Region(0, 0, n, 1)),
                   compat.ChopsUpdate([{0: raw}], [(0, 0, n)], [[n]])):
        assert "\x1b]0;PWN" in update.render_segments(console)  # what Textual would send
        cleaned = compat.clean_update(update)
        out = cleaned.render_segments(console)
        assert "\x1b]" not in out and "\x07" not in out and "\x9b" not in out
        assert "a␛]0;PWN␇b\ufffd2J" in out  # one cell each: only the padding is cut
        strips = (cleaned.strips[0] if isinstance(cleaned, compat.LayoutUpdate)
                  else list(cleaned.chops[0].values()))
        assert [s.cell_length for s in strips] == [n]
    clean = compat.LayoutUpdate([[Strip([Segment("plain text")])]], Region(0, 0, 10, 1))
    assert compat.clean_update(clean) is clean  # nothing to do: the same object


@pytest.mark.pg
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("full_repaint", [False, True])
async def test_the_bytes_sent_to_a_real_terminal_never_carry_the_hostile_osc(
        pg_cluster, tmp_path, full_repaint):
    """The console in tmux, every byte it writes captured with ``pipe-pane``: the query's
    OSC 0 and 8-bit CSI are drawn (visibly) but never sent; with the cell diff and with
    Textual's own full repaints (``OPSCONSOLE_FULL_REPAINT=1``)."""
    from test_cli_shell import Tmux

    dsn = pg_cluster.dsn()
    victim = await asyncpg.connect(dsn)
    task = asyncio.create_task(victim.execute(HOSTILE_QUERY))
    await asyncio.sleep(0.1)  # the query is on its way to the server
    env = cli_env({"TERM": "xterm-256color", "OPSCONSOLE_DATA_DIR": str(tmp_path / "d"),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    for var in ("COLUMNS", "LINES"):  # pytest-xdist sets them; the terminal's size must win
        env.pop(var, None)
    stream = tmp_path / "bytes-written"
    prefix = "env OPSCONSOLE_FULL_REPAINT=1 " if full_repaint else ""
    cmd = f"{prefix}{sys.executable} -m opsconsole --refresh 0.5 --dsn {shlex.quote(dsn)}"
    t = Tmux(160, 48, env, cmd)
    try:
        subprocess.run(["tmux", "-L", t.sock, "pipe-pane", "-t", "t", "-o",
                        f"cat >> {shlex.quote(str(stream))}"], check=True, timeout=10)
        t.wait_for("SLOW QUERIES")
        t.keys("3")
        t.wait_for("PWN", timeout=30)
        t.keys("Enter")
        t.wait_for("query:", timeout=20)
        t.wait_for("backend start")
        await asyncio.sleep(0)  # keep the victim's connection serviced
        t.keys("Escape")
        t.wait_for("SLOW QUERIES")
        data = stream.read_bytes()
        assert "␛]0;PWN␇".encode() in data  # it was drawn, visibly
        assert b"\x1b]0;PWN" not in data and b"PWN\x07" not in data
        assert b"\xc2\x9b" not in data and b"\x9b2J" not in data
    finally:
        t.kill()
        victim.terminate()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
