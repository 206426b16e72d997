"""A hostile runbook file costs one line in the picker and in ``runbook list``: the others
load, the bad one is listed with its located error, and the console keeps taking keys."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, OptionList, Static

from opsconsole.config import parse_config
from opsconsole.runbooks import isolated
from opsconsole.ui.screens.runbook_picker import RunbookPickerScreen
from uihelpers import make_app, wait_for

GOOD = """\
id: good-one
title: A good runbook
steps:
  - title: Look
    kind: manual
"""


def runbook_dir(tmp_path: Path, **bad: str) -> Path:
    d = tmp_path / "rb"
    d.mkdir()
    (d / "good.yaml").write_text(GOOD)
    for name, text in bad.items():
        (d / name).write_text(text)
    return d


def labels(screen: RunbookPickerScreen) -> list[str]:
    return [str(o.prompt) for o in screen.query_one(OptionList).options]


async def test_picker_lists_a_recursive_alias_runbook_with_its_error(tmp_path):
    d = runbook_dir(tmp_path, **{"rec.yaml": "id: rec\ntitle: Rec\nsteps: &s\n  - *s\n"})
    app = make_app(parse_config(f"runbook_dirs: [{d}]\n"), data_dir=tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen)
                       and app.screen.loaded is not None)
        shown = labels(app.screen)
        assert any("A good runbook" in s for s in shown)
        assert any("PostgreSQL lock contention" in s for s in shown)  # shipped ones too
        assert any("rec.yaml" in s and "BROKEN" in s and "recursive structures are not allowed" in s
                   for s in shown)
        await pilot.press(*"rec")
        await wait_for(pilot, lambda: "rec.yaml:4:5" in str(
            app.screen.query_one("#runbook-picker-detail", Static).render()))


async def test_picker_says_loading_and_takes_keys_while_a_file_parses_too_long(tmp_path, monkeypatch):
    # ~4 MB of YAML: pure-Python parsing takes several seconds, past a 1 s limit
    big = 'id: big\ntitle: Big\ndescription: "' + "x " * (1900 * 1024) + '"\nsteps: []\n'
    d = runbook_dir(tmp_path, **{"big.yaml": big})
    monkeypatch.setattr(isolated, "TIME_LIMIT", 1.0)
    app = make_app(parse_config(f"runbook_dirs: [{d}]\n"), data_dir=tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookPickerScreen))
        screen = app.screen
        title = screen.query_one("#runbook-picker-title", Static)
        assert "loading…" in str(title.render())
        await pilot.press(*"good")  # the screen takes keys while the files parse
        await wait_for(pilot, lambda: screen.loaded is not None, timeout=30)
        assert screen.query_one("#runbook-search", Input).value == "good"
        assert [i.runbook.id for i in screen.shown if i.runbook] == ["good-one"]
        await pilot.press(*("backspace",) * 4, *"big")
        await wait_for(pilot, lambda: any("big.yaml" in s for s in labels(screen)))
        assert any("took too long to parse (more than 1 s)" in s for s in labels(screen))
        assert "✗ 1 broken" in str(title.render())
