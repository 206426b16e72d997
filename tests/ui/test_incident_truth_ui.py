"""Issue 11 on the incident screen: the postmortem record, warnings and next update in the
head, configured severities in the declare modal, comms drafts copied and written."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import pytest
from test_incident_ui import ALICE, FixedHost, ready, types, until

from opsconsole import events as ev
from opsconsole.config import parse_config
from opsconsole.incidents.store import SQLiteStore
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.flows import open_incident
from opsconsole.ui.modals import ChoiceModal, CommsModal, DeclareModal, TextModal
from opsconsole.ui.screens.incident import IncidentScreen


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "incidents.db")
    yield s
    s.close()


def app_for(tmp_path, store, read_only=False, config=None):
    return OpsConsoleApp(config=config, options=RunOptions(data_dir=tmp_path,
                                                           read_only=read_only),
                         services=Services(clock=lambda: datetime.now(UTC),
                                           host_collector=FixedHost(), incident_store=store,
                                           hostname="ops1"))


def head(screen) -> str:
    return "\n".join(t.plain for t in screen.query_one("#incident-summary").lines)


async def open_screen(pilot, app, iid):
    await ready(pilot, app)
    open_incident(app, iid)
    await until(pilot, lambda: isinstance(app.screen, IncidentScreen) and app.screen.loaded,
                "incident screen")
    return app.screen


async def test_r_sets_the_root_cause_and_the_head_shows_it(tmp_path, store):
    iid = store.declare("API 500s", "SEV2", ["api"], actor=ALICE).incident_id
    store.append(ev.MILESTONE_SET, {"milestone": "detected", "at": (
        datetime.now(UTC) - timedelta(hours=2)).isoformat()}, incident_id=iid, actor=ALICE)
    app = app_for(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot, app, iid)
        await until(pilot, lambda: "is before started" in head(screen), "order warning")
        assert "next update due in 29m" in head(screen) or "due in 30m" in head(screen)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "record fields")
        await pilot.press("down", "down", "down", "enter")  # Root cause
        await until(pilot, lambda: isinstance(app.screen, TextModal), "value")
        await pilot.press(*"a missing index", "enter")
        await until(pilot, lambda: ev.RECORD_SET in types(store, iid), "stored")
        await until(pilot, lambda: "root cause: a missing index" in head(screen), "shown")


async def test_declare_uses_the_configured_severities(tmp_path, store):
    cfg = parse_config("incidents:\n  severities:\n    P0: {response: 5m}\n    P1: "
                       "{response: 15m}\n    P2: {response: 1h}\n")
    app = app_for(tmp_path, store, config=cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, DeclareModal), "declare modal")
        await pilot.press(*"db down", "tab", *"p1", "enter")
        await until(pilot, lambda: not isinstance(app.screen, DeclareModal), "declared")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "opened")
        assert app.screen.state.severity == "P1"


async def test_comms_draft_copied_and_written(tmp_path, store):
    iid = store.declare("Checkout slow", "SEV2", [], actor=ALICE).incident_id
    app = app_for(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, app, iid)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "templates")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CommsModal), "draft")
        modal = app.screen
        assert "Services affected: not yet known." in modal.text
        await pilot.press("y")
        assert app.clipboard == modal.text
        await until(pilot, lambda: ev.COMMS_SENT in types(store, iid), "copy recorded")
        await pilot.press("w")
        out = tmp_path / "comms"
        await until(pilot, lambda: out.is_dir() and any(out.iterdir()), "file written")
        (f,) = out.iterdir()
        assert f.read_text() == modal.text
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        await until(pilot, lambda: f"written to {f}" in str(
            modal.query_one("#comms-result").render()), "said where")


async def test_read_only_comms_copies_but_writes_nothing(tmp_path, store):
    iid = store.declare("Checkout slow", "SEV2", ["checkout"], actor=ALICE).incident_id
    before = types(store, iid)
    app = app_for(tmp_path, store, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, app, iid)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "templates")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CommsModal), "draft")
        await pilot.press("y", "w")
        await until(pilot, lambda: "read-only: nothing is written" in str(
            app.screen.query_one("#comms-result").render()), "refused")
        assert app.clipboard == app.screen.text
    assert not (tmp_path / "comms").exists()
    assert types(store, iid) == before


async def test_the_console_export_uses_the_configured_template(tmp_path, store):
    """`e` on the incident screen writes the postmortem from the configured template, like
    `opsconsole incident export` does."""
    from opsconsole.config import load_config

    (tmp_path / "pm.md").write_text("# {{ title }}\ncause: {{ root_cause }}\n")
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text("incidents:\n  postmortem_template: pm.md\n")
    iid = store.declare("Disk full", "SEV2", ["db"], actor=ALICE).incident_id
    store.append(ev.RECORD_SET, {"field": "root_cause", "value": "logs never rotated"},
                 incident_id=iid, actor=ALICE)
    app = app_for(tmp_path, store, config=load_config(cfg_file))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, app, iid)
        await pilot.press("e")
        out = tmp_path / "postmortems" / f"{iid}.md"
        await until(pilot, out.exists, "the export")
    assert out.read_text().startswith("# Disk full\ncause: logs never rotated\n")
