"""Pane base classes: a header line with the pane's state, a filter, read-only gating, and
the poll → draw → reschedule loop that keeps I/O off the UI loop.

A pane never shows colour alone: its header says LIVE / STALE / PAUSED / OFF in words, and
the focused pane is marked with ``▶``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from opsconsole.fmt import age, one_line
from opsconsole.ui.actions import ActionSpec, bindings, dangerous_actions
from opsconsole.ui.console import console_app


class PaneHeader(Static):
    """One line: ``▶ 2 RESOURCES · LIVE · 2s · filter: py``; updated only when it changes."""

    DEFAULT_CSS = "PaneHeader { height: 1; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__("", **kw)
        self._last: str | None = None

    def show(self, text: Text) -> None:
        key = text.markup
        if key != self._last:
            self._last = key
            self.update(text, layout=False)  # one line, always: no screen re-layout


class FilterInput(Input):
    """The ``/`` filter: one row, the typed text on it. Compact: Input's ``:focus`` rule
    would otherwise bring back its tall border and leave no row for the text."""

    DEFAULT_CSS = """
    FilterInput, FilterInput:focus { display: none; height: 1; border: none; padding: 0 1; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(compact=True, **kw)


class Pane(Vertical):
    """A live pane. Subclasses set ``pane_id``, ``number``, ``title`` and ``ACTIONS``."""

    pane_id: ClassVar[str] = ""
    number: ClassVar[int] = 0
    title: ClassVar[str] = ""
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = ()
    can_focus = False

    class StateChanged(Message):
        """The pane's header was redrawn: its state or data may have changed (the main
        screen redraws the tab line, which only repaints if its text changed)."""

    def __init_subclass__(cls, **kw: Any) -> None:
        if "ACTIONS" in cls.__dict__:  # before Textual merges the class's BINDINGS
            cls.BINDINGS = bindings(cls.ACTIONS)
        super().__init_subclass__(**kw)

    def __init__(self, **kw: Any) -> None:
        super().__init__(id=f"pane-{self.pane_id}", classes="pane", **kw)
        self.state = "off"  # live | stale | paused | off
        self.state_detail = ""
        self.summary = ""
        self.filter_text = ""
        self.last_ok: float | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield PaneHeader(classes="pane-header")
        yield from self.compose_body()
        yield FilterInput(placeholder="filter… (enter keeps, escape clears)", classes="pane-filter",
                          disabled=True)  # never focusable while hidden

    def compose_body(self) -> ComposeResult:
        yield Static("", classes="pane-body")

    def on_mount(self) -> None:
        self.update_header()

    def focus_primary(self) -> None:
        """Focus the pane's main widget (its table), or the pane itself."""
        for w in self.query("*"):
            if w.focusable and not isinstance(w, FilterInput):
                w.focus()
                return
        self.screen.set_focus(None)  # this pane's screen, not whichever is on top

    # ------------------------------------------------------------------ header
    def header_text(self) -> Text:
        focused = self.has_focus_within or self.has_class("-current")
        t = Text()
        t.append("▶ " if focused else "  ")
        t.append(f"{self.number} {self.title.upper()}", style="bold")
        marks = {"live": "LIVE", "stale": "STALE", "paused": "PAUSED", "off": "OFF"}
        t.append(" · ")
        t.append(marks.get(self.state, self.state.upper()),
                 style="bold reverse" if self.state == "stale" else "")
        if self.state == "stale" and self.last_ok is not None:
            t.append(f" {age(time.time() - self.last_ok)} old")
        # an error text, a summary and a filter can hold anything the source or operator sent
        if self.state_detail:
            t.append(f" · {one_line(self.state_detail)}")
        if self.summary:
            t.append(f" · {one_line(self.summary)}")
        if self.filter_text:
            t.append(f" · filter: {one_line(self.filter_text)}")
        return t

    def update_header(self) -> None:
        try:
            header = self.query_one(PaneHeader)
        except Exception:
            return
        header.show(self.header_text())
        self.set_class(self.state == "stale", "-stale")
        self.post_message(self.StateChanged())

    def on_descendant_focus(self) -> None:
        self.update_header()

    def on_descendant_blur(self) -> None:
        self.update_header()

    # ------------------------------------------------------------------ filter
    def open_filter(self) -> None:
        f = self.query_one(FilterInput)
        f.value = self.filter_text
        f.disabled = False
        f.display = True
        # focused now, not after the queued keys: "/" then a fast "c" types "c" (focus()
        # would defer, and the "c" would reach the pane: cancel)
        self.screen.set_focus(f)

    def close_filter(self, keep: bool) -> None:
        f = self.query_one(FilterInput)
        if not keep:
            self.filter_text = ""
            self.apply_filter("")
        f.display = False
        f.disabled = True
        self.update_header()
        self.focus_primary()

    @property
    def filter_open(self) -> bool:
        try:
            return bool(self.query_one(FilterInput).display)
        except Exception:
            return False

    @on(Input.Changed, ".pane-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value
        self.apply_filter(event.value)
        self.update_header()

    @on(Input.Submitted, ".pane-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_filter(keep=True)

    def apply_filter(self, text: str) -> None:
        """Subclasses re-render their rows with the filter applied."""

    # ------------------------------------------------------------------ gating
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if console_app(self).read_only and action in dangerous_actions(self.ACTIONS):
            return False
        return True


class PolledPane(Pane):
    """Poll → draw → reschedule. ``collect`` runs in a thread (``thread_collect = True``) or
    as a coroutine; each poll has a timeout; a failure keeps the last data, marks the pane
    STALE with the error and its age, and retries with backoff. Polls never pile up: the
    next one is scheduled when the last one finishes."""

    thread_collect: ClassVar[bool] = True
    interval_factor: ClassVar[float] = 1.0
    poll_timeout: ClassVar[float] = 10.0
    max_backoff: ClassVar[float] = 60.0

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.failures = 0
        self.snapshot: Any = None
        self.last_error: str | None = None
        self.polls = 0
        self._pending: asyncio.Future[Any] | None = None
        self._timer: Any = None
        self._polling = False

    def collect(self) -> Any:
        """Blocking collection (thread) — or override ``collect_async``."""
        raise NotImplementedError

    async def collect_async(self) -> Any:
        if self.thread_collect:
            if self._pending is not None and not self._pending.done():
                raise TimeoutError("previous collection still running")
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(None, self.collect)
            return await asyncio.wait_for(asyncio.shield(self._pending), self.poll_timeout)
        raise NotImplementedError

    def show(self, snapshot: Any) -> None:
        """Draw a snapshot (on the UI loop; no I/O)."""

    @property
    def interval(self) -> float:
        return float(console_app(self).refresh_interval) * self.interval_factor

    def on_mount(self) -> None:
        super().on_mount()
        self.state = "live"
        self.schedule(0)

    def schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(max(delay, 0.01), self.poll_now)

    @property
    def polling(self) -> bool:
        """A poll is running (the next one is scheduled when it finishes)."""
        return self._polling

    def poll_now(self) -> None:
        if self._polling:
            return
        if console_app(self).paused:
            self.state = "paused"
            self.update_header()
            return  # the app calls resume() → poll_now()
        self._polling = True
        self.run_worker(self._poll(), group=f"poll-{self.pane_id}", exit_on_error=False)

    async def _poll(self) -> None:
        started = time.monotonic()
        try:
            snap = await self.collect_async()
        except Exception as exc:  # every failure is a stale pane, never a crash
            self.failures += 1
            self.last_error = _describe_error(exc)
            self.state = "stale"
            self.state_detail = self.last_error
            self.on_poll_error(exc)
            delay = min(self.interval * (2 ** min(self.failures, 6)), self.max_backoff)
        else:
            self.failures = 0
            self.last_error = None
            self.snapshot = snap
            self.last_ok = time.time()
            self.state = "live"
            self.state_detail = ""
            self.polls += 1
            self.show(snap)
            delay = max(self.interval - (time.monotonic() - started), 0.05)
        finally:
            self._polling = False
        self.update_header()
        if not console_app(self).paused:
            self.schedule(delay)

    def on_poll_error(self, exc: BaseException) -> None:
        """Hook: subclasses may show more (e.g. hints)."""

    def resume(self) -> None:
        self.state = "live" if self.failures == 0 else "stale"
        self.schedule(0)


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return str(exc) or "timed out"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

