"""The slow queries pane (issue 4 fills this in)."""

from __future__ import annotations

from opsconsole.ui.panes.base import NotConfiguredPane


class SlowQueriesPane(NotConfiguredPane):
    pane_id = "slow"
    number = 3
    title = "Slow queries"
    hint = "add databases: to the config file, or start with --dsn postgresql://…"
