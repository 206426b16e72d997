"""Keys that arrive in one burst (a laggy SSH link) go where they would have gone typed
slowly: into the modal a key opens, and past a Tab into the next field.

``burst`` hands every key to the driver at once, as the terminal reader does with one read
of a burst: none of them is processed before all are queued (Pilot's ``press`` waits for
the app to go idle after each key, so it cannot show this)."""

from __future__ import annotations

import shutil
import sys
import unicodedata

import pytest
from test_cli_shell import Tmux
from test_incident_ui import make_app, ready, until
from test_runbook_ui import cfg_for, ui_runbooks
from textual import events
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

from conftest import cli_env
from eventually import eventually_sync
from opsconsole import events as ev
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.store import SQLiteStore, open_store
from opsconsole.ui.screens.incident import IncidentScreen
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from opsconsole.ui.screens.runbook_walkthrough import RunbookParamsScreen
from uihelpers import make_app as make_plain_app
from uihelpers import wait_for


def burst(app, *keys: str) -> None:
    """Queue every key at once, as a burst read from the terminal is (no pause between)."""
    driver = app._driver
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        driver.send_message(events.Key(key, char))


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "incidents.db")
    yield s
    s.close()


DECLARE_BURST = ("i", *"fast typist", "tab", "2", "tab", *"api", "enter")


async def test_a_declare_burst_fills_title_severity_and_services(tmp_path, store):
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, *DECLARE_BURST)
        await until(pilot, lambda: store.incidents(), "an incident declared")
        state = tl.fold(store.events(store.incidents()[0]))
        assert (state.title, state.severity, state.services) == ("fast typist", "SEV2", ["api"])
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "its screen")


async def test_pilot_presses_without_pauses_declare_the_same(tmp_path, store):
    # (passes without the key hold too: Pilot waits for idle after each key)
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press(*DECLARE_BURST)
        await until(pilot, lambda: store.incidents(), "an incident declared")
        state = tl.fold(store.events(store.incidents()[0]))
        assert (state.title, state.severity, state.services) == ("fast typist", "SEV2", ["api"])


async def test_a_note_burst_lands_in_the_note(tmp_path, store):
    iid = store.declare("Queue backlog", "SEV2").incident_id
    app = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.active_incident = iid
        burst(app, "n", *"cache hit rate fell", "enter", "t")
        await until(pilot, lambda: ev.NOTE in [e.type for e in store.events(iid)], "note stored")
        note = [e for e in store.events(iid) if e.type == ev.NOTE][-1]
        assert note.data["text"] == "cache hit rate fell"
        # the t after enter went to the main screen, as typed slowly: the timeline opens
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "the timeline")


async def test_a_runbook_burst_searches_in_the_picker(tmp_path):
    app = make_plain_app(cfg_for(ui_runbooks(tmp_path)), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.id == "main")
        burst(app, "r", *"walk test", "enter")  # enter may come before the list has loaded
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen),
                       what="the runbook the burst searched for, opened")
        picker = next(s for s in app.screen_stack if isinstance(s, RunbookPickerScreen))
        assert picker.query_one("#runbook-search").value == "walk test"
        assert app.screen.runbook.title == "Walk test"


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_one_tmux_send_keys_burst_declares_what_was_typed(tmp_path):
    data = tmp_path / "d"
    env = cli_env({"TERM": "xterm-256color", "OPSCONSOLE_DATA_DIR": str(data),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    t = Tmux(120, 40, env, f"{sys.executable} -m opsconsole; sleep 30")
    try:
        t.wait_for("HEALTH", timeout=60)
        t.keys("i", "fast typist", "Tab", "2", "Tab", "api", "Enter")  # ONE send-keys: a burst

        def declared() -> list[tl.IncidentState]:
            if not (data / "incidents.db").exists():
                return []
            with open_store(data) as s:
                return [tl.fold(s.events(iid)) for iid in s.incidents()]

        states = eventually_sync(declared, timeout=30, what="the incident", last=t.capture)
        assert [(s.title, s.severity, s.services) for s in states] == [
            ("fast typist", "SEV2", ["api"])]
    finally:
        t.kill()
