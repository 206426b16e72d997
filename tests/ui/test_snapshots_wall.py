"""The look of the wall: an open SEV1 (overdue response, a runbook step running, a firing
alert, a check CRITICAL, a second incident open) at 80x24 (text clocks), 200x50 and 320x90
(big digits), and the status board with no incident — a fixed clock and a pre-filled
store, so the images are stable."""

from __future__ import annotations

from hostdata import FIXED_NOW
from opsconsole.ui.wall.app import WallApp
from opsconsole.ui.wall.screen import WallScreen
from uihelpers import wait_for
from wallhelpers import filled_store, fixed_sample, next_step


def _app(tmp_path, incident: bool = True) -> WallApp:
    filled_store(tmp_path, incident=incident).close()
    return WallApp(data_dir=tmp_path, clock=lambda: FIXED_NOW, hostname="ops-01",
                   next_step=next_step, host_sample=fixed_sample)


async def _read(pilot):
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, WallScreen)
                   and pilot.app.screen.polls >= 1, 30, "the wall's first read")
    await pilot.pause()


def test_wall_80x24(snap_compare, tmp_path):
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=_read)


def test_wall_200x50(snap_compare, tmp_path):
    assert snap_compare(_app(tmp_path), terminal_size=(200, 50), run_before=_read)


def test_wall_320x90(snap_compare, tmp_path):
    assert snap_compare(_app(tmp_path), terminal_size=(320, 90), run_before=_read)


def test_wall_status_board_120x36(snap_compare, tmp_path):
    assert snap_compare(_app(tmp_path, incident=False), terminal_size=(120, 36),
                        run_before=_read)
