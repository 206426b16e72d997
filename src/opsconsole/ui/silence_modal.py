"""The silence modal of the alerts strip: how long and why (ui.alerts_view, key ``S``).
Its own module so the first frame does not load the modals (tests/unit/test_lazy_imports)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from opsconsole.fmt import one_line
from opsconsole.ui.modals import Modal


class SilenceModal(Modal["tuple[float, str] | None"]):
    """How long and why: enter records the silence; escape cancels."""

    DEFAULT_CSS = """
    SilenceModal { align: center middle; background: $background 60%; }
    SilenceModal > Vertical { width: 70; max-width: 95%; height: auto; border: round $warning;
                              background: $surface; padding: 0 1; }
    SilenceModal .modal-error { color: $error; text-style: bold; height: auto; }
    """

    def __init__(self, alert: str) -> None:
        super().__init__(id="silence-modal")
        self.alert = alert

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Silence {one_line(self.alert, 50)}", style="bold"))
            yield Static("For how long (e.g. 30m, 2h)")
            yield Input(placeholder="1h", id="silence-for")
            yield Static("Why (recorded)")
            yield Input(placeholder="deploy in progress", id="silence-reason")
            yield Static("", classes="modal-error", id="silence-error")
            yield Static(Text("enter records · tab next field · escape cancels", style="italic"))

    def on_mount(self) -> None:
        self.query_one("#silence-for", Input).focus()

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        from opsconsole.schema import Duration, Invalid

        event.stop()
        error = self.query_one("#silence-error", Static)
        text = self.query_one("#silence-for", Input).value.strip() or "1h"
        try:
            seconds = float(Duration.parse(text))
        except (Invalid, ValueError, TypeError):
            seconds = 0.0
        if seconds <= 0:
            error.update(Text(f"{one_line(text, 20)!r} is not a duration such as 30m or 2h"))
            self.query_one("#silence-for", Input).focus()
            return
        reason = one_line(self.query_one("#silence-reason", Input).value.strip(), 200)
        if not reason:
            if event.input.id == "silence-for":
                self.query_one("#silence-reason", Input).focus()
                return
            error.update(Text("say why: the reason is recorded with the silence"))
            return
        self.dismiss((seconds, reason))
