"""Runbook walks that outlive their screen: ``escape`` closes the walkthrough, the walk goes
on (a running step keeps running), and reopening the same runbook (for the same incident)
resumes it — the steps already run shown as such, the cursor on the next one, the output
so far in the log.

The registry belongs to the app (one per :class:`OpsConsoleApp`, reached with
:func:`runs_of`); the step runs in an app worker, so closing the screen does not cancel it.
While a step runs, the header and the incidents pane say which one and since when
(:func:`running_step_text`), refreshed every second.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text

from opsconsole.fmt import age
from opsconsole.runbooks.output import LIVE_LINES
from opsconsole.text import one_line
from opsconsole.ui.safe import rich_text

if TYPE_CHECKING:
    from textual.app import App

    # annotations only: the header asks this module for a running step on every redraw,
    # and the runbook machinery is not loaded before the first runbook is opened
    from opsconsole.runbooks.model import Runbook
    from opsconsole.runbooks.session import RunbookSession
    from opsconsole.ui.app import OpsConsoleApp


STATE_MARK = {
    "pending": "○ pending",
    "running": "▶ running",
    "ok": "✓ ok",
    "failed": "✗ failed",
    "skipped": "↷ skipped",
    "stopped": "■ stopped",
    "recovered": "↺ recovered",
}
DONE_STATES = ("ok", "recovered", "skipped")  # a step in one of these needs nothing more
STATE_STYLE = {"running": "bold", "ok": "", "failed": "bold reverse", "stopped": "bold",
               "skipped": "dim", "pending": "", "recovered": "bold"}


@dataclass
class RunbookRun:
    """One walk through a runbook, kept by the app while its screen is closed."""

    runbook: Runbook
    values: dict[str, str]
    session: RunbookSession
    incident_id: str | None = None
    current: int = 0
    last_status: str = ""
    clock: Callable[[], float] = time.monotonic
    notes: list[str] = field(default_factory=list)  # the session's notes, not yet in the log
    transcript: deque[Text] = field(default_factory=lambda: deque(maxlen=LIVE_LINES))
    written: int = 0  # lines ever added to the transcript (a screen shows those it has not)
    step_started: float | None = None  # clock() when the running step started
    _seen_capture: Any = None
    _seen_lines: int = 0

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.runbook.id, self.incident_id)

    def add(self, line: Text) -> None:
        self.transcript.append(line)
        self.written += 1

    def pump(self) -> None:
        """Move the session's notes and new output lines into the transcript, at most
        LIVE_LINES per call (a flood stays cheap; the output file keeps everything)."""
        for note in self.notes:
            self.add(rich_text(note, "italic"))
        self.notes.clear()
        cap = self.session.capture
        if cap is None:
            return
        if cap is not self._seen_capture:
            self._seen_capture = cap
            self._seen_lines = 0
        new = cap.lines - self._seen_lines
        if new <= 0:
            return
        take = list(cap.live)[-min(new, len(cap.live)):] if cap.live else []
        if new > len(take):
            self.add(Text(f"… {new - len(take)} lines not shown here (all kept in the output file)",
                          style="italic"))
        for line in take:
            self.add(rich_text(line, keep_tabs=True))  # step output: anyone's bytes
        self._seen_lines = cap.lines

    def advance(self) -> None:
        """The cursor to the next pending step (or say the runbook is complete)."""
        nxt = self.session.next_pending(self.current)
        if nxt is not None:
            self.current = nxt
        elif self.complete:
            early = self.session.finished_early
            self.last_status += " · runbook complete" + (
                f" (ended early: {one_line(str(early), 80)})" if early else "")

    @property
    def complete(self) -> bool:
        """Nothing runs and every step is done: ok, recovered by its on_failure steps, or
        skipped (by the operator, a ``when:``, or an early end)."""
        return self.session.running is None and all(
            s in DONE_STATES for s in self.session.states)

    def elapsed(self) -> float | None:
        """Seconds the running step has run (None when none runs)."""
        if self.session.running is None or self.step_started is None:
            return None
        return max(self.clock() - self.step_started, 0.0)

    def running_text(self) -> str | None:
        """``▶ runbook pg-lock-contention step 2/7 'Look at the root blocker' 42s``."""
        index = self.session.running
        elapsed = self.elapsed()
        if index is None or elapsed is None:
            return None
        title = one_line(self.session.text(self.runbook.steps[index].title), 40)
        return (f"▶ runbook {one_line(self.runbook.id, 30)} step {index + 1}/"
                f"{len(self.runbook.steps)} '{title}' {age(elapsed)}")


async def run_step(app: App[Any], run: RunbookRun, index: int, confirmation: str | None) -> None:
    """Run step ``index`` of ``run`` (an app worker), then say how it went; on success the
    walk moves on to the next pending step."""
    run.step_started = run.clock()
    outcome = await run.session.run_step(index, confirmation)
    run.pump()
    code = f" exit {outcome.exit_code}" if outcome.exit_code is not None else ""
    run.last_status = (f"{STATE_MARK.get(run.session.states[index], outcome.status)} · step {index + 1}"
                       f"{code} · {outcome.duration:.1f}s" + (f" · {outcome.message}" if outcome.message else ""))
    if outcome.ok and index == run.current:
        run.advance()
    if outcome.status == "skipped":  # its when: did not hold: said, not an error
        app.notify(f"Step {index + 1} skipped: {outcome.message}"[:300], title="runbook")
        if index == run.current:
            run.advance()
    elif not outcome.ok:
        app.notify(f"Step {index + 1} {outcome.status}: {outcome.message}"[:300], title="runbook",
                   severity="error" if outcome.status != "refused" else "warning")
    app.update_header()


def database_targets(app: Any) -> list[Any]:
    """The targets a runbook's sql steps may name in the console: the server ``--dsn``
    watches (named as the PostgreSQL panes name it) and the config's databases."""
    from opsconsole import config

    cfg = getattr(app, "config", None) or config.AppConfig()
    return config.database_targets(cfg, getattr(getattr(app, "options", None), "dsn", None))


class RunbookRuns:
    """The app's walks, by (runbook id, incident id)."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str | None], RunbookRun] = {}
        self.ticking = False

    def get(self, runbook_id: str, incident_id: str | None) -> RunbookRun | None:
        return self.runs.get((runbook_id, incident_id))

    def keep(self, run: RunbookRun) -> None:
        self.runs[run.key] = run

    def forget(self, run: RunbookRun) -> None:
        if self.runs.get(run.key) is run:
            del self.runs[run.key]

    def running(self) -> list[RunbookRun]:
        return [r for r in self.runs.values() if r.session.running is not None]


_REGISTRIES: weakref.WeakKeyDictionary[Any, RunbookRuns] = weakref.WeakKeyDictionary()


def runs_of(app: App[Any]) -> RunbookRuns:
    """The registry of ``app`` (made on first use)."""
    runs = _REGISTRIES.get(app)
    if runs is None:
        runs = _REGISTRIES[app] = RunbookRuns()
    return runs


def running_sessions(app: App[Any]) -> list[RunbookSession]:
    """Every session with a step running now (the hang-up handler stops them)."""
    return [r.session for r in runs_of(app).running()]


def running_step_text(app: App[Any]) -> Text | None:
    """What the header and the incidents pane say while a runbook step runs (None when
    none does); several running walks: the first, and how many more."""
    running = runs_of(app).running()
    if not running:
        return None
    text = running[0].running_text()
    if text is None:
        return None
    more = f" (+{len(running) - 1} more)" if len(running) > 1 else ""
    return Text(text + more, style="bold")


def with_running_step(app: OpsConsoleApp, extra: Text | None) -> Text | None:
    """The header's extra part (the active incident) followed by the running step."""
    step = running_step_text(app)
    if step is None:
        return extra
    if extra is None:
        return step
    return Text(" · ").join([extra, step])


def start_ticking(app: OpsConsoleApp) -> None:
    """Refresh the header every second while a step runs (its elapsed time moves)."""
    runs = runs_of(app)
    if runs.ticking:
        return
    runs.ticking = True

    def tick() -> None:
        app.update_header()
        if runs.running():
            app.set_timer(1.0, tick)
        else:
            runs.ticking = False

    app.set_timer(1.0, tick)


def with_running_step_first(app: App[Any], summary: str) -> str:
    """A pane's summary with the running step in front (a narrow pane header keeps it):
    ``▶ runbook … step 2/7 '…' 42s · 1 open``."""
    step = running_step_text(app)
    return f"{step.plain} · {summary}" if step is not None else summary
