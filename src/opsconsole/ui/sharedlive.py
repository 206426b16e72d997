"""The console side of the shared store's live updates: the store's NOTIFY (or reconnect,
or status change) wakes the incidents pane and the open incident screen at once instead of
waiting for their next poll; they then read ``WHERE seq > last_seen`` themselves. The
callback comes from the store's thread: it only posts a message (coalesced)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp


class SharedStoreChanged(Message):
    """(from the store's thread) Another event may be in the shared store, or its status
    (reachable, events waiting) changed."""


def attach(app: OpsConsoleApp, store: Any) -> None:
    """Subscribe ``app`` to ``store``'s wake-ups (a store without them is polled as before)."""
    subscribe = getattr(store, "subscribe", None)
    if subscribe is None:
        return
    posted = [False]

    def wake() -> None:  # the store's thread
        if not posted[0]:
            posted[0] = True
            app.post_message(SharedStoreChanged())

    app._shared_posted = posted  # type: ignore[attr-defined]
    subscribe(wake)


def changed(app: OpsConsoleApp) -> None:
    """(UI loop) Poll what shows the store now; retried shortly when a poll is running."""
    posted = getattr(app, "_shared_posted", None)
    if posted is not None:
        posted[0] = False
    if not app.is_running or not app.screen_stack:  # a wake-up arriving as the app closes
        return
    app.update_header()
    busy = False
    try:
        pane = app.pane("incidents")
        if getattr(pane, "polling", False):
            busy = True
        else:
            pane.poll_now()  # type: ignore[attr-defined]
    except Exception:
        pass
    screen = app.screen
    if screen.id == "incident-screen" and hasattr(screen, "poll"):
        if getattr(screen, "_polling", False):
            busy = True
        else:
            screen.poll()
    if busy:
        app.set_timer(0.2, lambda: changed(app))
