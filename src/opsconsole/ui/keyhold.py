"""Keys that arrive in a burst go where they would have gone typed slowly.

Over a laggy SSH link a whole line of keys arrives at once: ``i``, ``fast typist``, Tab,
``2``, Tab, ``api``, Enter. Textual hands each key to the focused widget's queue at once,
but what a key *does* happens later, in other queues: ``i`` pushes a modal that mounts and
focuses its first field some messages later; Tab moves focus only when the key has bubbled
up to the bindings. Keys behind them went to the old screen or the old field ("fast
typist2api").

:class:`KeyHold` (an App mixin) lets one key settle before the next is dispatched: after a
key is handed on, a :class:`KeySettled` marker is posted to the focused widget (or the
screen, when nothing is focused yet — it is processed only once that screen has mounted)
and bubbles up the same path as the key, so it reaches the app only after the key was
handled there. Rounds repeat until one finds the same screen, mounted, and the same focused
widget as the round before (at least two rounds: what a key's binding posts, an
``Input.Submitted`` and the dismiss behind it, is flushed by the second). Keys arriving
meanwhile are held and dispatched in order.

Bounded: a key waits at most :data:`HOLD_SECONDS` and :data:`MAX_ROUNDS` rounds for its
screen to settle (a screen that never focuses cannot eat keys), and more than
:data:`MAX_HELD` held keys are let through at once, in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from textual import events
from textual.message import Message

from opsconsole.ui.compat import is_terminal_key

HOLD_SECONDS = 1.0  # longest a key waits for the previous one's screen/focus to settle
MAX_ROUNDS = 12  # marker rounds per key before it is considered settled anyway
MAX_HELD = 256  # keys held at most; beyond, all are dispatched at once, in order


class KeySettled(Message, bubble=True):
    """The marker that follows a key up the focus path to the app."""

    def __init__(self, token: int, expired: bool = False) -> None:
        super().__init__()
        self.token = token
        self.expired = expired


class KeyHold:
    """App mixin (before ``App`` in the bases): keys from the terminal are dispatched one
    at a time, each once the previous one's effects (screen pushed and mounted, focus
    moved) have happened."""

    _kh_busy: bool = False
    _kh_token: int = 0
    _kh_rounds: int = 0
    _kh_state: tuple[Any, ...] = ()
    _kh_timer: asyncio.TimerHandle | None = None
    _kh_held: deque[events.Key] | None = None

    async def on_event(self, event: events.Event) -> None:  # type: ignore[override]
        if not is_terminal_key(event):
            await super().on_event(event)  # type: ignore[misc]
            return
        held = self._kh_held
        if held is None:
            held = self._kh_held = deque()
        if not self._kh_busy and not held:
            await self._kh_dispatch(event)
            return
        held.append(event)
        if len(held) > MAX_HELD:  # something never settles: let them all through, in order
            self._kh_finish()
            while held:
                await super().on_event(held.popleft())  # type: ignore[misc]

    async def _kh_dispatch(self, key: events.Key) -> None:
        self._kh_busy = True
        self._kh_token += 1
        self._kh_rounds = 0
        self._kh_state = ()
        app: Any = self
        self._kh_timer = asyncio.get_running_loop().call_later(
            HOLD_SECONDS, app.post_message, KeySettled(self._kh_token, expired=True))
        await super().on_event(key)  # type: ignore[misc]
        self._kh_round()

    def _kh_snapshot(self) -> tuple[Any, ...]:
        app: Any = self
        try:
            screen = app.screen
        except Exception:
            return ()
        return (screen, screen.is_mounted, app.focused)

    def _kh_round(self) -> None:
        app: Any = self
        self._kh_rounds += 1
        self._kh_state = self._kh_snapshot()
        marker = KeySettled(self._kh_token)
        try:
            target = app.focused or app.screen
        except Exception:
            target = app
        if not target.post_message(marker):
            app.post_message(marker)

    def _kh_finish(self) -> None:
        self._kh_busy = False
        self._kh_token += 1
        if self._kh_timer is not None:
            self._kh_timer.cancel()
            self._kh_timer = None

    async def on_key_settled(self, message: KeySettled) -> None:
        message.stop()
        if message.token != self._kh_token or not self._kh_busy:
            return  # a marker of a key already settled (or expired)
        settled = (message.expired or self._kh_rounds >= MAX_ROUNDS
                   or (self._kh_rounds >= 2 and self._kh_snapshot() == self._kh_state))
        if not settled:
            self._kh_round()
            return
        self._kh_finish()
        held = self._kh_held
        if held:
            await self._kh_dispatch(held.popleft())
