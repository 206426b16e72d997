"""Typed access to the running console from a widget or screen, and the messages its
workers send to widgets.

Widgets, panes and screens of opsconsole only ever run inside :class:`OpsConsoleApp`;
``console_app(self)`` says so to the type checker instead of ``getattr(self.app, …)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.message_pump import MessagePump

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp


def console_app(node: MessagePump) -> OpsConsoleApp:
    """The OpsConsoleApp ``node`` runs in."""
    return cast("OpsConsoleApp", node.app)
