"""``opsconsole wall``: the wall view as its own app, read-only by construction.

No command palette, no bindings but the wall screen's own ``q`` (asks) — not even Textual's
``ctrl+q``/``ctrl+c`` quit keys. The store is opened read-only by the follower's thread (a
store that does not exist yet is tried again at the next poll); nothing here writes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding

from opsconsole.config import AppConfig
from opsconsole.events import host_name
from opsconsole.ui import glyphs
from opsconsole.ui.compat import DiffDisplay
from opsconsole.ui.wall.screen import POLL_SECONDS, WallScreen


class WallApp(DiffDisplay, App[None], inherit_bindings=False):
    TITLE = "opsconsole wall"
    ENABLE_COMMAND_PALETTE = False
    COMMANDS: ClassVar[set[Any]] = set()
    BINDINGS: ClassVar[list[Binding]] = []  # type: ignore[assignment]

    def __init__(self, config: AppConfig | None = None, data_dir: Path | None = None, *,
                 store: Any = None, clock: Callable[[], datetime] | None = None,
                 hostname: str | None = None, ascii: bool = False,
                 poll_seconds: float = POLL_SECONDS,
                 next_step: Callable[[Any], str | None] | None = None,
                 host_sample: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self.host_sample = host_sample  # one host sample (tests: a fixed one)
        # only the cells that changed reach the terminal (or the browser), in ASCII when
        # the terminal wants it (see ui/compat.py, ui/screendiff.py)
        if not os.environ.get("OPSCONSOLE_FULL_REPAINT"):
            from opsconsole.ui.screendiff import ScreenDiff

            self.screen_diff = ScreenDiff()
        self.config = config or AppConfig()
        self.data_dir = data_dir
        self.store = store
        self.store_error: str | None = None
        self.clock = clock or (lambda: datetime.now(UTC))
        self.hostname = hostname or host_name()
        self.poll_seconds = poll_seconds
        self.next_step = next_step
        self._open_lock = threading.Lock()
        glyphs.configure(ascii or glyphs.wants_ascii(os.environ))
        from opsconsole.ui.themes import DEFAULT_THEME, load_themes, theme_dirs

        themes, _errors = load_themes(theme_dirs())
        for theme in themes.values():
            self.register_theme(theme)
        if DEFAULT_THEME in self.available_themes:
            self.theme = DEFAULT_THEME

    def store_of(self) -> Any:
        """(the follower's thread) The store, opened read-only on first use."""
        if self.store is not None or self.data_dir is None:
            return self.store
        with self._open_lock:
            if self.store is None:
                from opsconsole.incidents.store import NoStoreYet, open_store
                from opsconsole.sharedstore.choose import open_configured, shared_target

                try:
                    if shared_target(self.config) is not None:
                        self.store = open_configured(self.config, self.data_dir, read_only=True)
                    else:
                        self.store = open_store(self.data_dir, self.config.incidents.database,
                                                read_only=True)
                except NoStoreYet:
                    return None
        return self.store

    def on_mount(self) -> None:
        from opsconsole.ui.wall.figures import HostSampler

        sampler = HostSampler(self.host_sample) if self.host_sample else HostSampler()
        self.push_screen(WallScreen(self.store_of, self.clock, self.config.incidents,
                                    self.hostname, poll_seconds=self.poll_seconds,
                                    next_step=self.next_step, sampler=sampler))

    def on_resize(self, _event: Any) -> None:
        if self.screen_diff is not None:  # a new size: the whole screen is sent again
            self.screen_diff.invalidate()

    def on_unmount(self) -> None:
        store, self.store = self.store, None
        if store is not None and hasattr(store, "close"):
            threading.Thread(target=store.close, daemon=True).start()
