"""Modals of the PostgreSQL panes: confirm cancel/terminate, details, EXPLAIN."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from opsconsole.fmt import duration, one_line
from opsconsole.postgres.actions import WHAT
from opsconsole.postgres.explain import ExplainNeedsConfirmation, ExplainRefused
from opsconsole.postgres.model import Backend
from opsconsole.postgres.redact import redact_sql
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


def confirm_text(b: Backend, mode: str, target: str, redact: bool) -> Text:
    t = Text()
    t.append(f"{'Cancel the query of' if mode == 'cancel' else 'Terminate'} pid {b.pid}"
             f"{' on ' + target if target else ''}?\n\n", style="bold")
    rows = [
        ("session", f"pid {b.pid} · {b.user or '(hidden)'}@{b.database or '(hidden)'} · "
                    f"{b.application or '-'} · {b.client or 'local'}"),
        ("state", (b.state or "(hidden)") + (f" for {duration(b.state_age)}" if b.state_age is not None else "")
         + f" · query {duration(b.query_age)} · xact {duration(b.xact_age)}"),
    ]
    for k, v in rows:
        t.append(f"  {k:<12}", style="bold")
        t.append(one_line(v) + "\n")  # user, database, application name: anyone's text
    t.append("  query       ", style="bold")
    q = redact_sql(b.query) if redact else b.query
    t.append(one_line(q, 600) + "\n\n")
    t.append("c  ", style="bold")
    t.append(WHAT["cancel"] + "\n")
    t.append("K  ", style="bold")
    t.append(WHAT["terminate"] + "\n")
    if b.idle_in_transaction:
        t.append("\nThis session is idle in a transaction: there is no query to cancel; "
                 "terminate ends it and rolls the transaction back.\n", style="bold")
    t.append("\nBefore acting, opsconsole re-checks that pid "
             f"{b.pid} is still this session (same backend start and query start).",
             style="italic")
    return t


class ConfirmSignalScreen(PgModal):
    """Confirm cancel/terminate. Cancel is offered first; it is disabled (with the reason
    above) for an idle-in-transaction session, where it would do nothing."""

    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("pg-confirm-cancel", "c", "choose('cancel')", "cancel query",
                   "Cancel the running query (the session stays)"),
        ActionSpec("pg-confirm-terminate", "K", "choose('terminate')", "terminate session",
                   "Terminate the whole session"),
        ActionSpec("pg-modal-close", "escape,q", "close", "back", "Close without doing anything"),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, backend: Backend, mode: str, target: str = "", redact: bool = False) -> None:
        super().__init__(classes="-danger", id="pg-confirm")
        self.backend = backend
        self.mode = mode
        self.target = target
        self.redact = redact

    @property
    def can_cancel(self) -> bool:
        return not self.backend.idle_in_transaction

    def compose(self) -> ComposeResult:
        with Vertical(classes="pg-modal-box"):
            with VerticalScroll(classes="pg-modal-scroll"):
                yield Static(confirm_text(self.backend, self.mode, self.target, self.redact),
                             id="pg-confirm-text")
            with Horizontal(classes="pg-modal-buttons"):
                yield Button("c Cancel query", id="pg-do-cancel", variant="warning",
                             disabled=not self.can_cancel, compact=True)
                yield Button("K Terminate session", id="pg-do-terminate", variant="error",
                             compact=True)
                yield Button("esc Back", id="pg-back", compact=True)

    def on_mount(self) -> None:
        first = "#pg-do-cancel" if self.can_cancel else "#pg-back"
        self.query_one(first, Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "pg-do-cancel":
            self.action_choose("cancel")
        elif event.button.id == "pg-do-terminate":
            self.action_choose("terminate")
        else:
            self.dismiss(None)

    def action_choose(self, mode: str) -> None:
        if mode == "cancel" and not self.can_cancel:
            self.notify("Nothing to cancel: the session is idle in a transaction. "
                        "Use K to terminate it.", severity="warning")
            return
        self.dismiss(mode)


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
