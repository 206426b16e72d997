"""What a small (or a very wide) terminal shows: text columns get the width the screen has,
names are never cut, timeline entries wrap, details modals scroll under a fixed "escape
closes" line, and the ``/`` filter shows what is typed. Asserted on the rendered screen."""

from __future__ import annotations

import dataclasses
import re
import sys
from datetime import timedelta
from typing import Any

import pytest

from conftest import cli_env
from opsconsole import events as ev
from opsconsole.config import AppConfig
from opsconsole.incidents.sink import MemorySink
from opsconsole.incidents.store import SQLiteStore
from opsconsole.postgres.model import ActivitySnapshot
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.screens.incident import IncidentScreen
from opsconsole.ui.screens.pg import TextScreen
from opsconsole.ui.widgets import TimelineView
from opsconsole.ui.widgets.columns import fit_columns
from screentext import screen_lines
from ui.test_cli_shell import TMUX, Tmux
from ui.test_health_pane import (
    SPECS,
    FixedHost,
    HealthDetailsScreen,
    T,
    _never,
    _settle,
    filled_tracker,
    result,
)
from ui.test_incident_ui import ALICE, BOB, make_app, ready, seed, until
from ui.test_pg_snapshots import BACKENDS, FixedPgSource, _ready, fixed_app

SIZES = [(80, 24), (200, 50)]


def row_with(app: Any, marker: str, start: bool = True) -> str:
    """The first screen line starting with ``marker`` (or holding it), not the preview."""
    lines = [ln for ln in screen_lines(app) if "▸" not in ln
             and (ln.lstrip().startswith(marker) if start else marker in ln)]
    assert lines, f"no screen line with {marker!r}:\n" + "\n".join(screen_lines(app))
    return lines[0]


def test_fit_columns_gives_the_text_column_the_rest_and_drops_the_least_useful_first():
    widths = {"PID": 7, "STATE": 25, "APP": 16, "QUERY": 100}
    assert fit_columns(("PID", "STATE", "QUERY", "APP"), widths, 200, "QUERY", ("APP",)) == [
        ("PID", 7), ("STATE", 25), ("QUERY", 200 - 9 - 27 - 18 - 2), ("APP", 16)]
    assert fit_columns(("PID", "STATE", "QUERY", "APP"), widths, 80, "QUERY", ("APP",)) == [
        ("PID", 7), ("STATE", 25), ("QUERY", 80 - 9 - 27 - 2)]


@pytest.mark.parametrize("size", SIZES)
async def test_running_now_rows_show_their_query(size):
    app = fixed_app()
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, "slow")
        assert "ALTER TABLE accounts ADD" in row_with(app, "4251 ")
        line = row_with(app, "4300 ")
        query = line[line.index("SELECT o.id"):].rstrip()
        assert query.endswith("…") or query.endswith("GROUP BY 1")  # cut at its end only


@pytest.mark.parametrize("size", SIZES)
async def test_top_statements_rows_show_their_query(size):
    app = fixed_app()
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, "slow", ("v",))
        await until(pilot, lambda: app.pane("slow").table.row_count == 5, "top rows")
        await pilot.pause()
        assert "SELECT * FROM accounts" in row_with(app, "206 ")
        assert "INSERT INTO events" in row_with(app, "1,300 ")


END = "AND marker_at_the_very_end = 42"
LONG_QUERY = "SELECT " + ", ".join(f"column_number_{i}" for i in range(120)) + \
    " FROM wide_table WHERE " + END


class LongQuerySource(FixedPgSource):
    async def activity(self, min_duration: float | None = None) -> ActivitySnapshot:
        snap = await super().activity(min_duration)
        first = dataclasses.replace(BACKENDS[0], query=LONG_QUERY)
        return dataclasses.replace(snap, backends=(first, *BACKENDS[1:]))


def long_query_app() -> OpsConsoleApp:
    return OpsConsoleApp(AppConfig(), RunOptions(refresh=60.0, data_dir=None),
                         Services(clock=fixed_app().services.clock, sink=MemorySink(),
                                  hostname="ops1", pg_source=LongQuerySource()))


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_details_modal_scrolls_to_the_end_of_the_query_under_a_fixed_escape_line(size):
    app = long_query_app()
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, "slow")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TextScreen), "details")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "escape closes" in text and "marker_at_the_very_end" not in text
        await pilot.press("pagedown")
        await pilot.pause()
        assert "escape closes" in "\n".join(screen_lines(app))
        await pilot.press("end")
        await pilot.pause()
        lines = screen_lines(app)
        text = "\n".join(lines)
        assert "escape closes" in text
        # the whole query is there, wrapped inside the box: its end is on screen now
        assert "marker_at_the_very_end = 42" in re.sub(r"\s*│\s*│?\s*", " ", text)
        await pilot.press("home")
        await pilot.pause()
        assert "pid            4242" in "\n".join(screen_lines(app))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TextScreen), "closed")


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_health_details_scroll_under_a_fixed_escape_line(size):
    tracker = filled_tracker()
    for i in range(40):  # a long history of changes
        tracker.update(result("disk-check-plugin", "UNKNOWN" if i % 2 else "OK",
                              f"flap {i:02d}", 250 - i * 5, kind="command"))
    app = OpsConsoleApp(AppConfig(checks=SPECS), RunOptions(refresh=60.0), Services(
        clock=lambda: T, host_collector=FixedHost(), sink=MemorySink(), hostname="ops-1",
        check_runner=_never, check_tracker=tracker))
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        await pilot.press("1", "slash", *"disk-check", "enter", "enter")
        await until(pilot, lambda: isinstance(app.screen, HealthDetailsScreen), "details")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "escape closes" in text and "flap 00" not in text  # newest change first
        await pilot.press("end")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "escape closes" in text and "flap 00" in text


@pytest.mark.parametrize("size", SIZES)
async def test_filter_box_shows_what_is_typed(size):
    app = fixed_app()
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, "slow")
        await pilot.press("slash", *"accou")
        await pilot.pause()
        assert app.pane("slow").filter_text == "accou"
        # its own row (the header says "filter: accou" too)
        assert [ln for ln in screen_lines(app) if re.match(r"\s*accou(\s|$)", ln)], \
            "\n".join(screen_lines(app))


@pytest.mark.parametrize("size,zoom", [((80, 24), False), ((200, 50), True),
                                       ((300, 80), True)])
async def test_incident_rows_show_the_whole_commander(tmp_path, size, zoom):
    store = SQLiteStore(tmp_path / "incidents.db")
    seed(store)
    app = make_app(tmp_path, store)
    try:
        async with app.run_test(size=size) as pilot:
            await ready(pilot, app)
            await pilot.press("5", *("z",) if zoom else ())
            pane = app.pane("incidents")
            await until(pilot, lambda: len(pane.states) == 3 and pane.polls > 0, "rows")
            # a new incident, on screen with no commander; one is named a moment later
            iid = store.declare("Checkout returns 500s", "SEV1", [], actor=BOB).incident_id
            await until(pilot, lambda: iid in pane.states, "the new row")
            await pilot.pause()
            store.append(ev.ROLE_ASSIGNED, {"role": "commander", "person": "alexandra.k"},
                         incident_id=iid, actor=BOB)
            await until(pilot, lambda: pane.states[iid].roles.get("commander") == "alexandra.k",
                        "new commander")
            await pilot.pause()
            line = row_with(app, iid, start=False)
            assert re.search(r"(^|\s)alexandra\.k(\s|$)", line), line
            if size[0] >= 200:
                assert "Checkout returns 500s" in line and "…" not in line
    finally:
        store.close()


@pytest.mark.parametrize("size", SIZES)
async def test_a_long_timeline_sentence_is_wrapped_not_cut(tmp_path, size):
    store = SQLiteStore(tmp_path / "incidents.db")
    iid = store.declare("Wide", "SEV2", actor=ALICE).incident_id
    words = [f"word{i:03d}" for i in range(60)]
    store.append(ev.NOTE, {"text": " ".join(words)}, incident_id=iid, actor=BOB,
                 ts=store.events(iid)[0].ts + timedelta(minutes=1))
    app = make_app(tmp_path, store)
    try:
        async with app.run_test(size=size) as pilot:
            await ready(pilot, app)
            from opsconsole.ui.flows import open_incident

            open_incident(app, iid)
            await until(pilot, lambda: isinstance(app.screen, IncidentScreen)
                        and app.screen.loaded and "word059" in
                        app.screen.query_one(TimelineView).plain, "timeline")
            await pilot.pause()
            shown = " ".join(screen_lines(app)).split()
            assert all(w in shown for w in words), "\n".join(screen_lines(app))
    finally:
        store.close()


async def test_keys_typed_right_after_slash_never_reach_the_pane():
    """Over a laggy link "/" and the next keys arrive together: "c" must not mean cancel."""
    from textual import events

    from opsconsole.ui.panes.base import FilterInput

    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, "slow")
        for key in ("slash", "c", "c"):  # queued at once, as one read from the terminal
            app.post_message(events.Key(key, "/" if key == "slash" else key))
        await until(pilot, lambda: isinstance(app.focused, FilterInput), "filter focused")
        await pilot.pause(0.2)
        assert app.screen.id == "main"  # no confirmation modal: "c" did not cancel
        await pilot.press("x")
        await until(pilot, lambda: app.pane("slow").filter_text.endswith("x"), "typed")


@pytest.mark.tmux
@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
@pytest.mark.parametrize("size", SIZES)
def test_filter_text_is_visible_in_a_real_terminal(tmp_path, size):
    env = cli_env({"TERM": "xterm-256color", "OPSCONSOLE_DATA_DIR": str(tmp_path / "d"),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    t = Tmux(*size, env, f"{sys.executable} -m opsconsole --refresh 1; sleep 30")
    try:
        t.keys("2")
        t.wait_for("▶ 2 RESOURCES")
        t.keys("/")
        t.wait_for("filter… (enter keeps")
        t.keys("z", "z", "9")
        t.wait_for("filter: zz9")  # the header says it; the box's own row shows it too
        assert re.search(r"^\s*zz9(\s|$)", t.capture(), re.M), t.capture()
    finally:
        t.kill()
