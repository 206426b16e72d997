"""Quitting the console: ``q`` asks first while an incident is active or a runbook step
runs (confirmed with ``y``, never with ``q`` again); running steps are stopped and their
stop recorded before the console exits — also when the terminal goes away (SIGHUP)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from opsconsole.ui.confirm import GuardedScreen
from opsconsole.ui.safe import rich_text

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp

QUIT_REASON = "stopped because the console quit"  # what a stopped step's record says
HANGUP_REASON = "stopped: terminal closed"
STOP_GRACE = 6.0  # seconds to wait for stopped steps (SIGTERM, SIGKILL) to be recorded
HANGUP_TEARDOWN = 3.0  # seconds the app's own teardown may take after a hang-up


def running_sessions(app: OpsConsoleApp) -> list[Any]:
    """The runbook sessions with a step running now, their walkthrough open or closed."""
    from opsconsole.ui.runbook_runs import running_sessions as running

    return list(running(app))


def active_unresolved(app: OpsConsoleApp) -> str | None:
    """The console's active incident, unless it is known to be resolved."""
    iid = app.active_incident
    if not iid:
        return None
    try:
        state = app.pane("incidents").states.get(iid)  # type: ignore[attr-defined]
    except Exception:
        state = None
    if state is not None and getattr(state, "status", None) == "resolved":
        return None
    return iid


def quit_reasons(app: OpsConsoleApp) -> list[str]:
    """Why quitting now needs a yes (empty: it does not)."""
    out = []
    if iid := active_unresolved(app):
        out.append(f"Incident {iid} is active (not resolved).")
    for s in running_sessions(app):
        out.append(f"Runbook {s.runbook.id}: a step is running; it will be stopped and the "
                   "stop recorded.")
    return out


class QuitConfirm(GuardedScreen):
    """Quit? ``y`` quits; ``n`` or escape stays. Keys in the guard after it shows are
    ignored (:mod:`opsconsole.ui.confirm`), and ``q`` never answers."""

    DEFAULT_CSS = """
    QuitConfirm { align: center middle; background: $background 60%; }
    QuitConfirm > Vertical { width: 70; max-width: 95%; height: auto; border: round $warning;
                             background: $surface; padding: 0 1; }
    """

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(id="quit-confirm")
        self.reasons = reasons

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Quit opsconsole?", style="bold"))
            for reason in self.reasons:
                yield Static(rich_text(reason))
            yield Static(Text("y quits · n or escape stays", style="italic"))

    def dismiss(self, result: Any = None) -> Any:  # escape: stay
        return super().dismiss(bool(result))

    async def answer_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if event.key == "y":
            self.dismiss(True)
        elif event.key == "n":
            self.dismiss(False)


async def ask_to_quit(app: OpsConsoleApp) -> None:
    """``q``: quit at once, unless an incident is active or a step runs: then ask."""
    if isinstance(app.screen, QuitConfirm):
        return
    reasons = quit_reasons(app)
    if not reasons:
        app.exit()
        return

    def answered(yes: bool | None) -> None:
        if yes:
            asyncio.get_running_loop().create_task(stop_steps_and_exit(app, QUIT_REASON))

    app.push_screen(QuitConfirm(reasons), answered)


async def stop_steps_and_exit(app: OpsConsoleApp, reason: str, return_code: int = 0,
                              hard_exit: bool = False) -> None:
    """Stop every running runbook step like ``x`` does, its record saying ``reason``, wait
    (bounded) for the records, then exit. ``hard_exit``: the terminal is gone — Textual's
    teardown writes to it and can block for ever in its output queue (seen: App._shutdown
    waiting in WriterThread.write), so a bounded teardown then ``os._exit``."""
    sessions = running_sessions(app)
    for session in sessions:
        session.stop(reason)
    deadline = time.monotonic() + STOP_GRACE
    while any(s.running is not None for s in sessions) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if hard_exit:
        watchdog = threading.Timer(HANGUP_TEARDOWN, os._exit, args=(return_code,))
        watchdog.daemon = True  # a clean exit does not wait for it
        watchdog.start()
    app.exit(return_code=return_code)
