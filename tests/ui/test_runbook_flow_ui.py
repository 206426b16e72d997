"""Runbook control flow in the walkthrough (issue 11): a step whose `when:` does not hold is
skipped with its reason (said, not shown as an error), a step repaired by its `on_failure`
steps is marked recovered, and a `stop_when:` that holds ends the run early — and the
walkthrough calls that a complete runbook. Real subprocesses."""

from __future__ import annotations

from test_runbook_resume import pick

from opsconsole.config import parse_config
from opsconsole.ui.runbook_runs import STATE_MARK
from opsconsole.ui.screens.runbook_walkthrough import RunbookScreen
from uihelpers import make_app, wait_for

FLOW = """\
id: flow
title: Flow test
steps:
  - title: Only on Mondays
    kind: shell
    run: echo monday
    when: {shell: 'false'}
  - title: Broken
    kind: shell
    run: exit 4
    on_failure:
      - title: Repair
        kind: shell
        run: echo repaired
  - title: Verify recovery
    kind: shell
    run: echo fine
    stop_when: {shell: 'true'}
  - title: Escalate
    kind: shell
    run: exit 9
"""


async def test_when_on_failure_and_stop_when_in_the_walkthrough(tmp_path):
    d = tmp_path / "rb"
    d.mkdir()
    (d / "flow.yaml").write_text(FLOW)
    app = make_app(parse_config(f"runbook_dirs: [{d}]\n"), data_dir=tmp_path / "data")
    notes: list[tuple[str, str]] = []
    real_notify = app.notify

    def notify(message, **kw):
        notes.append((str(message), str(kw.get("severity", "information"))))
        return real_notify(message, **kw)

    app.notify = notify
    async with app.run_test(size=(120, 40)) as pilot:
        await pick(pilot, "flow test", "flow")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        session = screen.session
        await pilot.press("enter")  # step 1: its when: does not hold
        await wait_for(pilot, lambda: session.states[0] == "skipped", timeout=15)
        assert any("skipped" in m and "when:" in m and sev == "information" for m, sev in notes)
        await wait_for(pilot, lambda: screen.current == 1)  # on to the next step
        await pilot.press("enter")  # step 2 fails, its on_failure repairs it
        await wait_for(pilot, lambda: session.states[1] == "recovered", timeout=15)
        assert not any(sev == "error" for _, sev in notes), notes
        await wait_for(pilot, lambda: screen.current == 2)
        await pilot.press("enter")  # step 3 holds its stop_when: the run ends, ok
        await wait_for(pilot, lambda: session.states[2] == "ok" and session.states[3] == "skipped",
                       timeout=15)
        await wait_for(pilot, lambda: "runbook complete (ended early" in screen.run.last_status)
        listing = "\n".join(str(s.render()) for s in screen.query("Static"))
        assert STATE_MARK["recovered"].split(" ", 1)[0] in listing or "recovered" in listing
