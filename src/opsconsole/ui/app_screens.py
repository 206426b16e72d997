"""The console's keys that open a screen of their own (runbooks, hotkeys, the SLO view, the
wall, the timeline): a mixin of :class:`opsconsole.ui.app.OpsConsoleApp`. Each screen's
module is imported when its key is first pressed (the first frame needs none of them)."""

from __future__ import annotations

from typing import Any


class ScreenActions:
    """``r``, runbook hotkeys, ``L``, ``W``, ``t``."""

    # (after App in the console's bases: it never shadows an App method)
    screen: Any
    incident_store: Any
    config: Any
    services: Any
    push_screen: Any

    def action_runbooks(self) -> None:
        from opsconsole.ui.screens.runbook_picker import open_picker

        open_picker(self)

    async def action_runbook_hotkey(self, n: int) -> None:
        from opsconsole.ui.screens.runbook_picker import launch_hotkey

        await launch_hotkey(self, n)

    def action_slo(self) -> None:
        """``L``: the SLO view (figures read from the store's history in a thread)."""
        import time as _time

        from opsconsole.ui.screens.slo import SloScreen

        if isinstance(self.screen, SloScreen):
            self.screen.dismiss(None)
            return
        from opsconsole.slo.history import history_file

        self.push_screen(SloScreen(self.config, history_file(self.incident_store), {},
                                   _time.time()))

    def action_wall(self) -> None:
        """``W``: the war-room wall view (read-only; escape comes back; ui/wall/)."""
        from opsconsole.ui.wall.screen import WallScreen

        if not isinstance(self.screen, WallScreen):
            self.push_screen(WallScreen(lambda: self.incident_store, self.services.clock,
                                        self.config.incidents, self.services.hostname,
                                        from_console=True))

    def action_timeline(self) -> None:
        from opsconsole.ui import flows

        flows.timeline(self)
