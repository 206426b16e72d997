"""Modals of the PostgreSQL panes: details, EXPLAIN (the cancel/terminate confirmation is
:class:`opsconsole.ui.confirm.ConfirmSignalScreen`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from opsconsole.fmt import one_line
from opsconsole.postgres.explain import ExplainNeedsConfirmation, ExplainRefused
from opsconsole.ui.actions import ActionSpec, bindings
from opsconsole.ui.modals import Modal
from opsconsole.ui.safe import rich_text

MODAL_CSS = """
PgModal { align: center middle; background: $background 60%; }
PgModal > .pg-modal-box {
    width: 90%; max-width: 110; height: auto; max-height: 90%;
    border: round $primary; background: $surface; padding: 0 1;
}
PgModal.-danger > .pg-modal-box { border: heavy $error; }
PgModal .pg-modal-title { text-style: bold; }
PgModal .pg-modal-scroll { height: auto; max-height: 30; }
PgModal .pg-modal-buttons { height: 1; margin-top: 1; }
PgModal Button { margin-right: 2; }
PgModal.-danger > .pg-modal-box { height: 90%; max-height: 26; }
PgModal.-danger .pg-modal-scroll { height: 1fr; max-height: 100%; }
PgModal.-text > .pg-modal-box { height: 90%; }
PgModal.-text .pg-modal-scroll { height: 1fr; max-height: 100%; }
PgModal .pg-modal-foot { height: 1; }
"""


class PgModal(Modal[Any]):
    """A PostgreSQL pane's modal: escape or q closes it without doing anything."""

    DEFAULT_CSS = MODAL_CSS
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("pg-modal-close", "escape,q", "close", "back", "Close without doing anything"),
    )
    BINDINGS = bindings(ACTIONS)


class TextScreen(PgModal):
    """Full details of a backend or a statement: the body (the whole query, wrapped) scrolls
    with up/down/pgup/pgdn/home/end between a fixed title line and a fixed bottom line
    "escape closes", at any terminal size."""

    def __init__(self, title: str, body: str, id: str = "pg-details") -> None:
        super().__init__(id=id, classes="-text")
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="pg-modal-box"):
            yield Static(rich_text(self.title_text), classes="pg-modal-title")
            with VerticalScroll(classes="pg-modal-scroll"):
                yield Static(rich_text(self.body, keep_newlines=True, keep_tabs=True),
                             id="pg-text-body")
            yield Static(Text("escape closes · ↑↓ pgup pgdn home end scroll", style="italic"),
                         classes="pg-modal-foot")

    def on_mount(self) -> None:
        self.query_one(".pg-modal-scroll", VerticalScroll).focus()  # the keys scroll it


class ExplainScreen(TextScreen):
    """Runs ``produce(confirmed)`` (the guarded EXPLAIN, under its timeout) in a worker and
    shows the plan headed by how it ran, or why it was refused. A statement calling
    functions that are not built in is refused; ``y`` explains it anyway (as the statement's
    own role, still read-only) unless ``can_confirm`` is off (read-only mode)."""

    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("pg-explain-anyway", "y", "explain_anyway", "explain anyway",
                   "EXPLAIN a refused statement anyway (its functions run as its own role)"),
        ActionSpec("pg-modal-close", "escape,q", "close", "back", "Close without doing anything"),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, title: str, produce: Callable[[bool], Awaitable[str]], *,
                 role: str | None = None, can_confirm: bool = True) -> None:
        super().__init__(title, "running EXPLAIN…", id="pg-explain")
        self.produce = produce
        self.role = role
        self.can_confirm = can_confirm
        self.result: str | None = None
        self.needs_confirmation = False

    def on_mount(self) -> None:
        self.run_worker(self._run(False), exit_on_error=False)

    async def _run(self, confirmed: bool) -> None:
        self.needs_confirmation = False
        try:
            text = await self.produce(confirmed)
        except ExplainNeedsConfirmation as exc:
            self.needs_confirmation = self.can_confirm
            text = f"EXPLAIN refused: {one_line(str(exc), 600)}"
            text += (f"\n\ny: explain anyway, as role {self.role or '(the monitor)'} in a "
                     "read-only transaction (the functions run with that role's rights)"
                     if self.can_confirm else "\n\n(read-only mode: it cannot be explained here)")
        except ExplainRefused as exc:
            text = f"EXPLAIN refused: {one_line(str(exc), 600)}"
        except Exception as exc:  # shown, never a crash
            text = f"EXPLAIN failed: {type(exc).__name__}: {one_line(str(exc), 400)}"
        self.result = text
        self.query_one("#pg-text-body", Static).update(
            rich_text(text, keep_newlines=True, keep_tabs=True))

    def action_explain_anyway(self) -> None:
        if not self.needs_confirmation:
            return
        self.needs_confirmation = False
        self.result = None
        self.query_one("#pg-text-body", Static).update(rich_text("running EXPLAIN…"))
        self.run_worker(self._run(True), exit_on_error=False)


from opsconsole.ui.confirm import ConfirmSignalScreen  # noqa: E402  (where it used to live)

__all__ = ["ConfirmSignalScreen", "ExplainScreen", "PgModal", "TextScreen"]
