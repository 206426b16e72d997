"""The active incidents pane (issue 5 fills this in)."""

from __future__ import annotations

from opsconsole.ui.panes.base import NotConfiguredPane


class IncidentsPane(NotConfiguredPane):
    pane_id = "incidents"
    number = 5
    title = "Incidents"
    hint = "the incident store is not built yet"
