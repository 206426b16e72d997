"""The incident timeline: one entry per event, read a page at a time; a long entry wraps
(its continuation lines indented under the sentence) instead of being cut."""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC
from itertools import accumulate
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opsconsole import events as ev
from opsconsole.events import Event
from opsconsole.fmt import one_line
from opsconsole.incidents.describe import describe, inner_type, shown

INDENT = 22  # "HH:MM:SS user______ • ": where the sentence starts


def _head(e: Event) -> Text:
    t = Text()
    t.append(e.ts.astimezone(UTC).strftime("%H:%M:%S"), style="dim")
    t.append(f" {one_line(e.actor.user, 10):<10} ")
    kind = inner_type(e).split(".", 1)[0]
    marks = {"incident": "•", "health": "♥", "db": "⚡", "runbook": "▸", "host": "◷"}
    t.append(marks.get(kind, "·") + " ")
    return t


def _sentence(e: Event) -> Text:
    style = "bold" if e.type in (ev.DECLARED, ev.STATUS_CHANGED, ev.SEVERITY_CHANGED) else ""
    return Text(describe(e), style=style)


def timeline_text(e: Event) -> Text:
    e = shown(e)  # an event attached at declaration: at its original time and actor
    return _head(e) + _sentence(e)


def timeline_lines(e: Event, width: int, console: Any) -> list[Text]:
    """The entry wrapped to ``width`` cells: the sentence word-wrapped, every line after the
    first indented under it."""
    e = shown(e)
    room = max(width - INDENT, 10)
    parts = _sentence(e).wrap(console, room, overflow="fold")
    lines = [_head(e) + parts[0] if parts else _head(e)]
    lines += [Text(" " * INDENT) + p for p in list(parts)[1:]]
    return lines


def timeline_width(events: list[Event], sample: int = 1000) -> int:
    """The widest timeline line among the last ``sample`` events (columns)."""
    return max((22 + len(describe(e)) for e in events[-sample:]), default=0)


PAGE = 200


class TimelineView(ScrollView, can_focus=True):
    """The timeline: one line per event. It knows every event's sequence number but holds
    only the pages read so far; a line scrolled into view whose page is not read yet shows
    ``…`` and asks ``loader`` (a worker) for it. Only visible lines are formatted. Follows
    the tail while the operator is at the bottom."""

    DEFAULT_CSS = "TimelineView { height: 1fr; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seqs: list[int] = []
        self.loaded: dict[int, Event] = {}
        self.loader: Callable[[int, int], None] | None = None  # (after_seq, count)
        self._cache: dict[int, Text] = {}
        self._wrapped: dict[int, list[Text]] = {}  # event index → its lines at _wrap_width
        self._wrap_width = 0
        self._starts: list[int] = []  # event index → its first line
        self._asked: set[int] = set()
        self._width = 0
        self.painted_at: float | None = None  # perf_counter of the first line with an event
        self._jumping = False

    @property
    def events(self) -> list[Event]:
        """The events read so far, in order."""
        return [self.loaded[s] for s in self.seqs if s in self.loaded]

    def _count(self, index: int) -> int:
        return len(self.wrapped(index) or (None,))

    def wrapped(self, index: int) -> list[Text] | None:
        """The event's lines at the view's width (None: its page is not read yet)."""
        lines = self._wrapped.get(index)
        if lines is None:
            e = self.loaded.get(self.seqs[index])
            if e is None:
                return None
            lines = timeline_lines(e, self._wrap_width, self.app.console)
            self._wrapped[index] = lines
        return lines

    def _layout(self) -> None:
        """Where each event's lines start (an unread event: one line), keeping the line at
        the top of the view on the same event."""
        width = self.scrollable_content_region.width or 80
        anchor = self._at(int(self.scroll_y)) if self._starts else None
        if width != self._wrap_width:
            self._wrap_width = width
            self._wrapped.clear()
        counts = [self._count(i) for i in range(len(self.seqs))]
        self._starts = [0, *accumulate(counts)][:-1] if counts else []
        total = sum(counts)
        self.virtual_size = Size(width, total)
        if anchor is not None and anchor[0] < len(self._starts) and not self._jumping:
            y = self._starts[anchor[0]] + anchor[1]
            if y != int(self.scroll_y):
                self.scroll_to(y=y, animate=False, immediate=True)

    def _at(self, line: int) -> tuple[int, int]:
        """(event index, line within it) of a timeline line."""
        i = max(bisect_right(self._starts, line) - 1, 0)
        return i, line - self._starts[i]

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._wrap_width:
            self._layout()
            self.refresh()

    def _resize(self, follow: bool) -> None:
        self._layout()
        self.refresh()
        if follow:
            self.call_after_refresh(self._follow)

    def _follow(self) -> None:
        self.scroll_end(animate=False, immediate=True)
        if self._jumping:
            self.call_after_refresh(self._jumped)

    def reset(self, seqs: list[int], page: list[Event], width: int) -> None:
        """The whole timeline's sequence numbers and its newest page."""
        self.seqs = list(seqs)
        self.loaded = {e.seq: e for e in page if e.seq is not None}
        self._cache.clear()
        self._wrapped.clear()
        self._starts = []
        self._asked.clear()
        self._width = max(self._width, width)
        self._layout()
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)  # the newest
        self._jumping = True  # lines drawn at the top until the jump lands are not read
        self._resize(follow=True)

    def _jumped(self) -> None:
        self._jumping = False
        self.refresh()

    def add(self, events: list[Event], width: int | None = None) -> None:
        """Append new events (``width``: their widest line if measured off the UI loop)."""
        known = set(self.seqs[-len(events):]) if events else set()
        fresh = [e for e in events if e.seq not in known]
        if not fresh:
            return
        follow = self.scroll_y >= self.max_scroll_y - 1 or not self.seqs
        for e in fresh:
            if e.seq is not None:
                self.seqs.append(e.seq)
                self.loaded[e.seq] = e
        self._width = max(self._width, width if width is not None else timeline_width(fresh))
        self._resize(follow)

    def fill(self, events: list[Event], width: int) -> None:
        """An older page arrived."""
        for e in events:
            if e.seq is not None:
                self.loaded[e.seq] = e
        self._width = max(self._width, width)
        self._layout()
        self.refresh()

    def line_text(self, index: int) -> Text | None:
        t = self._cache.get(index)
        if t is None:
            e = self.loaded.get(self.seqs[index])
            if e is None:
                return None
            t = timeline_text(e)
            self._cache[index] = t
        return t

    @property
    def plain(self) -> str:
        return "\n".join(t.plain for i in range(len(self.seqs))
                         if (t := self.line_text(i)) is not None)

    def action_scroll_home(self) -> None:
        self.scroll_home(animate=False)  # 10,000 lines: jump, do not glide

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False)

    def _ask(self, index: int) -> None:
        page = index // PAGE
        if page in self._asked or self.loader is None or self._jumping:
            return
        top = int(self.scroll_y)
        start = self._starts[index] if index < len(self._starts) else index
        if not top <= start < top + max(self.size.height, 1):
            return  # scrolled past already (e.g. the jump to the newest events)
        self._asked.add(page)
        first = page * PAGE
        after = self.seqs[first - 1] if first > 0 else 0
        self.loader(after, PAGE)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        line = y + scroll_y
        if not self._starts or line >= self.virtual_size.height:
            return Strip.blank(width, base)
        index, sub = self._at(line)
        lines = self.wrapped(index)
        text = lines[sub] if lines is not None and sub < len(lines) else None
        if lines is None:
            self.call_later(self._ask, index)
            text = Text(f"… #{self.seqs[index]}", style="dim")
        elif self.painted_at is None:
            self.painted_at = time.perf_counter()
        segments = [Segment(s.text, base + s.style if s.style else base)
                    for s in text.render(self.app.console) if not s.control and s.text != "\n"]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
