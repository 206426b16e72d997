"""KeyBar: the footer line. The keys that matter here first — the focused pane's or the
screen's own, then the ones ranked first (``ActionSpec.rank``: i n r t), then the rest —
as many as fit the width, ending with ``? more`` when some were left out (``?`` lists
them all). Keys hidden by ``check_action`` (read-only) are not shown; disabled ones are
dim. One line; repainted only when its text changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import App
from textual.screen import Screen
from textual.widget import Widget

from opsconsole.ui.actions import footer_rank
from opsconsole.ui.glyphs import g

HELP_ACTIONS = ("app.help", "help")
GAP = "  "


@dataclass(frozen=True)
class Key:
    key: str  # as displayed: "?", "enter", "^p"
    description: str
    enabled: bool = True


def order_keys(entries: list[tuple[int, int, Key]]) -> list[Key]:
    """[(group, rank, key)] in footer order: group, then rank, then declaration order."""
    indexed = sorted(enumerate(entries), key=lambda e: (e[1][0], e[1][1], e[0]))
    return [k for _, (_, _, k) in indexed]


def fit_keys(keys: list[Key], width: int, help_key: str | None = "?") -> Text:
    """The footer line for ``keys`` (in priority order) in ``width`` cells: all of them
    and ``? help`` when they fit, else the first ones that fit (a prefix, in order)
    and ``? more``."""
    def item(k: Key) -> Text:
        t = Text()
        t.append(k.key, style="bold reverse" if k.enabled else "dim")
        t.append(" " + k.description, style="" if k.enabled else "dim")
        return t

    def join(items: list[Text]) -> Text:
        line = Text(" ")
        for i, it in enumerate(items):
            if i:
                line.append(GAP)
            line.append_text(it)
        return line

    items = [item(k) for k in keys]
    tail = [item(Key(help_key, "help"))] if help_key else []
    line = join(items + tail)
    if line.cell_len <= width:
        return line
    more = item(Key(help_key or "?", "more"))
    room = width - 1 - more.cell_len  # the leading space, then `? more`
    chosen: list[Text] = []
    used = 0
    for it in items:
        need = it.cell_len + len(GAP)
        if used + need > room:
            break  # a prefix, in priority order: the same keys in the same places
        chosen.append(it)
        used += need
    line = join([*chosen, more])
    if line.cell_len > width:
        line.truncate(width)
    return line


def screen_keys(app: App[Any], screen: Screen[Any]) -> tuple[list[Key], str | None]:
    """The keys to show on ``screen`` now (footer order) and the help key's display."""
    main_screen: Screen[Any] | None
    try:
        main_screen = app.main  # type: ignore[attr-defined]
    except (LookupError, AttributeError):
        main_screen = None
    from opsconsole.ui.panes.base import Pane

    entries: list[tuple[int, int, Key]] = []
    seen: set[str] = set()
    help_key: str | None = None
    for node, binding, enabled, _tooltip in screen.active_bindings.values():
        if binding.action in HELP_ACTIONS:
            help_key = g(app.get_key_display(binding))
            continue
        if not binding.show or binding.action in seen:
            continue
        seen.add(binding.action)
        if isinstance(node, Pane) or (node is screen and screen is not main_screen):
            group = 0  # the focused pane's or this screen's own keys
        elif node is app or node is screen:
            group = 1
        else:
            group = 2  # the focused widget's (a table's) keys
        rank = footer_rank(binding)
        if group == 0 and binding.key == "escape":
            rank = -1  # the way back, first of the screen's own keys
        entries.append((group, rank, Key(g(app.get_key_display(binding)), binding.description,
                                         bool(enabled))))
    return order_keys(entries), help_key


class KeyBar(Widget):
    """The footer: ``enter details  c cancel  K terminate  i incident  n note … ? more``."""

    DEFAULT_CSS = """
    KeyBar { height: 1; dock: bottom; background: $footer-background; color: $footer-foreground; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text("")

    @property
    def plain(self) -> str:
        return self._text.plain

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.redraw)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Screen[Any]) -> None:
        if self.is_attached:
            self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        keys, help_key = screen_keys(self.app, self.screen)
        text = fit_keys(keys, self.size.width or self.app.size.width or 80, help_key)
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh(layout=False)

    def render(self) -> Text:
        return self._text


__all__ = ["Key", "KeyBar", "fit_keys", "order_keys", "screen_keys"]
