"""The help screen: every key of the focused context, then the global keys and hotkeys."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


@dataclass(frozen=True)
class HelpRow:
    section: str
    key: str
    description: str
    enabled: bool = True


def help_text(rows: list[HelpRow], read_only: bool) -> Text:
    t = Text()
    t.append("opsconsole keys", style="bold")
    if read_only:
        t.append("  (read-only: actions that change anything are hidden)")
    t.append("\n")
    section = None
    for r in rows:
        if r.section != section:
            section = r.section
            t.append(f"\n{section}\n", style="bold underline")
        t.append(f"  {r.key:<12}", style="bold")
        t.append(r.description + ("" if r.enabled else "  (unavailable here)") + "\n")
    t.append("\nescape or ? closes this screen", style="italic")
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "close", id="help-close"),
    ]

    def __init__(self, rows: list[HelpRow], read_only: bool = False) -> None:
        super().__init__(id="help-screen")
        self.rows = rows
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(self.rows, self.read_only), id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
