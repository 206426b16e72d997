"""LineBlock: a block of text lines that repaints only the lines whose content changed
(over SSH every byte counts)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


class LineBlock(Widget):
    """A block of text lines that repaints only the lines whose content changed.

    ``set_lines`` takes Rich ``Text`` lines; unchanged lines are not sent to the terminal.
    """

    DEFAULT_CSS = """
    LineBlock { height: auto; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._lines: list[Text] = []
        self._keys: list[tuple[str, tuple]] = []
        self._strips: dict[int, tuple[int, Strip]] = {}
        self.repainted: tuple[int, ...] = ()  # lines the last set_lines asked to repaint
        self.full_repaints = 0  # set_lines calls that repainted everything (count changed)

    @property
    def lines(self) -> list[Text]:
        return list(self._lines)

    @property
    def plain(self) -> str:
        return "\n".join(t.plain for t in self._lines)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self._lines)

    def set_lines(self, lines: Sequence[Text]) -> None:
        keys = [(t.plain, tuple((s.start, s.end, str(s.style)) for s in t.spans) + (str(t.style),))
                for t in lines]
        if len(keys) != len(self._keys):
            self._lines = list(lines)
            self._keys = keys
            self._strips.clear()
            self.repainted = tuple(range(len(keys)))
            self.full_repaints += 1
            self.refresh(layout=True)
            return
        width = self.size.width
        repainted = []
        for y, key in enumerate(keys):
            if key != self._keys[y]:
                self._lines[y] = lines[y]
                self._keys[y] = key
                self._strips.pop(y, None)
                repainted.append(y)
                self.refresh(Region(0, y, max(width, 1), 1))
        self.repainted = tuple(repainted)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        cached = self._strips.get(y)
        if cached is not None and cached[0] == width:
            return cached[1]
        text = self._lines[y]
        base: Style = self.rich_style
        segments = list(text.render(self.app.console))
        segments = [Segment(s.text.replace("\n", " "), base + s.style if s.style else base)
                    for s in segments if not s.control]
        strip = Strip(segments).crop_extend(0, width, base)
        self._strips[y] = (width, strip)
        return strip

    def on_resize(self) -> None:
        self._strips.clear()
