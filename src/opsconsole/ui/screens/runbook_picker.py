"""The runbook picker (``r``): fuzzy search over title, tags and symptoms; broken runbooks
are listed with their located error while the others load. Also the glue the app uses:
config ``hotkeys:`` → ActionSpecs, and opening a runbook (parameters first, then the
walkthrough)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from opsconsole.runbooks.library import load_all, runbook_dirs
from opsconsole.runbooks.model import Loaded, Runbook
from opsconsole.runbooks.search import ranked
from opsconsole.text import for_terminal, one_line
from opsconsole.ui.actions import ActionSpec, bindings
from opsconsole.ui.actions import hotkey_specs as hotkey_specs  # re-exported (moved)
from opsconsole.ui.runbook_prefill import Prefill, prefill
from opsconsole.ui.runbook_runs import runs_of
from opsconsole.ui.screens.help import HelpRow
from opsconsole.ui.screens.runbook_walkthrough import RunbookParamsScreen, RunbookScreen
from opsconsole.ui.widgets.keybar import KeyBar

PICKER_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("runbook-picker-open", "enter", "open", "open", "Open the highlighted runbook",
               priority=True),
    ActionSpec("runbook-picker-down", "down", "move(1)", "down", "Next runbook", show=False, priority=True),
    ActionSpec("runbook-picker-up", "up", "move(-1)", "up", "Previous runbook", show=False, priority=True),
    ActionSpec("runbook-picker-close", "escape", "close", "close", "Close the picker"),
)


def load_runbooks(config: Any) -> list[Loaded]:
    """Every runbook (shipped + ``runbook_dirs:``); blocking: call it in a thread."""
    return load_all(runbook_dirs(list(getattr(config, "runbook_dirs", []) or [])))


def picker_label(item: Loaded, width: int = 200, suggested: str | None = None) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    if suggested:
        t.append(f"suggested: {one_line(suggested, 40)} ", style="bold reverse")
    if item.runbook is None:
        t.append("✗ ", style="bold")
        t.append(one_line(item.path.name), style="bold")
        t.append("  BROKEN: ")
        err = item.error
        t.append(one_line(err.message) if err is not None else "could not load")
        return t
    rb = item.runbook
    t.append("• ")
    t.append(one_line(rb.title), style="bold")
    if rb.tags:
        t.append("  [" + one_line(", ".join(rb.tags)) + "]")
    if rb.symptoms:
        t.append("  " + one_line(rb.symptoms), style="italic")
    return t


def detail(item: Loaded | None) -> Text:
    t = Text()
    if item is None:
        t.append("No runbook matches.")
        return t
    if item.runbook is None:
        t.append("This runbook could not be loaded:\n", style="bold")
        t.append(for_terminal(str(item.error), keep_newlines=True) + "\n")
        t.append("Fix the file and reopen the picker; `opsconsole runbook validate` checks them all.")
        return t
    rb = item.runbook
    t.append(one_line(rb.title), style="bold")
    t.append("  (" + one_line(f"{rb.id} · {len(rb.steps)} steps · {item.path.name}") + ")\n")
    if rb.symptoms:
        t.append("When to use: ", style="bold")
        t.append(one_line(rb.symptoms) + "\n")
    if rb.description:
        t.append(for_terminal(rb.description.strip(), keep_newlines=True) + "\n")
    if rb.params:
        t.append("Parameters: ", style="bold")
        t.append(one_line(", ".join(p.name + (" (secret)" if p.secret else "")
                                    for p in rb.params)) + "\n")
    return t


class RunbookPickerScreen(Screen[None]):
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = PICKER_ACTIONS
    BINDINGS = bindings(PICKER_ACTIONS)
    DEFAULT_CSS = """
    RunbookPickerScreen { background: $background; }
    #runbook-picker-title { height: 1; background: $panel; color: $foreground; }
    #runbook-search { height: 3; }
    #runbook-list { height: 1fr; background: $surface; text-wrap: nowrap; text-overflow: ellipsis; }
    #runbook-picker-detail-box { height: auto; max-height: 40%; padding: 0 1;
                                 border-top: solid $primary; background: $surface; }
    """

    def __init__(self, loaded: list[Loaded] | None = None, context: dict[str, str] | None = None,
                 alerts: list[dict[str, Any]] | None = None) -> None:
        super().__init__(id="runbook-picker")
        # the alerts firing/pending now (rows as opsconsole alerts --json gives them): the
        # runbooks that fit them are listed first (runbooks.search.ranked)
        self.alerts = list(alerts or [])
        self.marks: dict[int, str] = {}
        self.loaded = loaded
        self.context = context or {}
        self.shown: list[Loaded] = []
        self.open_when_loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text(" runbooks ", style="bold reverse"), id="runbook-picker-title")
        yield Input(placeholder="search title, tags, symptoms…", id="runbook-search")
        options = OptionList(id="runbook-list")
        options.can_focus = False
        yield options
        detail = VerticalScroll(id="runbook-picker-detail-box")
        detail.can_focus = False
        with detail:
            yield Static("", id="runbook-picker-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#runbook-search", Input).focus()
        if self.loaded is None:
            # parsing runs in a thread (each file in a child process, time-bounded): the
            # picker says "loading…" and keeps taking keys meanwhile
            self.run_worker(self._load(), exit_on_error=False, group="runbook-load")
        self.refilter(self.query_one("#runbook-search", Input).value)

    async def _load(self) -> None:
        loaded = await asyncio.to_thread(load_runbooks, getattr(self.app, "config", None))
        self.loaded = loaded
        self.refilter(self.query_one("#runbook-search", Input).value)
        if self.open_when_loaded:
            self.action_open()

    def title_text(self) -> Text:
        t = Text()
        t.append(" runbooks ", style="bold reverse")
        if self.loaded is None:
            t.append(" loading…")
            return t
        loaded = self.loaded
        ok = sum(1 for i in loaded if i.ok)
        t.append(f" {ok} loaded")
        broken = len(loaded) - ok
        if broken:
            t.append(f" · ✗ {broken} broken", style="bold")
        if getattr(self.app, "read_only", False):
            t.append(" · READ-ONLY: read, not run", style="bold")
        return t

    def suggest_for(self, alerts: list[dict[str, Any]]) -> None:
        """The alerts firing now (for the console's alert state to feed): re-ranks."""
        self.alerts = list(alerts)
        if self.is_mounted:
            self.refilter(self.query_one("#runbook-search", Input).value)

    def refilter(self, query: str) -> None:
        rows = ranked(self.loaded or [], query, self.alerts)
        self.shown = [item for item, _ in rows]
        self.marks = {n: name for n, (_, name) in enumerate(rows) if name}
        ol = self.query_one("#runbook-list", OptionList)
        ol.set_options([Option(picker_label(item, suggested=self.marks.get(n)), id=str(n))
                        for n, item in enumerate(self.shown)])
        if self.shown:
            ol.highlighted = 0
        self.query_one("#runbook-picker-title", Static).update(self.title_text())
        self.show_detail()

    def highlighted(self) -> Loaded | None:
        ol = self.query_one("#runbook-list", OptionList)
        if ol.highlighted is None or not self.shown:
            return None
        return self.shown[ol.highlighted]

    def show_detail(self) -> None:
        if self.loaded is None:
            self.query_one("#runbook-picker-detail", Static).update(Text("Loading runbooks…"))
            return
        self.query_one("#runbook-picker-detail", Static).update(detail(self.highlighted()))

    @on(Input.Changed, "#runbook-search")
    def changed(self, event: Input.Changed) -> None:
        self.refilter(event.value)

    @on(Input.Submitted, "#runbook-search")
    def submitted(self, event: Input.Submitted) -> None:
        self.action_open()

    @on(OptionList.OptionHighlighted)
    def option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_detail()

    @on(OptionList.OptionSelected)
    def option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_open()

    def action_move(self, step: int) -> None:
        ol = self.query_one("#runbook-list", OptionList)
        if ol.option_count:
            cur = ol.highlighted or 0
            ol.highlighted = max(0, min(ol.option_count - 1, cur + step))
        self.show_detail()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open(self) -> None:
        if self.loaded is None:  # enter typed ahead of the loading: open once loaded
            self.open_when_loaded = True
            return
        item = self.highlighted()
        if item is None:
            return
        if item.runbook is None:
            self.notify(str(item.error), title="broken runbook", severity="error", timeout=10)
            return
        open_runbook(self.app, item.runbook)


def open_runbook(app: Any, rb: Runbook, *, start: int = 0, autorun: bool = False,
                 context: dict[str, str] | None = None,
                 given: dict[str, Prefill] | None = None) -> None:
    """Resume the walk of ``rb`` for the active incident when there is one (the steps run so
    far shown as such, the cursor on the next); else ask for parameters (pre-filled from
    the panes, see :mod:`opsconsole.ui.runbook_prefill`; ``given`` ones, e.g. from an
    alert, win) and push a new walkthrough."""
    incident = getattr(app, "active_incident", None)
    run = runs_of(app).get(rb.id, incident)
    if run is not None and run.complete and not autorun:
        runs_of(app).forget(run)  # done: opening it again is a new walk
        run = None
    if run is not None:
        if autorun:
            run.current = start
        app.push_screen(RunbookScreen(rb, run.values, autorun=autorun, incident_id=incident, run=run))
        return
    if not rb.params:
        app.push_screen(RunbookScreen(rb, {}, start=start, autorun=autorun, incident_id=incident))
        return

    def got(values: dict[str, str] | None) -> None:
        if values is not None:
            app.push_screen(RunbookScreen(rb, values, start=start, autorun=autorun, incident_id=incident))

    values = prefill(app, rb)
    for k, v in (context or {}).items():
        values.setdefault(k, Prefill(v, "from the focused pane"))
    wanted = {p.name for p in rb.params if not p.secret}
    values.update({k: v for k, v in (given or {}).items() if k in wanted})  # e.g. an alert's
    app.push_screen(RunbookParamsScreen(rb, prefill=values), got)


def context_of(app: Any) -> dict[str, str]:
    """Values the focused pane offers to pre-fill parameters (e.g. pid, database): a pane may
    define ``runbook_context() -> dict[str, str]``."""
    try:
        pane = app.pane(app.current_pane)
    except Exception:
        return {}
    fn = getattr(pane, "runbook_context", None)
    if fn is None:
        return {}
    try:
        return {str(k): str(v) for k, v in (fn() or {}).items() if v is not None}
    except Exception:
        return {}


def alerts_of(app: Any) -> list[dict[str, Any]]:
    """The alerts the app holds now, if it keeps any (``alert_rows() -> list[dict]`` or an
    ``alert_rows`` list, as ``opsconsole alerts --json`` rows)."""
    rows = getattr(app, "alert_rows", None)
    try:
        rows = rows() if callable(rows) else rows
        return [r for r in rows or [] if isinstance(r, dict)]
    except Exception:
        return []


def open_picker(app: Any) -> None:
    app.push_screen(RunbookPickerScreen(context=context_of(app), alerts=alerts_of(app)))


# --------------------------------------------------------------------------- hotkeys


def hotkey_help_rows(app: Any, specs: list[ActionSpec]) -> list[HelpRow]:
    rows = []
    read_only = bool(getattr(app, "read_only", False))
    for spec in specs:
        key = spec.key_display or spec.key
        rows.append(HelpRow("Runbook hotkeys", key, spec.help, enabled=not (read_only and spec.dangerous)))
    return rows


async def launch_hotkey(app: Any, n: int) -> None:
    hotkeys = list(app.config.hotkeys)
    if not 0 <= n < len(hotkeys):
        return
    hk = hotkeys[n]
    if hk.step is not None and app.read_only:
        app.notify("Read-only: runbook steps do not run.", title="hotkey", severity="warning")
        return
    loaded = await asyncio.to_thread(load_runbooks, app.config)
    rb = next((i.runbook for i in loaded if i.runbook and i.runbook.id == hk.runbook), None)
    if rb is None:
        broken = next((i for i in loaded if i.runbook is None and i.path.stem == hk.runbook), None)
        msg = str(broken.error) if broken else f"no runbook with id {hk.runbook!r}"
        app.notify(f"{hk.key}: {msg}", title="hotkey", severity="error", timeout=10)
        return
    start = 0
    if hk.step is not None:
        try:
            start = rb.find_step(hk.step)
        except LookupError as exc:
            app.notify(f"{hk.key}: {exc.args[0]}", title="hotkey", severity="error", timeout=10)
            return
    open_runbook(app, rb, start=start, autorun=hk.step is not None)
