"""The war-room wall (opsconsole wall, the console's W): what it shows from a real store,
that it changes nothing whatever is pressed, that it follows what the CLI records, and
that no name is cut at any size."""

from __future__ import annotations

import asyncio
import re

import pytest

from hostdata import FIXED_NOW
from opsconsole.ui import glyphs
from opsconsole.ui.wall.app import WallApp
from opsconsole.ui.wall.screen import QuitWall, WallScreen
from screentext import screen_lines, screen_text
from uihelpers import make_app, wait_for
from wallhelpers import (
    ALERT,
    CHECK,
    NEXT_TITLE,
    RUNBOOK_TITLE,
    STEP_TITLE,
    TITLE,
    filled_store,
    fixed_sample,
    next_step,
)

# every key the console acts on somewhere (panes, screens, modals, hotkeys), and then some
MUTATING_KEYS = ["i", "n", "K", "k", "a", "A", "S", "s", "r", "R", "t", "x", "X", "enter",
                 "1", "2", "3", "4", "5", "6", "9", "0", "v", "m", "o", "h", "e", "c", "p",
                 "z", "L", "W", "y", "d", "D", "slash", "plus", "minus", "tab", "shift+tab",
                 "space", "delete", "ctrl+p", "ctrl+q", "ctrl+c", "question_mark", "f1"]


def wall_app(data_dir, **kw) -> WallApp:
    kw.setdefault("host_sample", fixed_sample)
    return WallApp(data_dir=data_dir, clock=lambda: FIXED_NOW, hostname="ops-01",
                   next_step=next_step, **kw)


def wall_of(app) -> WallScreen:
    return next(s for s in app.screen_stack if isinstance(s, WallScreen))


async def read_once(pilot) -> WallScreen:
    await wait_for(pilot, lambda: any(isinstance(s, WallScreen) and s.polls >= 1
                                      for s in pilot.app.screen_stack), 30,
                   "the wall's first read of the store")
    await pilot.pause()
    return wall_of(pilot.app)


def flat(app) -> str:
    """The screen's text with the lines joined (a wrapped title reads whole)."""
    return re.sub(r"\s+", " ", " ".join(screen_lines(app)))


async def test_the_wall_shows_the_incident_step_alert_and_check(tmp_path):
    filled_store(tmp_path).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await read_once(pilot)
        text = flat(app)
        for want in ("SEV1", "IDENTIFIED", "INC-20261124-1", TITLE, "RESPONSE OVERDUE BY",
                     "bob.okonkwo-smith", "carmen.delacroix-hernandez", "commander none",
                     RUNBOOK_TITLE, f"step 2: {STEP_TITLE}", "by alice.lindqvist@ops-01",
                     "for 3m", f"next: {NEXT_TITLE}", "FIRING", ALERT, "CRITICAL", CHECK,
                     "for 14m", "LIVE", "host ops-01", "ALSO OPEN (1)", "INC-20261124-2"):
            assert want in text, want
        # the newest event first
        assert text.index("Status → identified") < text.index("Note: pgbouncer")


async def test_the_host_figures_are_on_the_wall_with_the_full_disk_marked(tmp_path):
    filled_store(tmp_path).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:  # one line, no sparklines
        await read_once(pilot)
        await wait_for(pilot, lambda: "CPU" in flat(app), 10, "the host figures")
        assert re.search(r"HOST ops-01 CPU 23% MEM 61% LOAD/CORE 0\.40 DISK / 93% (!|⚠) HIGH",
                         flat(app)), flat(app)
        await pilot.resize_terminal(200, 50)  # a line each, with a sparkline
        await wait_for(pilot, lambda: any(re.search(r"DISK / +93% +\S+ +(!|⚠) HIGH", line)
                                          for line in screen_lines(app)), 10,
                       "the figures as rows")


async def test_a_real_host_sample_reads_this_machine():
    import psutil

    from opsconsole.ui.wall.figures import read_host

    s = read_host()
    assert 0 <= s.cpu <= 100 and 0 < s.mem <= 100 and s.load >= 0
    assert abs(s.root - psutil.disk_usage("/").percent) < 5


async def test_below_120x36_the_clocks_are_text(tmp_path):
    filled_store(tmp_path).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        wall = await read_once(pilot)
        assert not wall.query_one("#wall-clocks").display
        # in words: to the second under ten minutes, to the minute beyond
        assert ("since start 11m · response ! OVERDUE 6m00s · next update due in 22m"
                in flat(app)), flat(app)
        await pilot.resize_terminal(140, 40)
        await wait_for(pilot, lambda: wall.query_one("#wall-clocks").display, 10,
                       "big digits at 140x40")
        # the big digits: m:ss under ten minutes, h:mm beyond, and the label says which
        assert wall.query_one("#wall-response").value == "-6:00"
        assert "RESPONSE OVERDUE BY m:ss" in flat(app)
        assert wall.query_one("#wall-since").value == "0:11"
        assert "SINCE START h:mm" in flat(app)


async def test_no_open_incident_shows_what_is_not_green(tmp_path):
    filled_store(tmp_path, incident=False).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await read_once(pilot)
        text = flat(app)
        assert "NO OPEN INCIDENT" in text and "NOT GREEN" in text
        assert f"FIRING alert {ALERT} for 12m" in text
        assert f"CRITICAL check {CHECK} for 14m · HTTP 503 from /health" in text
        assert "disk_root_full" not in text  # inactive: green, not listed
        assert "ALL GREEN" not in text


async def test_alert_states_nobody_evaluates_any_more_say_stale(tmp_path):
    """Nobody holds the evaluator lease: the FIRING shown is what was last recorded, and
    the board says so (the whole wall is LIVE: the store itself was read)."""
    filled_store(tmp_path, incident=False, evaluator=False).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await read_once(pilot)
        text = flat(app)
        assert ("ALERTS STALE no evaluator is running: alert states as recorded 12m ago"
                in text), text
        assert f"FIRING alert {ALERT}" in text and "LIVE" in text


async def test_an_evaluator_that_stopped_renewing_is_named_on_the_board(tmp_path):
    from wallhelpers import hold_lease

    store = filled_store(tmp_path, incident=False, evaluator=False)
    hold_lease(store, renewed_minutes_before=7, ttl=15)
    store.close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await read_once(pilot)
        text = flat(app)
        assert re.search(r"ALERTS STALE the evaluator \(pid \d+ on [^)]+\) stopped 7m ago",
                         text), text


async def test_a_live_evaluator_means_no_stale_banner(tmp_path):
    filled_store(tmp_path, incident=False).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await read_once(pilot)
        assert "ALERTS STALE" not in flat(app) and f"FIRING alert {ALERT}" in flat(app)


async def test_an_empty_store_is_all_green(tmp_path):
    from opsconsole.incidents.store import open_store

    open_store(tmp_path).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await read_once(pilot)
        assert "ALL GREEN" in flat(app) and "NO OPEN INCIDENT" in flat(app)


async def test_no_store_yet_is_not_an_error_and_the_wall_waits_for_one(tmp_path):
    app = wall_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await read_once(pilot)
        assert "NO OPEN INCIDENT" in flat(app)
        assert not (tmp_path / "incidents.db").exists()  # the wall creates nothing
        filled_store(tmp_path).close()
        await wait_for(pilot, lambda: TITLE in flat(app), 30, "the incident, once recorded")


async def test_the_wall_app_has_no_key_but_q_and_no_palette(tmp_path):
    filled_store(tmp_path).close()
    app = wall_app(tmp_path)
    assert app.ENABLE_COMMAND_PALETTE is False and not app.COMMANDS
    async with app.run_test(size=(120, 40)) as pilot:
        wall = await read_once(pilot)
        assert set(wall._bindings.key_to_bindings) == {"q", "escape"}
        assert not app._bindings.key_to_bindings  # no app binding (not even ctrl+q)
        store = app.store
        before = store.last_seq()
        for key in MUTATING_KEYS:
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is wall, f"{key} opened {app.screen!r}"
        assert store.last_seq() == before
        assert app.is_running


async def test_q_asks_and_only_y_quits(tmp_path):
    filled_store(tmp_path).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await read_once(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitWall), 10, "the question")
        assert "Quit the wall?" in screen_text(app)
        app.screen.opened -= 1.0  # as if read for a second (keys at once are ignored)
        await pilot.press("q")  # q again is no yes
        await wait_for(pilot, lambda: isinstance(app.screen, WallScreen), 10, "back on the wall")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitWall), 10, "asked again")
        app.screen.opened -= 1.0
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, 10, "quit on y")


async def test_w_in_the_console_shows_the_wall_and_its_keys_change_nothing(tmp_path):
    """The console's mutating keys (declare, note, runbooks, alert ack/silence, pane
    actions, hotkeys...) do nothing on the wall: nothing is recorded, nothing opens."""
    from opsconsole.config import AppConfig
    from opsconsole.runbooks.config import Hotkey

    store = filled_store(tmp_path)
    before = store.last_seq()
    cfg = AppConfig(hotkeys=[Hotkey(key="F", runbook="pg-connections", step=1)])
    app = make_app(cfg, data_dir=tmp_path, sink=None, alert_interval=3600.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.incident_store is not None, 30, "the store open")
        await pilot.press("W")
        wall = await read_once(pilot)
        assert wall.from_console
        assert TITLE in flat(app)
        for key in [*MUTATING_KEYS, "F"]:
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is wall, f"{key} opened {app.screen!r}"
        assert store.last_seq() == before  # nothing recorded
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, WallScreen), 10,
                       "back to the console")
    store.close()


async def test_a_note_recorded_by_the_cli_appears_on_the_wall(tmp_path, run_cli):
    data = tmp_path / "cli-data"  # where run_cli's opsconsole records
    data.mkdir()
    store = filled_store(data)
    iid = store.incidents()[0]
    store.close()
    app = WallApp(data_dir=data, hostname="ops-01", next_step=next_step)  # the real clock
    async with app.run_test(size=(200, 50)) as pilot:
        await read_once(pilot)
        done = await asyncio.to_thread(run_cli, "incident", "note", iid,
                                       "failover to replica db-2 started")
        assert done.returncode == 0, done.stderr
        await wait_for(pilot, lambda: "Note: failover to replica db-2 started" in flat(app),
                       30, "the CLI's note on the wall", )
        # newest first: the note tops the last events
        lines = [ln for ln in screen_lines(app) if "Note:" in ln]
        assert "failover to replica db-2 started" in lines[0]


SIZES = [(80, 24), (100, 30), (120, 36), (160, 48), (200, 50), (320, 90), (400, 100)]
WHOLE = ["INC-20261124-1", "bob.okonkwo-smith", "carmen.delacroix-hernandez",
         "alice.lindqvist@ops-01", ALERT, CHECK, "SEV1", "IDENTIFIED", "OVERDUE"]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_no_name_is_cut_at_any_size(tmp_path, size):
    filled_store(tmp_path).close()
    app = wall_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await read_once(pilot)
        lines = screen_lines(app)
        for name in WHOLE:  # on one line, whole (a name wraps whole, never split)
            assert any(name in ln for ln in lines), (name, size, "\n".join(lines))
        text = flat(app)
        for title in (TITLE, RUNBOOK_TITLE, STEP_TITLE, NEXT_TITLE):
            assert title in text, (title, size)
        assert "…" not in text and "..." not in text  # nothing ellipsised


async def test_ascii_terminals_get_state_in_words(tmp_path):
    filled_store(tmp_path).close()
    app = wall_app(tmp_path, ascii=True)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await read_once(pilot)
            text = flat(app)
            for word in ("OVERDUE", "FIRING", "CRITICAL", "RUNNING", "LIVE", "IDENTIFIED"):
                assert word in text
            # the wall's own marks are ASCII (the output layer makes the rest so: ui/compat)
            assert "▶" not in text and "●" not in text and "RUNNING" in text
    finally:
        glyphs.configure(False)


async def test_the_wall_redraws_each_second_only_while_a_deadline_is_near(tmp_path):
    """Each redraw costs every browser viewer (bench_serve.py): the wall redraws only when
    what it shows changes — each second while a deadline's clock is under ten minutes (the
    response overdue by 6 min), else when a clock's minute turns (since start and the step's
    3 min are to the minute)."""
    from datetime import timedelta

    filled_store(tmp_path).close()
    now = [FIXED_NOW]
    app = WallApp(data_dir=tmp_path, clock=lambda: now[0], hostname="ops-01",
                  next_step=next_step, host_sample=fixed_sample)
    async with app.run_test(size=(200, 50)) as pilot:
        wall = await read_once(pilot)
        assert wall.next_draw_in <= 1.05
        assert "for 3m" in flat(app) and "for 3m00s" not in flat(app)
        assert wall.query_one("#wall-response").value == "-6:00"
        # 35 min on: the response 41 min overdue, the update 13 min overdue, the other
        # incident's response 35 min overdue: all to the minute
        now[0] = FIXED_NOW + timedelta(minutes=35)
        wall.draw()
        assert wall.next_draw_in > 1.5, wall.next_draw_in
        assert wall.query_one("#wall-response").value == "-0:41"
        assert "RESPONSE OVERDUE BY h:mm" in flat(app)
        now[0] = FIXED_NOW + timedelta(days=2)
        wall.draw()
        assert wall.next_draw_in > 1.5, wall.next_draw_in
        assert wall.query_one("#wall-since").value == "48:11"
        assert "SINCE START h:mm" in flat(app) and "for 2d00h" in flat(app)


async def test_a_near_deadline_counts_down_by_itself(tmp_path):
    """The real clock, a SEV1 declared now (5 min to acknowledge): the response clock counts
    seconds with no new data (each draw schedules the next); since start is to the
    minute."""
    from opsconsole.incidents.store import open_store

    with open_store(tmp_path) as store:
        store.declare(TITLE, "SEV1", ["checkout"])
    app = WallApp(data_dir=tmp_path, hostname="ops-01", host_sample=fixed_sample)
    async with app.run_test(size=(200, 50)) as pilot:
        wall = await read_once(pilot)
        digits = wall.query_one("#wall-response")
        seen = {digits.value}
        await wait_for(pilot, lambda: seen.add(digits.value) or len(seen) >= 3, 15,
                       "the response clock counting down")
        assert all(re.fullmatch(r"[0-4]:\d\d", v) for v in seen), seen
        assert wall.query_one("#wall-since").value == "0:00"


async def test_a_read_that_hangs_turns_the_wall_stale(tmp_path):
    """The follower's read never returns (a locked store, a hung mount): nothing wakes the
    UI, yet LIVE turns STALE once the last read is older than STALE_AFTER."""
    import threading
    from datetime import timedelta

    filled_store(tmp_path).close()
    now = [FIXED_NOW + timedelta(days=2)]  # every clock past ten minutes: no redraw each second
    app = WallApp(data_dir=tmp_path, clock=lambda: now[0], hostname="ops-01",
                  next_step=next_step, host_sample=fixed_sample)
    hang, inside = threading.Event(), threading.Event()

    def hanging_poll() -> bool:
        inside.set()
        hang.wait()
        return False

    async with app.run_test(size=(200, 50)) as pilot:
        wall = await read_once(pilot)
        assert re.search(r"data read within 5s +LIVE", " ".join(screen_lines(app)))
        wall.follower.poll = hanging_poll  # type: ignore[method-assign]
        await wait_for(pilot, inside.is_set, 10, "the follower inside the hanging read")
        assert wall.next_draw_in > 1.5
        now[0] += timedelta(days=1)  # the last read is a day old
        try:
            await wait_for(pilot, lambda: re.search(r"data 1d00h old +STALE",
                                                    " ".join(screen_lines(app))), 10,
                           "STALE in the small print")
        finally:
            hang.set()
