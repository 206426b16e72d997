"""The health pane (issue 3 fills this in)."""

from __future__ import annotations

from opsconsole.ui.panes.base import NotConfiguredPane


class HealthPane(NotConfiguredPane):
    pane_id = "health"
    number = 1
    title = "Health"
    hint = "add checks: to the config file (see README: Configuration)"
