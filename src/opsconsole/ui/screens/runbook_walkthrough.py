"""The guided runbook walkthrough: steps with their state, what the current step will run
(parameters filled in, secrets masked), and the live output of the running step.

Keys (one ActionSpec list → bindings, footer, help, read-only gating): ``enter`` run the
current step · ``s`` skip · ``x`` stop the running step · ``b`` previous step · ``↑/↓`` move
· ``escape`` close. Parameters are asked for first (secret ones in a password field); a
dangerous step asks for its confirmation word.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, RichLog, Static

from opsconsole.fmt import age
from opsconsole.runbooks.model import ManualStep, Runbook
from opsconsole.runbooks.output import LIVE_LINES
from opsconsole.runbooks.params import ParamError, resolve_params
from opsconsole.runbooks.session import RunbookSession, SessionOptions, host_figures_default
from opsconsole.secrets import mask_command_line
from opsconsole.text import for_terminal, one_line
from opsconsole.ui.actions import ActionSpec, bindings, dangerous_actions
from opsconsole.ui.confirm import ConfirmStepScreen
from opsconsole.ui.console import console_app
from opsconsole.ui.runbook_prefill import Prefill
from opsconsole.ui.runbook_runs import (
    STATE_MARK,
    STATE_STYLE,
    RunbookRun,
    database_targets,
    run_step,
    runs_of,
    start_ticking,
)
from opsconsole.ui.safe import rich_text
from opsconsole.ui.widgets import LineBlock
from opsconsole.ui.widgets.keybar import KeyBar


def _multi(s: str) -> str:
    """Runbook prose or a command shown on several lines: controls visible, lines kept."""
    return for_terminal(s, keep_newlines=True, keep_tabs=True)


WALK_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("runbook-run", "enter", "run_step", "run", "Run the current step (or mark a manual step done)",
               dangerous=True),
    ActionSpec("runbook-skip", "s", "skip_step", "skip", "Skip the current step", dangerous=True),
    ActionSpec("runbook-stop", "x", "stop_step", "stop", "Stop the running step (SIGTERM its process group, then SIGKILL)",
               dangerous=True),
    ActionSpec("runbook-back", "b", "previous_step", "back", "Go back to the previous step"),
    # runbooks say "write it on the timeline with n": the console's note, from here too
    ActionSpec("runbook-note", "n", "app.note", "note", "Add a note to the active incident's timeline",
               dangerous=True),
    ActionSpec("runbook-down", "down,j", "move(1)", "next", "Look at the next step", show=False),
    ActionSpec("runbook-up", "up,k", "move(-1)", "previous", "Look at the previous step", show=False),
    ActionSpec("runbook-close", "escape", "close", "close", "Close the runbook"),
)


class RunbookParamsScreen(ModalScreen[dict[str, str] | None]):
    """Ask for the runbook's parameters, pre-filled from context and defaults; under each
    field, where its value came from (the locks pane's root blocker, the selected session,
    the watched database target, the default) or why it is empty."""

    BINDINGS = [Binding("escape", "cancel", "cancel", id="runbook-params-cancel")]
    DEFAULT_CSS = """
    RunbookParamsScreen { align: center middle; }
    #runbook-params-box { width: 76; max-width: 95%; height: auto; max-height: 90%; padding: 1 2;
                          background: $surface; border: thick $primary; }
    .runbook-param-label { margin-top: 1; }
    #runbook-params-error { margin-top: 1; color: $error; }
    .runbook-hint { color: $text-muted; }
    """

    def __init__(self, runbook: Runbook, prefill: dict[str, Prefill] | dict[str, str] | None = None
                 ) -> None:
        super().__init__(id="runbook-params")
        self.runbook = runbook
        self.prefill: dict[str, Prefill] = {
            k: v if isinstance(v, Prefill) else Prefill(str(v), "from the focused pane")
            for k, v in (prefill or {}).items()}

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="runbook-params-box"):
            yield Static(Text.assemble(("Parameters · ", "bold"), one_line(self.runbook.title)))
            for p in self.runbook.params:
                hint = []
                if p.type == "enum":
                    hint.append("one of " + ", ".join(p.choices))
                elif p.type == "int":
                    hint.append("an integer")
                if p.pattern:
                    hint.append(f"pattern {p.pattern}")
                if p.secret:
                    hint.append("secret: never shown or recorded")
                label = p.label + (f"  ({'; '.join(hint)})" if hint else "")
                # a Text: a pattern like ^[0-9]+[KMG]$ is not markup
                yield Static(rich_text(label), classes="runbook-param-label")
                got = self.prefill.get(p.name) if not p.secret else None
                if got is None and p.default is not None and not p.secret:
                    got = Prefill(str(p.default), "default")
                value = got.value if got is not None else (p.default or "")
                yield Input(value=str(value), password=p.secret, id=f"param-{p.name}",
                            placeholder=one_line(p.help or p.name))
                if got is not None and got.source:
                    yield Static(rich_text(("↳ " if got.value else "⚠ ") + got.source, "italic"),
                                 id=f"param-{p.name}-source", classes="runbook-hint")
            yield Static("", id="runbook-params-error")
            yield Static("enter: next field / start · escape: cancel", classes="runbook-hint")

    def source_text(self, name: str) -> str:
        """What the field ``name`` says about where its value came from ("" if nothing)."""
        found = self.query(f"#param-{name}-source")
        return str(found.first(Static).render()) if found else ""

    def on_mount(self) -> None:
        inputs = list(self.query(Input))
        if inputs:
            empty = [i for i in inputs if not i.value]
            (empty[0] if empty else inputs[0]).focus()

    def values(self) -> dict[str, str]:
        return {p.name: self.query_one(f"#param-{p.name}", Input).value for p in self.runbook.params}

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        idx = inputs.index(event.input)
        if idx < len(inputs) - 1 and not inputs[idx + 1].value:
            inputs[idx + 1].focus()
            return
        try:
            values = resolve_params(self.runbook, self.values())
        except ParamError as exc:
            self.query_one("#runbook-params-error", Static).update(rich_text(f"✗ {exc}", "bold"))
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RunbookScreen(Screen[None]):
    """A guided walkthrough of one runbook. The walk itself (a :class:`RunbookRun`) belongs
    to the app: ``escape`` closes the screen, a running step keeps running, and opening the
    runbook again resumes where it was left."""

    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = WALK_ACTIONS
    BINDINGS = bindings(WALK_ACTIONS)
    POLL = 0.1
    DEFAULT_CSS = """
    RunbookScreen { background: $background; }
    #runbook-title { height: 1; background: $panel; color: $foreground; }
    #runbook-body { height: 1fr; }
    #runbook-steps-box { width: 38%; max-width: 48; background: $surface; padding: 0 1 0 0; }
    #runbook-right { width: 1fr; }
    #runbook-detail-box { height: auto; max-height: 50%; background: $surface; padding: 0 1;
                          border-bottom: solid $primary; }
    #runbook-output { height: 1fr; background: $background; padding: 0 1; }
    #runbook-status { height: 1; background: $panel; color: $foreground; }
    """

    def __init__(self, runbook: Runbook, values: dict[str, str], *, start: int = 0,
                 autorun: bool = False, incident_id: str | None = None,
                 run: RunbookRun | None = None) -> None:
        super().__init__(id="runbook-screen")
        self.runbook = runbook
        self.values = values
        self._start_at = max(0, min(start, len(runbook.steps) - 1))
        self.autorun = autorun
        self.incident_id = incident_id
        self._run_state = run
        self._shown = run.written - len(run.transcript) if run is not None else 0
        self._last_running: tuple[Any, ...] = ()
        self._last_elapsed = ""
        self._resumed: tuple[str, str] | None = None

    # ------------------------------------------------------------------ setup
    @property
    def run(self) -> RunbookRun:
        assert self._run_state is not None
        return self._run_state

    @property
    def session(self) -> RunbookSession:
        return self.run.session

    @property
    def current(self) -> int:
        return self.run.current if self._run_state is not None else self._start_at

    @current.setter
    def current(self, value: int) -> None:
        self.run.current = value

    @property
    def last_status(self) -> str:
        return self.run.last_status

    @last_status.setter
    def last_status(self, value: str) -> None:
        self.run.last_status = value

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.app, "read_only", False))

    def compose(self) -> ComposeResult:
        yield Static("", id="runbook-title")
        with Horizontal(id="runbook-body"):
            with Vertical(id="runbook-steps-box"):
                yield LineBlock(id="runbook-steps")
            with Vertical(id="runbook-right"):
                detail = VerticalScroll(id="runbook-detail-box")
                detail.can_focus = False  # up/down move between steps
                with detail:
                    yield Static("", id="runbook-detail")
                log = RichLog(id="runbook-output", max_lines=LIVE_LINES, wrap=True, markup=False,
                              min_width=20, auto_scroll=False)
                log.can_focus = False
                yield log
        yield Static("", id="runbook-status")
        yield KeyBar()

    def on_mount(self) -> None:
        if self._run_state is None:
            app: Any = self.app
            services = getattr(app, "services", None)
            source = getattr(services, "host_collector", None) if services is not None else None
            notes: list[str] = []
            session = RunbookSession(self.runbook, self.values, SessionOptions(
                config=app.config, sink=app.sink, data_dir=app.data_dir,
                incident_id=self.incident_id, host_figures=host_figures_default(source),
                read_only=self.read_only, on_note=notes.append,
                databases=database_targets(app), record_in_thread=True,
            ))
            self._run_state = RunbookRun(self.runbook, self.values, session, incident_id=self.incident_id,
                                         current=self._start_at, notes=notes)
            runs_of(self.app).keep(self._run_state)
        else:
            done = sum(1 for st in self.session.states if st != "pending")
            self._resumed = (f"resumed: {done} of {len(self.runbook.steps)} steps done", self.last_status)
        self.draw()
        self._pump_output()
        self.set_interval(self.POLL, self._pump_output)
        self.set_interval(1.0, self._tick_elapsed)
        if self.autorun:
            self.call_after_refresh(self.action_run_step)

    # ------------------------------------------------------------------ drawing
    def title_text(self) -> Text:
        t = Text()
        t.append(" runbook ", style="bold reverse")
        t.append(f" {one_line(self.runbook.title)} ")
        shown = self.session.masked_params()
        if shown:
            t.append("· " + one_line("  ".join(f"{k}={v}" for k, v in shown.items())))
        iid = self.incident_id or getattr(self.app, "active_incident", None)
        if iid:  # where the steps are recorded
            t.append(f" · ▲ recorded on {iid}", style="bold")
        if self.read_only:
            t.append(" · READ-ONLY: nothing runs", style="bold")
        return t

    def step_lines(self, height: int | None = None) -> list[Text]:
        s = self.session
        lines: list[Text] = []
        section = None
        cur_line = 0
        for i, step in enumerate(self.runbook.steps):
            if step.section and step.section != section:
                section = step.section
                lines.append(Text(f"§ {one_line(section)}", style="bold underline"))
            state = s.states[i]
            mark = STATE_MARK[state].split(" ", 1)[0]
            pointer = "▸" if i == self.current else " "
            t = Text(f"{pointer}{mark} {i + 1:>2} ", style=STATE_STYLE[state])
            t.append(one_line(s.text(step.title)), style="bold" if i == self.current else "")
            if step.confirm:
                t.append(" ⚠")
            if i == self.current:
                cur_line = len(lines)
                t.stylize("reverse")
            lines.append(t)
        if height and len(lines) > height:
            top = max(0, min(cur_line - height // 2, len(lines) - height))
            lines = lines[top: top + height]
        return lines

    def detail_text(self) -> Text:
        s = self.session
        step = self.runbook.steps[self.current]
        state = s.states[self.current]
        t = Text()
        t.append(f"Step {self.current + 1} of {len(self.runbook.steps)} · {STATE_MARK[state]}", style="bold")
        t.append(f" · {one_line(s.kind_label(step))}")
        if float(step.timeout) and step.runs_something:
            t.append(f" · timeout {float(step.timeout):g}s")
        if step.retries:
            t.append(f" · retries {step.retries}")
        t.append("\n")
        t.append(one_line(s.text(step.title)) + "\n", style="bold")
        if step.text and not isinstance(step, ManualStep) and step.text.strip().rstrip(".:") != step.title:
            t.append(_multi(s.text(step.text).strip()) + "\n")
        rendered = s.render(step)
        if isinstance(step, ManualStep):
            t.append(_multi(rendered.display) + "\n")
            t.append("enter marks it done\n", style="italic")
        else:
            t.append("Will run:\n", style="underline")
            # a password written into the runbook itself (--password=…, a URL) is not shown
            t.append(_multi(str(mask_command_line(rendered.display))) + "\n", style="bold")
        if step.confirm:
            t.append(f"⚠ dangerous: you will type '{one_line(step.confirm)}' to run it\n", style="bold")
        if step.milestone:
            t.append(f"On success: incident milestone '{one_line(step.milestone)}'\n")
        if step.on_failure:
            t.append("On failure: " + one_line("; ".join(s.text(x.title) for x in step.on_failure))
                     + "\n")
        out = s.outcomes[self.current]
        if out is not None:
            code = f" exit {out.exit_code}" if out.exit_code is not None else ""
            t.append(f"Last run: {out.status.upper()}{code} in {out.duration:.1f}s"
                     + (f" — {one_line(out.message)}" if out.message else "") + "\n", style="bold")
            if out.output_file:
                t.append(f"Output: {out.output_lines} lines, sha256 {(out.output_sha256 or '')[:12]}…, "
                         f"kept in {out.output_file}\n")
        return t

    def draw(self) -> None:
        if self._run_state is None:
            return
        self.query_one("#runbook-title", Static).update(self.title_text())
        box = self.query_one("#runbook-steps-box")
        self.query_one("#runbook-steps", LineBlock).set_lines(self.step_lines(box.size.height or None))
        self.query_one("#runbook-detail", Static).update(self.detail_text())
        self.query_one("#runbook-status", Static).update(rich_text(self.status_text()))

    def status_text(self) -> str:
        """The status line: the running step with its elapsed time, else the last news."""
        elapsed = self.run.elapsed()
        if self.session.running is not None and elapsed is not None:
            return f"▶ running step {self.session.running + 1} · {age(elapsed)} · x stops it"
        if self._resumed and self._resumed[1] == self.last_status:  # until something new
            return " · ".join(x for x in self._resumed if x)
        return self.last_status

    def _tick_elapsed(self) -> None:
        """Every second while a step runs: only the status line changes."""
        if self.session.running is None:
            return
        text = self.status_text()
        if text != self._last_elapsed:
            self._last_elapsed = text
            self.query_one("#runbook-status", Static).update(rich_text(text))

    def on_resize(self) -> None:
        self.draw()

    def _pump_output(self) -> None:
        """Move new output to the log (the run keeps a transcript, so a reopened screen shows
        what ran before). The log follows its end unless the operator scrolled up."""
        if self._run_state is None:
            return
        log = self.query_one("#runbook-output", RichLog)
        seen = (self.session.running, self.current, self.last_status, tuple(self.session.states))
        if seen != self._last_running:  # a step started or ended (here or in the app's worker)
            self._last_running = seen
            self.draw()
            self.refresh_bindings()
        self.run.pump()
        new = self.run.written - self._shown
        if new <= 0:
            return
        follow = log.scroll_y >= log.max_scroll_y - 1 or log.max_scroll_y == 0
        lines = list(self.run.transcript)[-min(new, len(self.run.transcript)):]
        for line in lines:
            log.write(line, scroll_end=False)
        self._shown = self.run.written
        if follow:
            # after the lines are laid out (wrapping at this width), not before
            self.call_after_refresh(log.scroll_end, animate=False, immediate=True)

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in dangerous_actions(WALK_ACTIONS):
            return False
        if action == "stop_step":
            return self._run_state is not None and self.session.running is not None
        if action in ("run_step", "skip_step"):
            return self._run_state is None or self.session.running is None
        return True

    def action_move(self, step: int) -> None:
        self.current = max(0, min(len(self.runbook.steps) - 1, self.current + step))
        self.draw()

    def action_previous_step(self) -> None:
        self.action_move(-1)

    def action_close(self) -> None:
        if self._run_state is not None and self.session.running is not None:
            self.notify(f"Step {self.session.running + 1} keeps running (the header shows it); "
                        "r and this runbook come back to it.", title="runbook")
        self.dismiss(None)

    def action_skip_step(self) -> None:
        if self.read_only or self.session.running is not None:
            return
        self.run_worker(self.session.skip_later(self.current, "skipped by the operator"),
                        group="runbook-record", exit_on_error=False)
        self.last_status = f"↷ step {self.current + 1} skipped"
        self.run.advance()
        self.draw()

    def action_stop_step(self) -> None:
        if self.session.stop():
            self.last_status = "■ stopping…"
            self.draw()

    def action_run_step(self) -> None:
        if self.read_only:
            self.notify("Read-only: runbooks are shown, nothing runs.", title="runbook")
            return
        if self.session.running is not None:
            return
        index = self.current
        step = self.runbook.steps[index]
        if self.session.states[index] == "ok":
            self.notify(f"Step {index + 1} already ran OK; enter again runs it a second time.",
                        title="runbook", severity="warning")
            self.session.states[index] = "pending"
            self.draw()
            return
        if step.confirm:
            what = str(mask_command_line(self.session.render(step).display))

            def confirmed(word: str | None) -> None:
                if word is None:
                    self.last_status = "cancelled: not confirmed"
                    self.draw()
                elif word != step.confirm:
                    self.notify(f"Not run: you typed {word!r}, the step needs {step.confirm!r}.",
                                title="runbook", severity="error")
                    self.last_status = "✗ not confirmed"
                    self.draw()
                else:
                    self._start(index, word)

            self.app.push_screen(ConfirmStepScreen(self.session.text(step.title), step.confirm, what),
                                 confirmed)
            return
        self._start(index, None)

    def _start(self, index: int, confirmation: str | None) -> None:
        step = self.runbook.steps[index]
        self.run.add(Text(f"── step {index + 1}: {one_line(self.session.text(step.title))}", style="bold"))
        # an app worker: closing the screen does not stop the step
        self.app.run_worker(run_step(self.app, self.run, index, confirmation), group="runbook-step",
                            exclusive=False)
        start_ticking(console_app(self))
        self._pump_output()

