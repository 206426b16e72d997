"""Typed access to the running console from a widget or screen, and the messages the
store workers (ui/flows.py) send to the app.

Widgets, panes and screens of opsconsole only ever run inside :class:`OpsConsoleApp`;
``console_app(self)`` says so to the type checker instead of ``getattr(self.app, …)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.message import Message
from textual.message_pump import MessagePump

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp


def console_app(node: MessagePump) -> OpsConsoleApp:
    """The OpsConsoleApp ``node`` runs in."""
    return cast("OpsConsoleApp", node.app)


class StoreWritten(Message):
    """(from a worker) An event was recorded for ``incident_id``: the incident's screens
    read their new events (``refresh_screens``), the incidents pane polls (``refresh_pane``),
    and ``notice`` (if any) is shown."""

    def __init__(self, incident_id: str | None, *, refresh_screens: bool = True,
                 refresh_pane: bool = True, notice: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.refresh_screens = refresh_screens
        self.refresh_pane = refresh_pane
        self.notice = notice  # (message, title)


class Declared(Message):
    """(from a worker) ``incident_id`` was declared: it becomes the active incident."""

    def __init__(self, incident_id: str) -> None:
        super().__init__()
        self.incident_id = incident_id


class StoreWriteFailed(Message):
    """(from a worker) A write (or read) of the incident store failed."""

    def __init__(self, label: str, error: str) -> None:
        super().__init__()
        self.label = label
        self.error = error


class RecordingChanged(Message):
    """(from any thread) Events started or stopped waiting in memory (a full or read-only
    disk): the header's recording line is redrawn."""
