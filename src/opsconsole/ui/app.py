"""The console: header, five panes, footer; global keys; themes; read-only gating."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.actions import SkipAction
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Input

from opsconsole.config import AppConfig, default_data_dir
from opsconsole.events import EventSink, host_name
from opsconsole.incidents.sink import IncidentSink, JournalSink, ReadOnlySink
from opsconsole.incidents.store import Store
from opsconsole.text import for_terminal, one_line
from opsconsole.ui import glyphs
from opsconsole.ui.actions import (
    GLOBAL_ACTIONS,
    QUIT_SPEC,
    bindings,
    dangerous_actions,
    hotkey_specs,
)
from opsconsole.ui.app_screens import ScreenActions
from opsconsole.ui.compat import DiffDisplay, add_app_binding
from opsconsole.ui.console import Declared, RecordingChanged, StoreWriteFailed, StoreWritten
from opsconsole.ui.header import ConsoleHeader, header_text, recording_text
from opsconsole.ui.keyhold import KeyHold
from opsconsole.ui.mainscreen import MainScreen
from opsconsole.ui.panes.base import Pane, PolledPane
from opsconsole.ui.panes.health import HealthPane
from opsconsole.ui.panes.incidents import IncidentsPane
from opsconsole.ui.panes.locks import LocksPane
from opsconsole.ui.panes.resources import ResourcesPane
from opsconsole.ui.panes.slow_queries import SlowQueriesPane
from opsconsole.ui.screendiff import ScreenDiff
from opsconsole.ui.storeopen import open_console_store
from opsconsole.ui.tabs import draw_tabs
from opsconsole.ui.themes import DEFAULT_THEME, load_themes, theme_dirs

if TYPE_CHECKING:
    from opsconsole.ui.screens.help import HelpRow

# Not imported here: what no first frame needs (the incident, runbook, PostgreSQL-action and
# quit screens; the incident flows; the help screen). They load when first used, so the
# first frame comes sooner and the memory of a console that is only watched stays small
# (tests/unit/test_lazy_imports.py keeps it so).

INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
PANE_ORDER = ("health", "resources", "slow", "locks", "incidents")
NARROW_WIDTH = 120
NARROW_HEIGHT = 36


@dataclass
class RunOptions:
    """What the command line decided (config merged in)."""

    read_only: bool = False
    theme: str | None = None
    refresh: float | None = None
    data_dir: Path | None = None
    dsn: str | None = None
    ascii: bool = False  # --ascii (TERM=linux and non-UTF-8 locales choose it too)


@dataclass
class Services:
    """The outside world, injectable so tests and snapshots can feed fixed data."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    host_collector: Any = None  # anything with .collect() -> HostSnapshot
    sink: EventSink | None = None
    incident_store: Store | None = None  # None: open incidents.db in the data dir at mount
    hostname: str = field(default_factory=host_name)  # $OPSCONSOLE_HOST overrides
    pg_source: Any = None  # PostgreSQL panes: anything like postgres.source.PgSource (fixed data)
    check_runner: Any = None  # async (spec, config) -> CheckResult; default: real checks
    check_tracker: Any = None  # a pre-filled CheckTracker (snapshots)
    alert_interval: float = 2.0  # seconds between alert evaluations (ui/alerts_console.py)
    alert_lease_ttl: float = 15.0  # how long this console's evaluator lease lasts unrenewed


HELP_SPEC = next(s for s in GLOBAL_ACTIONS if s.id == "help")


class OpsConsoleApp(KeyHold, DiffDisplay, App[None], ScreenActions):
    CSS_PATH = "opsconsole.tcss"
    TITLE = "opsconsole"
    # `?` on every screen (incident, runbook walkthrough, PostgreSQL modals…): the one help
    # ActionSpec, bound once on the app with priority so modal screens get it too; it steps
    # aside for text inputs (see action_help). Remapped by id like any other key.
    # `q` too, on every screen that does not take it (a runbook walkthrough with a step running)
    BINDINGS = [*App.BINDINGS, *bindings([replace(HELP_SPEC, priority=True),
                                          replace(QUIT_SPEC, show=False)])]

    paused: var[bool] = var(False)  # no polling while paused (p)
    refresh_interval: var[float] = var(2.0)  # seconds between polls (+ / -)

    def __init__(self, config: AppConfig | None = None, options: RunOptions | None = None,
                 services: Services | None = None) -> None:
        self.config = config or AppConfig()
        self.options = options or RunOptions()
        self.services = services or Services()
        self.read_only = self.options.read_only or self.config.read_only
        glyphs.configure(self.options.ascii or glyphs.wants_ascii(os.environ))
        self.current_pane = "health"
        self.zoomed = False
        self.narrow = False
        self.data_dir = self.options.data_dir or default_data_dir()
        # Everything seen and done is recorded here: the incident store (events without an
        # incident go to the active incident, or are kept unattached); the operator journal
        # in the data directory takes them while the store is opening or unusable.
        self.incident_store: Store | None = self.services.incident_store
        self.store_error: str | None = None
        self.active_incident: str | None = None
        # Read-only records nothing: no store write, no journal file.
        self.sink: EventSink
        if self.services.sink is not None:
            self.sink = self.services.sink
        elif self.read_only:
            self.sink = ReadOnlySink()
        else:
            # Events neither the store nor the journal can take (a full disk) wait in the
            # sink's memory, retried by its worker thread; the header says how many.
            self.sink = IncidentSink(
                self.incident_store, fallback=JournalSink(self.data_dir / "journal.jsonl"),
                attach_window=float(self.config.incidents.attach_window),
                on_change=lambda: self.post_message(RecordingChanged()))
        self._recording_pending = 0
        self._theme_errors: list[str] = []
        self._hung_up = False
        # Send the terminal only the cells that changed (see ui/screendiff.py);
        # OPSCONSOLE_FULL_REPAINT=1 turns it off (Textual's own full-region repaints).
        self.screen_diff: ScreenDiff | None = (
            None if os.environ.get("OPSCONSOLE_FULL_REPAINT") else ScreenDiff())
        super().__init__()
        self.refresh_interval = float(self.options.refresh or self.config.refresh)
        # runbook hotkeys from the config: ActionSpecs → bindings (footer, help, keymap ids)
        self.hotkey_specs = hotkey_specs(list(self.config.hotkeys))
        for binding in Binding.make_bindings(bindings(self.hotkey_specs)):
            add_app_binding(self, binding)
        self._load_themes()
        from opsconsole.ui.alerts_console import ConsoleAlerts

        # evaluates the alert rules (holding the store's lease) or follows who does
        self.alerts = ConsoleAlerts(self, self.services.alert_interval,
                                    self.services.alert_lease_ttl)
        if self.config.keys:
            self.set_keymap(dict(self.config.keys))

    # ------------------------------------------------------------------ setup
    def _load_themes(self) -> None:
        themes, errors = load_themes(theme_dirs())
        for theme in themes.values():
            self.register_theme(theme)
        self._theme_errors = [str(e) for e in errors]
        wanted = self.options.theme or self.config.theme or DEFAULT_THEME
        fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        if wanted not in self.available_themes:
            self._theme_errors.append(f"theme {wanted!r} not found; using {fallback}")
            wanted = fallback
        try:
            self.theme = wanted
        except Exception as exc:  # validated on load; a theme Textual still refuses is skipped
            self._theme_errors.append(f"theme {wanted!r} cannot be used ({exc}); using {fallback}")
            self.theme = fallback

    def make_panes(self) -> list[Pane]:
        cfg = self.config
        return [
            HealthPane(cfg.checks, cfg, runner=self.services.check_runner,
                       tracker=self.services.check_tracker, clock=self.services.clock),
            ResourcesPane(
                collector=self.services.host_collector,
                thresholds=cfg.thresholds,
                top=cfg.resources.top,
                sort=cfg.resources.sort,
                history_seconds=cfg.resources.history,
                process_interval=cfg.resources.process_interval,
                filesystem_interval=cfg.resources.filesystem_interval,
            ),
            IncidentsPane(),
            SlowQueriesPane.from_app(self),
            LocksPane.from_app(self),
        ]  # compose order = grid placement: health | resources(2 rows) / incidents / slow | locks

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(self.make_panes())

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast (widgets and screens notify through the app) shows its text as
        plain text: messages carry exception texts, query and step output, runbook
        fields — a ``[`` there is not markup, a control character is shown, not sent."""
        super().notify(for_terminal(message, keep_newlines=True), title=one_line(title),
                       severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        if self.incident_store is None:
            self.run_worker(lambda: open_console_store(self), thread=True,
                            exit_on_error=False)
        elif hasattr(self.incident_store, "subscribe"):  # a shared store given ready-made
            from opsconsole.ui import sharedlive

            sharedlive.attach(self, self.incident_store)
        # after a suspend the terminal holds someone else's output: repaint it all
        self.app_suspend_signal.subscribe(self, self._forget_terminal, immediate=True)
        self.app_resume_signal.subscribe(self, self._forget_terminal, immediate=True)
        if self._theme_errors:
            self.notify("\n".join(self._theme_errors), title="theme", severity="error", timeout=15)
        # the terminal went away (SSH dropped): stop running steps, record it, then exit
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hangup)
        self.call_after_refresh(self._after_first_frame)

    def _hangup(self) -> None:
        if not self._hung_up:
            self._hung_up = True
            asyncio.get_running_loop().create_task(self._stop_steps_and_exit())

    async def _stop_steps_and_exit(self) -> None:
        from opsconsole.ui import quitting

        await quitting.stop_steps_and_exit(self, quitting.HANGUP_REASON, 129, hard_exit=True)

    async def action_quit(self) -> None:
        from opsconsole.ui import quitting

        await quitting.ask_to_quit(self)  # asks first while an incident is active or a step runs

    def _after_first_frame(self) -> None:
        self.set_current_pane(self.current_pane, focus=True)
        self.update_header()
        self._tick_clock()
        self.alerts.start()

    def alert_rows(self) -> list[dict[str, Any]]:
        """The alerts shown now (the runbook picker suggests runbooks for them)."""
        return list(self.alerts.view.rows)

    def alerts_changed(self) -> None:
        """A new alerts view: the strip, the tab line and the header show it."""
        try:
            self.pane("health").show_alerts(self.alerts.view)  # type: ignore[attr-defined]
        except (LookupError, AttributeError):
            return
        self._draw_tabs()
        self.update_header()

    def on_unmount(self) -> None:
        self.alerts.stop()  # the next evaluator need not wait for the lease to run out

    # ------------------------------------------------------------------ helpers
    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("main screen not mounted")

    def pane(self, pane_id: str) -> Pane:
        return self.main.panes[pane_id]

    def set_current_pane(self, pane_id: str, focus: bool = True) -> None:
        if pane_id not in PANE_ORDER:
            return
        changed = pane_id != self.current_pane
        self.current_pane = pane_id
        for pid, pane in self.main.panes.items():
            pane.set_class(pid == pane_id, "-current")
        if focus:
            self.pane(pane_id).focus_primary()
        for pane in self.main.panes.values():
            pane.update_header()
        if changed or focus:
            self._draw_tabs()

    def _draw_tabs(self) -> None:
        draw_tabs(self)  # the tab line with every pane's worst state (ui/tabs.py)

    def header_text(self, width: int | None = None) -> Text:
        """The header line (see ui/header.py)."""
        return header_text(self, width or self.size.width or 160)

    def update_header(self) -> None:
        try:
            header = self.main.query_one(ConsoleHeader)
        except (LookupError, NoMatches):
            return  # not composed yet
        header.show(self.header_text(), recording_text(self, self.size.width or 160))

    def _tick_clock(self) -> None:
        self.update_header()
        now = self.services.clock()
        if self.config.clock_seconds:
            delay = 1.0 - (now.microsecond / 1e6)
        else:
            delay = 60.0 - now.second - now.microsecond / 1e6
        self.set_timer(max(delay, 0.2), self._tick_clock)

    def on_resize(self, event: Any) -> None:
        self._forget_terminal()
        self._apply_layout(event.size.width, event.size.height)

    # ------------------------------------------------------------------ output
    def _forget_terminal(self, _app: object = None) -> None:
        if self.screen_diff is not None:
            self.screen_diff.invalidate()

    def _apply_layout(self, width: int, height: int) -> None:
        narrow = width < NARROW_WIDTH or height < NARROW_HEIGHT
        self.narrow = narrow
        try:
            main = self.main
        except LookupError:
            return
        main.set_class(narrow, "-narrow")
        main.set_class(self.zoomed, "-zoomed")
        self._draw_tabs()
        self.update_header()  # its text depends on the width

    def on_screen_resume(self) -> None:
        self._apply_layout(self.size.width, self.size.height)

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if getattr(self.screen, "WALL", False):  # the wall (and its quit question): no key
            return False  # of the console acts there (ui/wall/screen.py has its own q/escape)
        if self.read_only and action in dangerous_actions(GLOBAL_ACTIONS):
            return False
        if self.read_only and action == "runbook_hotkey" and parameters:
            n = parameters[0]
            if isinstance(n, int) and 0 <= n < len(self.hotkey_specs) and self.hotkey_specs[n].dangerous:
                return False
        return True

    def action_focus_pane(self, pane_id: str) -> None:
        self.set_current_pane(pane_id, focus=True)

    def action_cycle_pane(self, step: int) -> None:
        i = PANE_ORDER.index(self.current_pane)
        self.set_current_pane(PANE_ORDER[(i + step) % len(PANE_ORDER)], focus=True)

    def action_zoom(self) -> None:
        self.zoomed = not self.zoomed
        self._apply_layout(self.size.width, self.size.height)
        self.pane(self.current_pane).focus_primary()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            for pane in self.main.panes.values():
                if isinstance(pane, PolledPane):
                    pane.resume()
        else:
            for pane in self.main.panes.values():
                if isinstance(pane, PolledPane):
                    pane.state = "paused"
                    pane.update_header()
        self.update_header()

    def action_interval(self, step: int) -> None:
        cur = self.refresh_interval
        idx = min(range(len(INTERVALS)), key=lambda i: abs(INTERVALS[i] - cur))
        idx = max(0, min(len(INTERVALS) - 1, idx + step))
        self.refresh_interval = INTERVALS[idx]
        self.update_header()
        for pane in self.main.panes.values():
            if isinstance(pane, PolledPane) and not self.paused and not pane.polling:
                pane.schedule(pane.interval)

    def action_filter(self) -> None:
        self.pane(self.current_pane).open_filter()

    def action_back(self) -> None:
        pane = self.pane(self.current_pane)
        if pane.filter_open:
            pane.close_filter(keep=False)
        elif self.zoomed:
            self.action_zoom()

    def help_rows(self, screen: Screen[Any] | None = None) -> list[HelpRow]:
        """Every binding active now on the screen the operator is on (see ui/help_rows.py)."""
        from opsconsole.ui.help_rows import help_rows

        return help_rows(self, screen)

    def action_help(self) -> None:
        """``?``: the keys of the screen the operator is on; again (or escape) closes it."""
        from opsconsole.ui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        # TextArea (the modals' multi-line fields) is not imported before a modal uses it
        # (it brings its document, history and syntax modules): unloaded, nothing is one
        text_area = getattr(sys.modules.get("textual.widgets._text_area"), "TextArea", None)
        if isinstance(self.focused, Input) or (
                text_area is not None and isinstance(self.focused, text_area)):
            raise SkipAction()  # the operator is typing: `?` is a character
        self.push_screen(HelpScreen(self.help_rows(), self.read_only))

    def action_declare_incident(self) -> None:
        from opsconsole.ui import flows

        flows.declare(self)

    def action_note(self) -> None:
        from opsconsole.ui import flows

        flows.note(self)

    # ------------------------------------------------------------------ store workers
    def on_store_written(self, message: StoreWritten) -> None:
        from opsconsole.ui import flows

        flows.store_written(self, message)

    def on_declared(self, message: Declared) -> None:
        from opsconsole.ui import flows

        flows.declared(self, message)

    def on_store_write_failed(self, message: StoreWriteFailed) -> None:
        from opsconsole.ui import flows

        flows.write_failed(self, message)

    def on_recording_changed(self, message: RecordingChanged) -> None:
        pending = int(getattr(self.sink, "pending", 0))
        if self._recording_pending and not pending:
            self.notify(f"recording works again: the {self._recording_pending} event(s) kept "
                        "in memory were written, in order", title="recording")
        self._recording_pending = pending
        self.update_header()

    def on_shared_store_changed(self, _message: Any) -> None:
        from opsconsole.ui import sharedlive

        sharedlive.changed(self)

    # ------------------------------------------------------------------ palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        for spec in GLOBAL_ACTIONS:
            if not spec.palette or (self.read_only and spec.dangerous):
                continue
            yield SystemCommand(spec.description.capitalize(), spec.help,
                                lambda a=spec.action: screen.run_action(a))
        pane = self.pane(self.current_pane)
        for spec in pane.ACTIONS:
            if self.read_only and spec.dangerous:
                continue
            yield SystemCommand(f"{pane.title}: {spec.description}", spec.help,
                                lambda a=spec.action, p=pane: p.run_action(a))
        for name in sorted(self.available_themes):
            if name.startswith("opsconsole-"):
                yield SystemCommand(f"Theme: {name}", f"Switch to the {name} theme",
                                    lambda n=name: setattr(self, "theme", n))
