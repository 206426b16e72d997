"""The look of the console: whole screen at 80x24 and 160x48, zoom, help, and themes —
fed with fixed host data and a fixed clock so the images are stable."""

from __future__ import annotations

from uihelpers import make_app, resources_ready, wait_for


async def _ready(pilot):
    await wait_for(pilot, resources_ready(pilot.app))
    await pilot.pause()


def test_whole_screen_160x48(snap_compare):
    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=_ready)


def test_whole_screen_80x24(snap_compare):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("2")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("2", "question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(100, 40), run_before=run_before)


def test_zoomed_resources_contrast_theme_read_only(snap_compare):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("2", "z")
        await pilot.pause()

    app = make_app(theme="opsconsole-contrast", read_only=True)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_light_theme_80x24(snap_compare):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("2")
        await pilot.pause()

    assert snap_compare(make_app(theme="opsconsole-light"), terminal_size=(80, 24), run_before=run_before)
