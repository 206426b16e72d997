"""The wall: one screen, readable across the room, that changes nothing.

Read-only by construction: its only bindings are ``q`` (asks, then quits) and ``escape``
(back to the console, when it was opened from there); it has no palette entries, and the
console's other keys and hotkeys are refused while it is shown (``OpsConsoleApp.
check_action``). A worker thread follows the store (``last_seq()`` every
:data:`POLL_SECONDS`, the new events only when it moved, see :mod:`.wall_model`); the UI
loop only draws: when the data changed, and when a shown clock or age changes by itself (each
second while a deadline is under ten minutes away, else each minute: see
``wall_model.redraw_in``). At
120x36 and larger the clocks are big digits; below, one line of text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Digits, Static

from opsconsole.ui.actions import ActionSpec, bindings
from opsconsole.ui.wall import render
from opsconsole.ui.wall.figures import Figures, HostSampler, figures_text
from opsconsole.ui.wall.wall_model import (
    STALE_AFTER,
    Followed,
    Follower,
    WallView,
    clock_text,
    clock_unit,
    redraw_in,
    wall_view,
)

POLL_SECONDS = 0.5
BIG_WIDTH, BIG_HEIGHT = 120, 36


def same_shape(before: Any, after: Any) -> bool:
    """Whether ``after`` takes exactly the room ``before`` took: the same length, spaces and
    line breaks in the same places (so it wraps the same) and every changed character as
    wide as the one it replaces (a clock's digits, a sparkline's bars). Then the screen
    need not be laid out again, only that widget repainted."""
    if before is None:
        return False
    a = before.plain if isinstance(before, Text) else str(before)
    b = after.plain if isinstance(after, Text) else str(after)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x != y and (x.isspace() or y.isspace() or cell_len(x) != cell_len(y)):
            return False
    return True


class QuitWall(ModalScreen[bool], inherit_bindings=False):
    """``q`` on the wall: a small confirmation (``y`` quits; ``n``/escape/anything stays).
    Keys within half a second of it showing are ignored (a held or doubled ``q``)."""

    WALL = True  # the console refuses its own keys while this is shown

    DEFAULT_CSS = """
    QuitWall { align: center middle; }
    QuitWall > Static { width: auto; max-width: 60; height: auto; border: heavy $warning;
                        padding: 1 2; background: $panel; }
    """

    def __init__(self, what: str) -> None:
        super().__init__(id="wall-quit-confirm")
        self.what = what
        self.opened = 0.0

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Quit {self.what}?\n\ny quits  ·  n or escape stays"))

    def on_mount(self) -> None:
        import time

        self.opened = time.monotonic()

    def on_key(self, event: Any) -> None:
        import time

        event.stop()
        event.prevent_default()
        if event.key == "escape":
            self.dismiss(False)
        elif time.monotonic() - self.opened < 0.5:
            return
        elif event.key == "y":
            self.dismiss(True)
        else:
            self.dismiss(False)


class WallScreen(Screen[None], inherit_bindings=False):
    WALL = True  # the console refuses its own keys (and hotkeys) while the wall is shown
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("wall-quit", "q", "wall_quit", "quit", "Quit (asks first)", priority=True),
        ActionSpec("wall-back", "escape", "wall_back", "back",
                   "Back to the console (when the wall was opened from it)", priority=True),
    )
    BINDINGS: ClassVar[list[Binding]] = bindings(ACTIONS)  # type: ignore[assignment]
    COMMANDS: ClassVar[set[Any]] = set()  # no palette entries: nothing here changes anything

    DEFAULT_CSS = """
    WallScreen { layout: vertical; background: $surface; }
    WallScreen #wall-head { height: auto; padding: 0 1; }
    WallScreen.-big #wall-head { padding: 1 1; text-style: bold; }
    WallScreen #wall-clocks { height: auto; display: none; padding: 0 1; }
    WallScreen.-big #wall-clocks { display: block; }
    WallScreen #wall-clocks > Vertical { width: auto; height: auto; margin: 0 4 0 0; }
    WallScreen #wall-clocks Digits { width: auto; }
    WallScreen #wall-clocks Static { width: auto; }
    WallScreen #wall-clocks .-overdue { background: $error; color: $text; }
    WallScreen #wall-clocktext { height: auto; padding: 0 1; }
    WallScreen.-big #wall-clocktext { display: none; }
    WallScreen #wall-body { height: auto; padding: 0 1; }
    WallScreen #wall-lower { height: 1fr; }
    WallScreen #wall-lower > Static { padding: 0 1; height: auto; }
    WallScreen #wall-right { height: auto; }
    WallScreen #wall-right > Static { padding: 0 1; height: auto; }
    WallScreen.-big #wall-figures { margin: 1 0 0 0; }
    WallScreen.-big #wall-lower { layout: horizontal; }
    WallScreen.-big #wall-timeline { width: 3fr; }
    WallScreen.-big #wall-right { width: 2fr; }
    WallScreen #wall-small { dock: bottom; height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, store_of: Callable[[], Any], clock: Callable[[], datetime],
                 incidents_cfg: Any, host: str, *, from_console: bool = False,
                 poll_seconds: float = POLL_SECONDS,
                 next_step: Callable[[Any], str | None] | None = None,
                 sampler: HostSampler | None = None) -> None:
        super().__init__(id="wall-screen")
        self.sampler = sampler or HostSampler()
        self.figures = Figures()
        self.clock = clock
        self.incidents_cfg = incidents_cfg
        self.host = host
        self.from_console = from_console
        self.poll_seconds = poll_seconds
        self.follower = Follower(store_of, clock, next_step)
        self.data = Followed()
        self.view: WallView | None = None
        self.polls = 0  # reads done (tests wait on it)
        self._stop = threading.Event()
        self._shown: dict[int, Any] = {}  # what each widget shows (see _put)
        self._asked = False  # the follower has handed the UI a first read
        self._timer: Any = None  # the next redraw of the clocks (see redraw_in)
        self.draws = 0  # redraws done (the bench and tests read it)
        self.next_draw_in = 0.0  # seconds from the last draw to the next (tests read it)

    def compose(self) -> ComposeResult:
        yield Static(id="wall-head")
        with Horizontal(id="wall-clocks"):
            with Vertical(id="wall-since-box"):
                yield Static("SINCE START", id="wall-since-label")
                yield Digits("", id="wall-since")
            with Vertical(id="wall-response-box"):
                yield Static("RESPONSE TARGET", id="wall-response-label")
                yield Digits("", id="wall-response")
            with Vertical(id="wall-update-box"):
                yield Static("NEXT UPDATE DUE", id="wall-update-label")
                yield Digits("", id="wall-update")
        yield Static(id="wall-clocktext")
        yield Static(id="wall-body")
        with Vertical(id="wall-lower"):
            with Vertical(id="wall-right"):
                yield Static(id="wall-board")
                yield Static(id="wall-figures")
            yield Static(id="wall-timeline")
        yield Static(id="wall-small")

    def on_mount(self) -> None:
        self._size_class(self.app.size.width, self.app.size.height)
        self.draw()
        self.run_worker(self._follow, thread=True, exit_on_error=False, group="wall")
        self.set_interval(1.0, self._watch)

    def on_unmount(self) -> None:
        self._stop.set()

    def on_resize(self, event: Any) -> None:
        self._size_class(event.size.width, event.size.height)
        self.draw()

    def _size_class(self, width: int, height: int) -> None:
        self.set_class(width >= BIG_WIDTH and height >= BIG_HEIGHT, "-big")

    # ------------------------------------------------------------------ following (thread)
    def _follow(self) -> None:
        while not self._stop.is_set():
            changed = self.follower.poll()
            first = not self.polls and not self._asked
            snap = self.follower.snapshot() if changed or first else None
            figs = self.sampler.snapshot() if self.sampler.maybe_sample() else None
            if snap is not None or figs is not None or \
                    self.follower.data.error != self.data.error:
                self._asked = True
                try:  # only then wake the UI loop (the clocks redraw once a second anyway)
                    self.app.call_from_thread(self._read, snap, figs)
                except RuntimeError:  # the app is gone
                    return
            else:
                self.data.read_at = self.follower.data.read_at  # its age, in the small print
            self._stop.wait(self.poll_seconds)

    def _watch(self) -> None:
        """LIVE turns STALE without a wake-up from the follower (a read that hangs): check
        the age of its last read each second, and draw only when that flips."""
        f = self.follower.data
        now = self.clock()
        live = f.error is None and f.read_at is not None and \
            (now - f.read_at).total_seconds() <= STALE_AFTER
        if self.view is not None and live != self.view.live:
            self.data.read_at = f.read_at
            self.draw()

    def _read(self, snap: Followed | None, figs: Figures | None = None) -> None:
        self.polls += 1
        if figs is not None:
            self.figures = figs
        if snap is not None:
            self.data = snap
        else:
            self.data.read_at = self.follower.data.read_at
            self.data.error = self.follower.data.error
        self.draw()

    # ------------------------------------------------------------------ drawing
    def _put(self, widget: Any, content: Any) -> None:
        """Update ``widget`` only when what it shows changed: an update re-lays the screen
        out, and the wall redraws every second for its clocks (16 % of a core when every
        widget was updated each second; see bench/bench_serve.py)."""
        key = id(widget)
        before = self._shown.get(key)
        if before == content:
            return
        self._shown[key] = content.copy() if isinstance(content, Text) else content
        if isinstance(widget, Static):  # a clock ticking needs no new layout
            widget.update(content, layout=not same_shape(before, content))
        else:
            widget.update(content)

    def draw(self) -> None:
        """Draw what the data and the clock say, then wait until something shown changes
        by itself: the next second while a deadline is under ten minutes away, else the next
        minute of a clock (a new read or a resize draws at once)."""
        now = self.clock()
        view = self.view = wall_view(self.data, now, self.incidents_cfg, self.host)
        self.draws += 1
        try:
            self._draw(view, now)
        finally:
            if self._timer is not None:
                self._timer.stop()
            self.next_draw_in = redraw_in(view.anchors, now.timestamp())
            self._timer = self.set_timer(self.next_draw_in, self.draw)

    def _draw(self, view: WallView, now: datetime) -> None:
        head = self.query_one("#wall-head", Static)
        body = self.query_one("#wall-body", Static)
        board = self.query_one("#wall-board", Static)
        timeline = self.query_one("#wall-timeline", Static)
        clocktext = self.query_one("#wall-clocktext", Static)
        clocks = self.query_one("#wall-clocks")
        now_ts = now.timestamp()
        small = render.small_print(view, now.strftime("%H:%M UTC"))
        self._put(self.query_one("#wall-small", Static), small)
        big = self.has_class("-big")
        figs = figures_text(view.host, self.figures,
                            self.size.width * 2 // 5 if big else self.size.width - 2,
                            rows=big)
        self._put(self.query_one("#wall-figures", Static), figs)
        if not view.incidents:
            status = render.status_board_text(view, now_ts)
            status.append("\n\n")
            status.append_text(figs)
            self._put(head, status)
            clocks.display = False
            clocktext.display = False
            for w in (body, board, timeline, self.query_one("#wall-figures")):
                w.display = False
            return
        inc = view.incidents[0]
        clocks.display = self.has_class("-big")
        clocktext.display = not self.has_class("-big")
        for w in (body, board, timeline, self.query_one("#wall-figures")):
            w.display = True
        self._put(head, render.head_text(inc))
        if not self.has_class("-big"):  # hidden under the big digits
            self._put(clocktext, render.clocks_text(inc))
        self._put(self.query_one("#wall-since", Digits),
            clock_text(inc.started_seconds) if inc.started_seconds is not None else "")
        self._put(self.query_one("#wall-since-label", Static), render.since_label(inc))
        resp = self.query_one("#wall-response", Digits)
        self._put(resp, render.response_digits(inc))
        resp.set_class(inc.overdue, "-overdue")
        label = self.query_one("#wall-response-label", Static)
        self._put(label, render.response_label(inc))
        label.set_class(inc.overdue, "-overdue")
        self._update_clock(inc)
        t = Text()
        t.append_text(render.roles_text(inc))
        if inc.steps:
            t.append("\n")
            t.append_text(render.step_lines(inc.steps, now_ts))
        if view.other_steps:
            t.append("\n")
            t.append_text(render.step_lines(view.other_steps, now_ts, with_incident=True))
        if len(view.incidents) > 1:
            t.append("\n")
            t.append(f"ALSO OPEN ({len(view.incidents) - 1})", style="bold underline")
            t.append("\n")
            t.append_text(render.others_text(view.incidents[1:]))
        self._put(body, t)
        self._put(board, render.board_text(view))
        self._put(timeline, render.timeline_text(inc))

    def _update_clock(self, inc: Any) -> None:
        label = self.query_one("#wall-update-label", Static)
        digits = self.query_one("#wall-update", Digits)
        text = inc.update_text
        due = None if inc.update_due is None else inc.update_due - self.clock().timestamp()
        if not text or due is None:
            self._put(label, "NEXT UPDATE DUE –")
            self._put(digits, "")
            return
        overdue = due < 0
        unit = clock_unit(abs(due), countdown=True)
        self._put(label, f"UPDATE OVERDUE BY  {unit}" if overdue else
                  f"NEXT UPDATE DUE IN  {unit}")
        self._put(digits, ("-" if overdue else "") + clock_text(abs(due), countdown=True))
        label.set_class(overdue, "-overdue")
        digits.set_class(overdue, "-overdue")

    # ------------------------------------------------------------------ keys
    def action_wall_quit(self) -> None:
        async def done(yes: bool | None) -> None:
            if not yes:
                return
            if self.from_console:  # as the console's own q: running steps stopped, recorded
                from opsconsole.ui import quitting

                await quitting.stop_steps_and_exit(self.app, quitting.QUIT_REASON)  # type: ignore[arg-type]
            else:
                self.app.exit()

        self.app.push_screen(QuitWall("the console" if self.from_console else "the wall"),
                             done)

    def action_wall_back(self) -> None:
        if self.from_console:
            self.dismiss(None)
