"""The console's main screen: header, tab line, the pane grid and the key bar."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen

from opsconsole.ui.actions import GLOBAL_ACTIONS, bindings
from opsconsole.ui.header import ConsoleHeader
from opsconsole.ui.panes.base import Pane
from opsconsole.ui.tabs import draw_tabs
from opsconsole.ui.widgets import LineBlock
from opsconsole.ui.widgets.keybar import KeyBar


class MainScreen(Screen[None]):
    BINDINGS = bindings(GLOBAL_ACTIONS)
    # The app sets focus itself (set_current_pane). Textual's auto-focus would pick the first
    # focusable widget, the health pane's hidden filter input, at start and again when a
    # modal closes, and a key typed then (e.g. 2) lands in that invisible filter.
    AUTO_FOCUS = ""

    def __init__(self, panes: list[Pane]) -> None:
        super().__init__(id="main")
        self.panes = {p.pane_id: p for p in panes}

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield LineBlock(id="pane-tabs")
        with Container(id="pane-grid"):
            yield from self.panes.values()
        yield KeyBar()

    def on_pane_state_changed(self, _message: Pane.StateChanged) -> None:
        draw_tabs(self.app)

    def on_descendant_focus(self, event: Any) -> None:
        node = event.control if hasattr(event, "control") else None
        while node is not None and not isinstance(node, Pane):
            node = node.parent
        if isinstance(node, Pane) and hasattr(self.app, "set_current_pane"):
            self.app.set_current_pane(node.pane_id, focus=False)
