"""``q`` asks first while an incident is active or a runbook step runs (``y`` quits, a
double-tapped ``q`` does not); quitting while a step runs stops it and records why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_incident_ui import make_app as make_store_app
from test_incident_ui import ready, until
from test_runbook_ui import cfg_for

from opsconsole import events as ev
from opsconsole.incidents.describe import describe
from opsconsole.incidents.store import SQLiteStore
from opsconsole.ui import confirm
from opsconsole.ui.quitting import QUIT_REASON, QuitConfirm
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from opsconsole.ui.screens.runbook_walkthrough import RunbookScreen
from uihelpers import make_app, wait_for


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "incidents.db")
    yield s
    s.close()


@pytest.fixture(autouse=True)
def long_guard(monkeypatch):
    """A guard no loaded test machine outlasts; past_guard() ends it by back-dating."""
    monkeypatch.setattr(confirm, "GUARD_SECONDS", 60.0)


async def past_guard(pilot, screen: QuitConfirm) -> None:
    screen.opened = time.monotonic() - confirm.GUARD_SECONDS  # as if read for a minute
    await pilot.pause()


async def test_q_quits_at_once_without_an_incident_or_a_running_step(tmp_path, store):
    app = make_store_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("q")
        await until(pilot, lambda: app.return_code == 0, "the console to exit")
        assert not isinstance(app.screen, QuitConfirm)


async def test_q_with_an_active_incident_asks_and_a_double_q_does_not_quit(tmp_path, store):
    iid = store.declare("API 500s", "SEV2", ["api"]).incident_id
    app = make_store_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.active_incident = iid
        await pilot.press("q", "q", "y")  # a double tap, and a y typed before it could be read
        await until(pilot, lambda: isinstance(app.screen, QuitConfirm), "the question")
        screen = app.screen
        assert app.return_code is None
        assert any(f"Incident {iid} is active" in str(s.render()) for s in screen.query("Static"))
        await past_guard(pilot, screen)
        await pilot.press("q")  # q never answers
        assert app.screen is screen and app.return_code is None
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, QuitConfirm), "back")
        assert app.return_code is None
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitConfirm), "the question again")
        await past_guard(pilot, app.screen)
        await pilot.press("y")
        await until(pilot, lambda: app.return_code == 0, "the console to exit")


async def test_quitting_in_read_only_records_nothing(tmp_path, store):
    iid = store.declare("API 500s", "SEV2", ["api"]).incident_id
    before = len(store.events(iid))
    app = make_store_app(tmp_path, store, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.active_incident = iid
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitConfirm), "the question")
        await past_guard(pilot, app.screen)
        await pilot.press("y")
        await until(pilot, lambda: app.return_code == 0, "the console to exit")
    assert len(store.events(iid)) == before
    assert not (tmp_path / "journal.jsonl").exists()


def sleeper_runbooks(tmp_path: Path) -> Path:
    d = tmp_path / "rb"
    d.mkdir()
    (d / "sleepy.yaml").write_text("id: sleepy\ntitle: Sleepy test\nsteps:\n"
                                   "  - title: Wait a while\n    kind: shell\n    run: sleep 30\n")
    return d


async def test_quitting_while_a_step_runs_stops_it_and_records_why(tmp_path):
    app = make_app(cfg_for(sleeper_runbooks(tmp_path)), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen)
                       and bool(app.screen.shown))
        await pilot.press(*"sleepy test")
        await wait_for(pilot, lambda: app.screen.shown[0].title == "Sleepy test")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        session = app.screen.session
        await pilot.press("enter")
        await wait_for(pilot, lambda: session.running is not None, what="the step running")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitConfirm), what="the question")
        assert any("a step is running" in str(s.render()) for s in app.screen.query("Static"))
        await past_guard(pilot, app.screen)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.return_code == 0, what="the console to exit")
    finished = [e for e in app.sink.events if e.type == ev.RUNBOOK_FINISHED]
    assert [(e.data["status"], e.data["message"]) for e in finished] == [("stopped", QUIT_REASON)]
    # the timeline says why
    assert "stopped in " in describe(finished[0]) and f"— {QUIT_REASON}" in describe(finished[0])
