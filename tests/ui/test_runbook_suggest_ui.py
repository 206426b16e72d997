"""The runbook picker opens with the runbooks that fit what is firing (issue 14): alerts
passed in (as the console's alert state will feed them) put the lock-contention runbook
first for a lock chain, marked "suggested: <alert>"."""

from __future__ import annotations

from textual.widgets import OptionList

from opsconsole.config import parse_config
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from uihelpers import make_app, wait_for

LOCKS = {"name": "pg-blocked", "state": "firing", "severity": "warning", "runbook": None,
         "expr": "pg.main.blocked_sessions > 0", "labels": {"database": "main"}}


async def test_the_picker_lists_the_runbook_for_a_firing_lock_chain_first(tmp_path):
    app = make_app(parse_config(""), data_dir=tmp_path / "data")
    app.alert_rows = lambda: [LOCKS]  # where the console keeps its alert state
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen)
                       and bool(app.screen.shown))
        screen = app.screen
        assert screen.shown[0].runbook.id == "pg-lock-contention"
        labels = [str(o.prompt) for o in screen.query_one(OptionList).options]
        assert labels[0].startswith("suggested: pg-blocked ")
        assert not any(s.startswith("suggested") for s in labels[1:])
        # fed later (the alert resolved): the ordinary order again
        screen.suggest_for([])
        await pilot.pause()
        labels = [str(o.prompt) for o in screen.query_one(OptionList).options]
        assert not any(s.startswith("suggested") for s in labels)
        assert screen.shown[0].runbook.id != "pg-lock-contention"
