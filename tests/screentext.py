"""The text a user sees on a running app's screen, line by line (what export_screenshot
draws, as plain text)."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console


def screen_lines(app: Any) -> list[str]:
    """The screen's rows as plain text (modals drawn over the screens below, as shown)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(  # as App.export_screenshot
        full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


def screen_text(app: Any) -> str:
    return "\n".join(screen_lines(app))
