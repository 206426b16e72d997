"""Confirmations that cannot be given by accident.

Over a laggy SSH link keys arrive in bursts, and a key held down repeats: a confirmation
taken by the action's own key (``K`` then ``K``) is no confirmation at all. Every
confirmation here

- is answered by a key that is *not* the action's key (``y``), or by typing a word (the pid
  of a root blocker, a runbook step's confirmation word) and Enter;
- ignores every key that arrives within :data:`GUARD_SECONDS` after it is shown (key
  repeat, the rest of a burst): nothing can be typed before it could be read. Only escape
  (going back, which is always safe) is taken at once;
- says what it will do, to what, and how fresh the data it shows is.

The clock is :func:`clock` (module level) so tests move it instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from opsconsole.fmt import age, duration, one_line
from opsconsole.postgres.actions import WHAT
from opsconsole.postgres.model import Backend
from opsconsole.postgres.redact import redact_sql
from opsconsole.text import for_textual

GUARD_SECONDS = 0.5  # keys this soon after a confirmation shows are ignored


def clock() -> float:
    """Monotonic seconds (tests replace it to move time without sleeping)."""
    return time.monotonic()


class GuardedScreen(ModalScreen[Any]):
    """A modal that ignores keys for :data:`GUARD_SECONDS` after it is shown. Its answer
    input (if any, ``ANSWER_ID``) is focused only once the guard is over, so typed keys
    cannot reach it early either."""

    ANSWER_ID: ClassVar[str | None] = None
    opened: float = 0.0

    def on_mount(self) -> None:
        self.opened = clock()
        if self.ANSWER_ID:
            self.set_timer(GUARD_SECONDS, self._arm)

    @property
    def guarded(self) -> bool:
        return clock() - self.opened < GUARD_SECONDS

    def _arm(self) -> None:
        if self.ANSWER_ID and self.is_attached:
            if self.guarded:  # the clock moved back or the timer fired early
                self.set_timer(GUARD_SECONDS, self._arm)
                return
            self.query_one(f"#{self.ANSWER_ID}", Input).focus()

    def arm_now(self) -> None:
        """Focus the answer field at once if the guard is over (tests move the clock)."""
        self._arm()

    async def _on_key(self, event: events.Key) -> None:  # before bindings and on_key
        if event.key == "escape":
            event.stop()
            event.prevent_default()
            self.dismiss(None)
            return
        if self.guarded or (self.ANSWER_ID and self.focused is None):
            event.stop()
            event.prevent_default()
            if not self.guarded and self.ANSWER_ID:
                self._arm()
            return
        await self.answer_key(event)

    async def answer_key(self, event: events.Key) -> None:
        """A key after the guard (subclasses: ``y`` etc.)."""


def signal_text(b: Backend, mode: str, target: str, redact: bool, *, stale: str | None,
                blocks: int, blocks_direct: int, typed: bool) -> Text:
    """What a cancel/terminate confirmation says: the session, its query, the data's age,
    how many sessions it blocks, and how to confirm."""
    t = Text()
    verb = "Cancel the query of" if mode == "cancel" else "Terminate the session of"
    t.append(f"{verb} pid {b.pid}{' on ' + one_line(target) if target else ''}?\n", style="bold")
    if stale:
        t.append(f"STALE: {one_line(stale, 200)}. The session may have changed since; "
                 "opsconsole re-checks it before acting.\n", style="bold reverse")
    if blocks:
        t.append(f"ROOT BLOCKER: it blocks {blocks} session(s) ({blocks_direct} directly) · "
                 f"application {one_line(b.application or '-')}\n", style="bold")
    t.append("\n")
    rows = [
        ("session", f"pid {b.pid} · {b.user or '(hidden)'}@{b.database or '(hidden)'} · "
                    f"{b.application or '-'} · {b.client or 'local'}"),
        ("state", (b.state or "(hidden)") + (f" for {duration(b.state_age)}" if b.state_age is not None else "")
         + f" · query {duration(b.query_age)} · xact {duration(b.xact_age)}"),
    ]
    for k, v in rows:
        t.append(f"  {k:<10}", style="bold")
        t.append(one_line(v) + "\n")  # user, database, application name: anyone's text
    t.append("  query     ", style="bold")
    q = redact_sql(b.query) if redact else b.query
    t.append(one_line(q, 600) + "\n\n")
    t.append("This will " + WHAT[mode] + ".\n")
    if mode == "cancel" and b.idle_in_transaction:
        t.append("This session is idle in a transaction: there is no query to cancel. Go back "
                 "and use K to terminate it (its transaction is rolled back).\n", style="bold")
    t.append(f"Before acting, opsconsole re-checks that pid {b.pid} is still this session "
             "(same backend start and query start).\n", style="italic")
    return t


class ConfirmSignalScreen(GuardedScreen):
    """Confirm a cancel or terminate of one backend: ``y`` (never ``c``/``K``/enter) after
    the guard; terminating a root blocker that blocks others takes its pid, typed, and
    Enter. Dismissed with the mode, or None."""

    DEFAULT_CSS = """
    ConfirmSignalScreen { align: center middle; background: $background 60%; }
    ConfirmSignalScreen > Vertical { width: 90%; max-width: 110; height: auto; max-height: 100%;
        border: heavy $error; background: $surface; padding: 0 1; }
    ConfirmSignalScreen VerticalScroll { height: auto; max-height: 1fr; }
    ConfirmSignalScreen #pg-confirm-answer { height: 1; border: none; padding: 0; }
    ConfirmSignalScreen #pg-confirm-foot { height: auto; text-style: bold; }
    """

    def __init__(self, backend: Backend, mode: str, target: str = "", redact: bool = False, *,
                 stale: str | None = None, blocks: int = 0, blocks_direct: int = 0) -> None:
        super().__init__(classes="-danger", id="pg-confirm")
        self.backend = backend
        self.mode = mode
        self.target = target
        self.redact = redact
        self.stale = stale
        self.blocks = blocks
        self.blocks_direct = blocks_direct
        # a root blocker that blocks others: its pid, typed (a y is too easy to give)
        self.typed = mode == "terminate" and blocks > 0
        self.ANSWER_ID = "pg-confirm-answer" if self.typed else None  # type: ignore[misc]

    @property
    def can_cancel(self) -> bool:
        return not self.backend.idle_in_transaction

    @property
    def can_act(self) -> bool:
        return not (self.mode == "cancel" and self.backend.idle_in_transaction)

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll():
                yield Static(signal_text(self.backend, self.mode, self.target, self.redact,
                                         stale=self.stale, blocks=self.blocks,
                                         blocks_direct=self.blocks_direct, typed=self.typed),
                             id="pg-confirm-text")
            what = "cancel the query" if self.mode == "cancel" else "terminate the session"
            if not self.can_act:
                foot = "escape goes back"
            elif self.typed:
                foot = f"type the pid {self.backend.pid} and press enter to {what} · escape goes back"
            else:
                foot = f"y: {what} · n or escape: go back"
            yield Static(Text(foot), id="pg-confirm-foot")
            if self.typed:
                yield Input(placeholder=f"pid {self.backend.pid}", id="pg-confirm-answer",
                            compact=True, restrict=r"[0-9]*", max_length=10)

    async def answer_key(self, event: events.Key) -> None:
        if self.typed:
            return  # the answer field has focus and takes the keys
        event.stop()
        event.prevent_default()
        if event.key == "y" and self.can_act:
            self.dismiss(self.mode)
        elif event.key == "n":
            self.dismiss(None)

    @on(Input.Submitted, "#pg-confirm-answer")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        if self.guarded:
            return
        if event.value.strip() == str(self.backend.pid):
            self.dismiss(self.mode)
        else:
            event.input.value = ""
            self.notify(f"That is not pid {self.backend.pid}: nothing was done.",
                        severity="warning")


class ConfirmStepScreen(GuardedScreen):
    """Type the step's confirmation word to run a dangerous step (after the guard)."""

    ANSWER_ID = "runbook-confirm-input"
    DEFAULT_CSS = """
    ConfirmStepScreen { align: center middle; }
    #runbook-confirm-box { width: 70; max-width: 95%; height: auto; max-height: 100%;
                           padding: 1 2; background: $surface; border: thick $error; }
    #runbook-confirm-what { margin: 1 0; color: $text; height: auto; max-height: 1fr; }
    """

    def __init__(self, title: str, word: str, what: str) -> None:
        super().__init__(id="runbook-confirm")
        self.step_title = title
        self.word = word
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="runbook-confirm-box"):
            yield Static(Text.assemble(("⚠ Dangerous step: ", "bold"), one_line(self.step_title)),
                         id="runbook-confirm-title")
            with VerticalScroll(id="runbook-confirm-what"):
                yield Static(for_textual(self.what, keep_newlines=True))
            yield Static(Text.assemble("Type ", (one_line(self.word), "bold"),
                                       " and press enter to run it; escape cancels."))
            yield Input(placeholder=one_line(self.word), id="runbook-confirm-input")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if not self.guarded:
            self.dismiss(event.value.strip())


def stale_note(state: str, last_ok: float | None, error: str | None, now: float) -> str | None:
    """"the data shown is 42s old (connection refused)" for a stale pane, else None."""
    if state != "stale":
        return None
    how_old = f"the data shown is {age(now - last_ok)} old" if last_ok else "no fresh data"
    return how_old + (f" ({one_line(error, 120)})" if error else "")
