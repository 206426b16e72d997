"""The runbook picker and walkthrough in the console (Pilot), and how they look (snapshots)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, RichLog, Static

from opsconsole.config import parse_config
from opsconsole.secrets import MASK
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from opsconsole.ui.screens.runbook_walkthrough import (
    ConfirmStepScreen,
    RunbookParamsScreen,
    RunbookScreen,
)
from uihelpers import make_app, past_guard, wait_for

FIXTURES = Path(__file__).parent / "runbook_fixtures"


def ui_runbooks(tmp_path: Path) -> Path:
    d = tmp_path / "rb"
    d.mkdir()
    flag = tmp_path / "restarted"
    (d / "walk.yaml").write_text(f"""\
id: walk
title: Walk test
tags: [test]
when_to_use: Testing the walkthrough.
params:
  - name: who
    default: world
  - name: token
    secret: true
    required: false
steps:
  - title: Greet
    kind: shell
    run: echo hello {{{{ who }}}}; echo token={{{{ token }}}}
  - title: Tick me
    kind: manual
    checklist: [one thing]
  - title: Restart
    kind: shell
    run: touch {flag}
    confirm: restart
  - title: Hang
    kind: shell
    run: echo hanging; sleep 300
  - title: Flood
    kind: shell
    run: seq 1 300000
""")
    (d / "zz-broken.yaml").write_text("id: broken\ntitle: Broken\nsteps:\n  - title: a\n    kind: warp\n")
    return d


def cfg_for(d: Path, extra: str = ""):
    return parse_config(f"runbook_dirs: [{d}]\n{extra}")


def log_text(app) -> str:
    log = app.screen.query_one("#runbook-output", RichLog)
    return "\n".join(strip.text for strip in log.lines)


async def open_walk(pilot, token: str = "") -> RunbookScreen:
    app = pilot.app
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
    await pilot.press(*"walk test")
    await wait_for(pilot, lambda: app.screen.shown and app.screen.shown[0].title == "Walk test")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen))
    if token:
        app.screen.query_one("#param-token", Input).value = token
    app.screen.query_one("#param-token", Input).focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
    return app.screen


async def test_picker_searches_and_lists_broken_runbooks(tmp_path):
    app = make_app(cfg_for(ui_runbooks(tmp_path)), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
        screen = app.screen
        labels = [str(o.prompt) for o in screen.query_one(OptionList).options]
        assert any("Walk test" in s for s in labels)
        assert any("zz-broken.yaml" in s and "BROKEN" in s and "unknown kind 'warp'" in s for s in labels)
        assert any("PostgreSQL lock contention" in s for s in labels)  # shipped ones load too
        title = str(screen.query_one("#runbook-picker-title", Static).render())
        assert "✗ 1 broken" in title
        await pilot.press(*"locks")
        await pilot.pause()
        assert screen.shown[0].runbook.id == "pg-lock-contention"
        detail = str(screen.query_one("#runbook-picker-detail", Static).render())
        assert "When to use: Queries time out waiting on locks" in detail
        await pilot.press(*"zzzzq")
        await pilot.pause()
        assert screen.shown == [] and "No runbook matches" in str(
            screen.query_one("#runbook-picker-detail", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunbookPickerScreen)


async def test_a_picker_opened_before_the_first_frame_keeps_its_focus(tmp_path):
    """``r`` typed before the console has drawn (a slow host, a laggy link): the
    first-frame focus of the current pane lands on the main screen, not on the picker,
    so what is typed next goes into the search box."""
    app = make_app(cfg_for(ui_runbooks(tmp_path)), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen))
        search = app.screen.query_one("#runbook-search", Input)
        await wait_for(pilot, lambda: app.focused is search)
        app.set_current_pane("resources")  # a pane with nothing to focus, as after 2
        app._after_first_frame()  # what the console does once its first frame is drawn
        await pilot.pause()
        assert app.focused is search
        await pilot.press(*"locks")
        await wait_for(pilot, lambda: search.value == "locks")


async def test_walkthrough_runs_steps_confirms_and_streams_output(tmp_path):
    app = make_app(cfg_for(ui_runbooks(tmp_path)), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_walk(pilot, token="hunter2-secret")
        title = str(screen.query_one("#runbook-title", Static).render())
        assert "who=world" in title and f"token={MASK}" in title and "hunter2" not in title
        detail = str(screen.query_one("#runbook-detail", Static).render())
        assert "Will run:" in detail and f"$ echo hello world; echo token={MASK}" in detail
        # run step 1: output streams into the log, the step turns ok, the cursor moves on
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.states[0] == "ok")
        await wait_for(pilot, lambda: "hello world" in log_text(app))
        assert f"token={MASK}" in log_text(app) and "hunter2" not in log_text(app)
        assert screen.current == 1
        assert "✓" in screen.query_one("#runbook-steps").plain.splitlines()[0]
        # the manual step is ticked with enter
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.states[1] == "ok")
        # a dangerous step asks for its word; a wrong word runs nothing
        assert screen.current == 2
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmStepScreen))
        await past_guard(pilot, app.screen)
        await pilot.press(*"yes", "enter")
        await wait_for(pilot, lambda: app.screen is screen)
        assert not (tmp_path / "restarted").exists() and screen.session.states[2] == "pending"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmStepScreen))
        await past_guard(pilot, app.screen)
        await pilot.press(*"restart", "enter")
        await wait_for(pilot, lambda: screen.session.states[2] == "ok")
        assert (tmp_path / "restarted").exists()
        # skip the hanging step, then go back to it with b and stop it with x
        assert screen.current == 3
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.session.states[3] == "skipped")
        await pilot.press("b")
        assert screen.current == 3
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.running == 3 and "hanging" in log_text(app))
        assert "running step 4" in str(screen.query_one("#runbook-status", Static).render())
        # escape closes the screen, not the walk: the step keeps running, the header says so
        session = screen.session
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "▶ runbook walk step 4/5 'Hang'" in app.header_text(200).plain)
        assert session.running == 3
        # reopening comes back to it (no parameters asked again), and x stops it
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
        await pilot.press(*"walk test", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        assert screen.session is session and screen.current == 3 and "hanging" in log_text(app)
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.session.states[3] == "stopped", timeout=15)
        await wait_for(pilot, lambda: "▶ runbook" not in app.header_text(200).plain)
        events = [e.type for e in app.sink.events]
        assert events.count("runbook.step_finished") == 4 and "runbook.step_skipped" in events
        assert all("hunter2" not in str(e.data) for e in app.sink.events)


async def test_a_flood_does_not_freeze_the_walkthrough(tmp_path):
    app = make_app(cfg_for(ui_runbooks(tmp_path)), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_walk(pilot)
        screen.current = 4
        screen.draw()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.running == 4 or screen.session.states[4] == "ok")
        # keys are handled while the output pours in
        await pilot.press("up")
        assert screen.current == 3
        await wait_for(pilot, lambda: screen.session.states[4] == "ok", timeout=30)
        log = screen.query_one("#runbook-output", RichLog)
        assert len(log.lines) <= 600
        assert "300000" in log_text(app)
        assert screen.session.outcomes[4].output_lines == 300000


async def test_read_only_shows_runbooks_and_runs_nothing(tmp_path):
    app = make_app(cfg_for(ui_runbooks(tmp_path)), data_dir=tmp_path / "data", read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_walk(pilot)
        shown = {b.binding.action for b in screen.active_bindings.values()
                 if b.binding.show and b.enabled}
        assert "run_step" not in shown and "skip_step" not in shown and "close" in shown
        await pilot.press("enter", "s")
        await pilot.pause()
        assert screen.session.states == ["pending"] * 5
        assert "READ-ONLY" in str(screen.query_one("#runbook-title", Static).render())
        assert not [e for e in app.sink.events if e.type.startswith("runbook.")]


async def test_hotkeys_show_in_footer_and_help_and_launch_a_step(tmp_path):
    d = ui_runbooks(tmp_path)
    cfg = cfg_for(d, "hotkeys:\n  - key: f5\n    runbook: walk\n    step: 1\n    description: greet\n"
                     "  - key: f6\n    runbook: pg-lock-contention\n")
    app = make_app(cfg, data_dir=tmp_path / "data")
    async with app.run_test(size=(160, 40)) as pilot:
        def footer() -> dict[str, str]:
            return {b.binding.key: b.binding.description
                    for b in app.screen.active_bindings.values() if b.binding.show}

        # the hotkeys are bound once the main screen is up (wait: a loaded host is slower)
        await wait_for(pilot, lambda: "f5" in footer() and "f6" in footer(),
                       what="the hotkeys in the footer")
        assert footer().get("f5") == "greet" and footer().get("f6") == "pg-lock-contention"
        rows = app.help_rows()
        hot = [r for r in rows if r.section == "Runbook hotkeys"]
        assert [(r.key, r.description) for r in hot] == [
            ("f5", "Runbook: run walk step 1"), ("f6", "Runbook: open pg-lock-contention")]
        assert sum(1 for r in rows if r.key == "f5") == 1
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen))
        app.screen.query_one("#param-token", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.session.states[0] == "ok")
        assert "hello world" in log_text(app)


async def test_a_hotkey_for_a_dangerous_step_asks_for_its_word(tmp_path):
    d = ui_runbooks(tmp_path)
    cfg = cfg_for(d, "hotkeys:\n  - key: f7\n    runbook: walk\n    step: Restart\n")
    app = make_app(cfg, data_dir=tmp_path / "data")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen))
        app.screen.query_one("#param-token", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmStepScreen))
        await past_guard(pilot, app.screen)
        assert not (tmp_path / "restarted").exists()
        await pilot.press(*"restart", "enter")
        await wait_for(pilot, lambda: (tmp_path / "restarted").exists())


async def test_read_only_refuses_step_hotkeys(tmp_path):
    d = ui_runbooks(tmp_path)
    cfg = cfg_for(d, "hotkeys:\n  - key: f5\n    runbook: walk\n    step: 1\n")
    app = make_app(cfg, data_dir=tmp_path / "data", read_only=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert not app.check_action("runbook_hotkey", (0,))
        await pilot.press("f5")
        await pilot.pause()
        assert not isinstance(app.screen, RunbookParamsScreen | RunbookScreen)
        hot = [r for r in app.help_rows() if r.section == "Runbook hotkeys"]
        assert hot and not hot[0].enabled


# --------------------------------------------------------------------------- snapshots


async def open_lock_walkthrough(pilot, pid: str = "4242"):
    """r → the lock contention runbook → its pid typed → the walkthrough, each step waited
    for (keys settle one by one: nothing is typed ahead of the screen it is meant for)."""
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunbookPickerScreen)
                   and bool(pilot.app.screen.shown))
    picker = pilot.app.screen
    await pilot.press(*"lock contention")
    await wait_for(pilot, lambda: picker.shown and picker.shown[0].runbook
                   and "lock" in picker.shown[0].runbook.id)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunbookParamsScreen))
    form = pilot.app.screen
    await pilot.press(*pid)
    await wait_for(pilot, lambda: any(i.value == pid for i in form.query(Input)))
    for _ in range(5):  # enter: the next field, then start (as many fields as there are)
        if isinstance(pilot.app.screen, RunbookScreen):
            break
        await pilot.press("enter")
        await pilot.pause()
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunbookScreen))
    return pilot.app.screen



def snap_config():
    return parse_config(f"runbook_dirs: [{FIXTURES}]\n")


@pytest.mark.parametrize("size, query", [((80, 24), "pg"), ((140, 40), "")])
def test_picker_snapshot(snap_compare, size, query):
    async def run_before(pilot):
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunbookPickerScreen)
                       and bool(pilot.app.screen.shown))
        # the runbooks load in a child process: however long it took, the cursor is drawn
        pilot.app.screen.query_one("#runbook-search", Input).cursor_blink = False
        await pilot.press(*query)
        search = pilot.app.screen.query_one("#runbook-search", Input)
        await wait_for(pilot, lambda: search.value == query)  # keys settle one by one
        await wait_for(pilot, lambda: all(m.runbook and query in m.runbook.id
                                          for m in pilot.app.screen.shown[:1]))
        await pilot.pause()

    assert snap_compare(make_app(snap_config()), terminal_size=size, run_before=run_before)


def test_walkthrough_snapshot(snap_compare, tmp_path):
    async def run_before(pilot):
        walk = await open_lock_walkthrough(pilot)
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: walk.current == 2)
        await pilot.pause()

    app = make_app(snap_config(), data_dir=tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_confirm_snapshot(snap_compare, tmp_path):
    async def run_before(pilot):
        walk = await open_lock_walkthrough(pilot)
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: walk.current == 2)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmStepScreen))
        await past_guard(pilot, pilot.app.screen)
        await pilot.press(*"canc")
        await pilot.pause()

    app = make_app(snap_config(), data_dir=tmp_path)
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


async def test_a_parameter_that_does_not_fit_is_refused_in_the_form(tmp_path):
    app = make_app(cfg_for(ui_runbooks(tmp_path)), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
        await pilot.press(*"lock contention", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen))
        # no PostgreSQL configured: nothing offers a pid (not the resources pane's process)
        assert app.screen.query_one("#param-pid", Input).value == ""
        assert app.screen.source_text("database") == "↳ default"
        app.screen.query_one("#param-pid", Input).value = "42; drop"
        app.screen.query_one("#param-database", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RunbookParamsScreen)
        assert "does not match the pattern" in str(app.screen.query_one("#runbook-params-error", Static).render())


async def test_running_a_step_twice_needs_a_second_enter(tmp_path):
    app = make_app(cfg_for(ui_runbooks(tmp_path)), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_walk(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.states[0] == "ok")
        await pilot.press("b", "enter")
        await pilot.pause()
        finished = lambda: [e for e in app.sink.events if e.type == "runbook.step_finished"]  # noqa: E731
        assert len(finished()) == 1 and screen.session.states[0] == "pending"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(finished()) == 2)


def test_markdown_walkthrough_snapshot_large(snap_compare, tmp_path):
    """A Markdown runbook: sections from its headings, checklist items as steps (read-only)."""
    async def run_before(pilot):
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunbookPickerScreen)
                       and bool(pilot.app.screen.shown))
        await pilot.press(*"daily operations", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunbookScreen))
        await pilot.press("down", "down")
        await pilot.pause()

    app = make_app(snap_config(), data_dir=tmp_path, read_only=True)
    assert snap_compare(app, terminal_size=(140, 40), run_before=run_before)


async def test_a_wiki_page_asks_for_its_placeholders_and_confirms_a_delete(tmp_path):
    """A Markdown page with no word about danger: its ``<name>`` is asked for on the params
    screen, and its ``rm`` runs only after the operator types 'delete'."""
    d = tmp_path / "wiki"
    d.mkdir()
    victim = tmp_path / "stale.lock"
    victim.write_text("x")
    (d / "clean.md").write_text(f"# Wiki clean up\n\n## Remove\n\nRemove the stale lock:\n\n"
                                f"```console\n$ rm -f {tmp_path}/<lock file>\n```\n")
    app = make_app(cfg_for(d), data_dir=tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen) and bool(app.screen.shown))
        await pilot.press(*"wiki clean")
        await wait_for(pilot, lambda: app.screen.shown and app.screen.shown[0].title == "Wiki clean up")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookParamsScreen))
        field = app.screen.query_one("#param-lock_file", Input)
        field.value = "stale.lock"
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        detail = str(screen.query_one("#runbook-detail", Static).render())
        assert f"rm -f {tmp_path}/stale.lock" in detail and "type 'delete'" in detail
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmStepScreen))
        await past_guard(pilot, app.screen)
        assert victim.exists()
        await pilot.press(*"delete", "enter")
        await wait_for(pilot, lambda: screen.session.states[0] == "ok")
        assert not victim.exists()
