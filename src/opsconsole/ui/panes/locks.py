"""The blocking locks pane (issue 4 fills this in)."""

from __future__ import annotations

from opsconsole.ui.panes.base import NotConfiguredPane


class LocksPane(NotConfiguredPane):
    pane_id = "locks"
    number = 4
    title = "Blocking locks"
    hint = "add databases: to the config file, or start with --dsn postgresql://…"
