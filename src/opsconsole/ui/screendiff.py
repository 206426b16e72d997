"""Send the terminal only the cells that changed (what curses does; Textual does not).

Textual repaints whole widget regions: one changed cell in a DataTable re-sends every
visible row, a layout refresh re-sends the whole screen. Over a slow SSH link that is
about 20x the bytes of htop or glances. :class:`ScreenDiff` keeps a copy of
what the terminal shows (one ``(text, sgr)`` per cell) and turns each compositor update into
cursor moves + the runs of cells that really differ.

It is exact, not a heuristic: after every update the shadow equals the terminal, cell by
cell. It forgets everything (and the next update is sent in full) when the terminal may
have been changed behind its back: resize, suspend/resume, or a size it does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import get_character_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip

from opsconsole.ui.compat import (
    ChopsUpdate,
    CompositorUpdate,
    LayoutUpdate,
    ansi_codes,
    color_system,
)

Cell = tuple[str, str]  # (text, sgr key); text "" marks the right half of a wide character
UNKNOWN: Cell = ("\x00", "\x00")  # a cell whose content on the terminal is not known
MERGE_GAP = 6  # unchanged cells worth re-sending rather than moving the cursor (~8 bytes)


class ScreenDiff:
    """A shadow of the terminal screen; renders updates as minimal changes."""

    def __init__(self) -> None:
        self.size = Size(0, 0)
        self.rows: list[list[Cell] | None] = []
        self._keys: dict[Style, str] = {}
        self.sent_cells = 0  # cells written (for tests and curiosity)
        self.skipped_cells = 0  # cells in updates that were already on the terminal

    # ------------------------------------------------------------------ state
    def invalidate(self) -> None:
        """Forget the terminal's content: the next update is sent in full."""
        self.size = Size(0, 0)
        self.rows = []

    def _reset(self, size: Size) -> None:
        self.size = size
        self.rows = [None] * size.height

    # ------------------------------------------------------------------ cells
    def _key(self, style: Style | None, color_system: Any) -> str:
        if style is None or color_system is None:
            return ""
        key = self._keys.get(style)
        if key is None:
            codes = ansi_codes(style, color_system)
            link = style.link
            key = codes if not link else f"{codes}\x00{link}"
            if len(self._keys) > 4096:
                self._keys.clear()
            self._keys[style] = key
        return key

    def cells(self, segments: Iterable[Segment], color_system: Any) -> list[Cell] | None:
        """Segments as cells; None if they hold something a cell model cannot replay."""
        out: list[Cell] = []
        append = out.append
        for text, style, control in segments:
            if control:
                return None
            key = self._key(style, color_system)
            if text.isascii() and text.isprintable():
                out.extend([(ch, key) for ch in text])
                continue
            for ch in text:
                w = get_character_cell_size(ch)
                if w == 1:
                    append((ch, key))
                elif w == 2:
                    append((ch, key))
                    append(("", key))
                elif w == 0:
                    if ch in "\n\r\t\x1b":
                        return None
                    if not out:
                        return None  # joins a cell outside this piece
                    prev = out[-1]
                    if prev[0] == "" and len(out) > 1:
                        out[-2] = (out[-2][0] + ch, out[-2][1])
                    else:
                        out[-1] = (prev[0] + ch, prev[1])
                else:
                    return None
        return out

    # ------------------------------------------------------------------ render
    def render(self, update: CompositorUpdate, console: Console, screen: Size) -> str:
        """Terminal sequences for ``update``; updates the shadow to match."""
        system = color_system(console)
        if isinstance(update, LayoutUpdate):
            region = update.region
            if screen != self.size:
                self._reset(screen)
                if region.size != screen or region.offset != (0, 0):
                    self.invalidate()
                    return update.render_segments(console)
            lines = [list(line) for line in update.strips]
            if any(s is None for line in lines for s in line):
                self.invalidate()
                return update.render_segments(console)
            pieces = [(y, region.x, Strip.join(line)) for y, line in enumerate(lines, region.y)]
        elif isinstance(update, ChopsUpdate):
            if screen != self.size:
                # nothing known about the screen: every cell of this update is sent (as
                # Textual would), and remembered
                self._reset(screen)
            pieces = []
            for y, x1, x2 in update.spans:
                ends = update.chop_ends[y]
                for end, (x, strip) in zip(ends, update.chops[y].items(), strict=False):
                    # the same cells Textual would write: from the chop's start to x2
                    if strip is None or x > x2 or end <= x1:
                        continue
                    pieces.append((y, x, strip.crop(0, min(end, x2) - x)))
        else:
            self.invalidate()
            return update.render_segments(console)
        out: list[str] = []
        state = [""]  # the SGR key the terminal has now ("" = reset)
        for y, x, strip in pieces:
            new = self.cells(strip, system)
            if new is None or not 0 <= y < self.size.height or x < 0 \
                    or x + len(new) > self.size.width:
                # cannot model it: send as Textual would, forget that line
                if 0 <= y < len(self.rows):
                    self.rows[y] = None
                if state[0]:
                    out.append("\x1b[0m")
                    state[0] = ""
                out.append(f"\x1b[{y + 1};{x + 1}H")
                out.append(strip.render(console))
                continue
            if not self._diff_line(y, x, new, out, state):
                self.rows[y] = None
                if state[0]:
                    out.append("\x1b[0m")
                    state[0] = ""
                out.append(f"\x1b[{y + 1};{x + 1}H")
                out.append(strip.render(console))
        if state[0]:
            out.append("\x1b[0m")
        return "".join(out)

    def _diff_line(self, y: int, x: int, new: list[Cell], out: list[str], state: list[str]) -> bool:
        """Append the changes of one line piece to ``out``; False if it cannot (nothing
        appended, the caller sends the piece whole)."""
        row = self.rows[y]
        n = len(new)
        if row is None:
            row = [UNKNOWN] * self.size.width  # differs from everything
            self.rows[y] = row
        old = row[x:x + n]
        if old == new:
            self.skipped_cells += n
            return True
        # changed runs [a, b) relative to x, merged across short unchanged gaps
        runs: list[list[int]] = []
        i = 0
        while i < n:
            if old[i] == new[i]:
                i += 1
                continue
            j = i + 1
            while j < n and old[j] != new[j]:
                j += 1
            if runs and i - runs[-1][1] <= MERGE_GAP:
                runs[-1][1] = j
            else:
                runs.append([i, j])
            i = j
        width = self.size.width

        def after(c: int) -> Cell:
            if x <= c < x + n:
                return new[c - x]
            cell = row[c]
            # half of an old wide character overwritten by the update: the terminal blanks
            # the other half, and so do we
            if c == x - 1 and cell[0] != "" and c + 1 < width and row[c + 1][0] == "":
                return (" ", cell[1])
            if c == x + n and cell[0] == "":
                return (" ", cell[1])
            return cell

        writes = []
        for a, b in runs:
            # never split a wide character, old or new
            a0, b0 = x + a, x + b
            while a0 > 0 and (row[a0][0] == "" or after(a0)[0] == ""):
                a0 -= 1
            while b0 < width and (row[b0][0] == "" or after(b0)[0] == ""):
                b0 += 1
            cells = [after(c) for c in range(a0, b0)]
            if UNKNOWN in cells:
                return False  # would have to write a cell nobody knows
            writes.append((a0, b0, cells))
        for a0, b0, cells in writes:
            self._emit(y, a0, cells, out, state)
            row[a0:b0] = cells
            self.sent_cells += b0 - a0
        self.skipped_cells += n - sum(b - a for a, b in runs)
        return True

    @staticmethod
    def _emit(y: int, x: int, cells: Sequence[Cell], out: list[str], state: list[str]) -> None:
        """Move to (x, y) and write ``cells``, changing SGR only between differing styles."""
        out.append(f"\x1b[{y + 1};{x + 1}H")
        text: list[str] = []
        key = state[0]
        for ch, k in cells:
            if k != key:
                if text:
                    out.append("".join(text))
                    text = []
                if "\x00" in key:
                    out.append(CLOSE_LINK)
                codes, _, link = k.partition("\x00")
                out.append(f"\x1b[0;{codes}m" if codes else "\x1b[0m")
                if link:
                    out.append(f"\x1b]8;;{link}\x1b\\")
                key = k
            text.append(ch)
        if text:
            out.append("".join(text))
        if "\x00" in key:
            out.append(CLOSE_LINK + "\x1b[0m")
            key = ""
        state[0] = key


CLOSE_LINK = "\x1b]8;;\x1b\\"


class DiffUpdate(CompositorUpdate):
    """A compositor update that renders through a :class:`ScreenDiff`."""

    def __init__(self, update: CompositorUpdate, diff: ScreenDiff, screen: Size) -> None:
        self.update = update
        self.diff = diff
        self.screen = screen

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.update.__rich_console__(console, options)  # type: ignore[attr-defined]

    def render_segments(self, console: Console) -> str:
        return self.diff.render(self.update, console, self.screen)
