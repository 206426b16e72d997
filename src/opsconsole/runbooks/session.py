"""One walk through a runbook: parameter values, step states, and the running step.

The session does what is common to every kind of step (the kinds themselves are in
:mod:`opsconsole.runbooks.steps`): read-only and confirmation refusals, retries, the
timeout and the operator's stop, ``on_failure`` steps, ``capture:`` variables, milestones,
host figures before and after, and recording every attempt: ``runbook.step_started`` and
``runbook.step_finished``; skips as ``runbook.step_skipped``; milestones as
``incident.milestone_set``.

Never imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets as _secrets
import socket
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole.events import (
    MILESTONE_SET,
    RUNBOOK_FINISHED,
    RUNBOOK_SKIPPED,
    RUNBOOK_STARTED,
    EventSink,
)
from opsconsole.runbooks import flow
from opsconsole.runbooks.conditions import as_expect
from opsconsole.runbooks.flow import expect_problem, reason_text
from opsconsole.runbooks.model import Param, Runbook, declared_names
from opsconsole.runbooks.output import OutputCapture
from opsconsole.runbooks.params import Substitution
from opsconsole.runbooks.steps import Rendered, StepContext, StepExecutor, executor_for
from opsconsole.secrets import mask_tokens, mask_values

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL when a shell step is stopped
FIGURES_TIMEOUT = 5.0


@dataclass
class StepOutcome:
    status: str  # ok, recovered, failed, timeout, stopped, refused, skipped, dry-run
    exit_code: int | None = None
    message: str = ""
    duration: float = 0.0
    output_first: list[str] = field(default_factory=list)
    output_last: list[str] = field(default_factory=list)
    output_sha256: str | None = None
    output_file: str | None = None
    output_lines: int = 0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "dry-run", "recovered")


@dataclass(frozen=True, kw_only=True)
class SessionOptions:
    """How a session runs and where it records.

    ``databases``: the targets sql steps may name (default: the config's); the console adds
    the server ``--dsn`` watches. ``on_line`` gets every output line, ``on_note`` opsconsole's
    own messages (retries, captures; default: ``on_line``). ``auto_confirm`` is the CLI's
    ``--yes``. ``record_in_thread``: the sink writes in a thread, so the caller's event loop
    never waits on the disk (the console); else records are written inline (the CLI)."""

    config: Any
    sink: EventSink
    data_dir: Path
    incident_id: str | None = None
    host_figures: Callable[[], dict[str, Any]] | None = None
    dry_run: bool = False
    read_only: bool = False
    on_line: Callable[[str], None] | None = None
    on_note: Callable[[str], None] | None = None
    kill_grace: float = KILL_GRACE
    auto_confirm: bool = False
    databases: Sequence[Any] | None = None
    record_in_thread: bool = False


def host_figures_default(source: Any = None) -> Callable[[], dict[str, Any]]:
    """A function returning the key host figures (call it in a thread). ``source`` is
    anything with ``.collect() -> HostSnapshot`` (default: a fresh HostCollector)."""
    from opsconsole.sources.host import HostCollector, key_figures

    collector: list[Any] = [source] if source is not None else []

    def figures() -> dict[str, Any]:
        if not collector:
            collector.append(HostCollector(process_interval=0.0, filesystem_interval=0.0))
        return key_figures(collector[0].collect())

    return figures


class RunbookSession:
    """One walk through a runbook: parameter values, step states, and the running step."""

    def __init__(self, runbook: Runbook, values: dict[str, str], options: SessionOptions) -> None:
        self.runbook = runbook
        self.options = options
        self.databases = list(options.databases if options.databases is not None
                              else getattr(options.config, "databases", None) or [])
        self.data_dir = Path(options.data_dir)
        self.on_note = options.on_note or options.on_line
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + _secrets.token_hex(3)
        self.params: dict[str, Param] = {p.name: p for p in runbook.params}
        self.values: dict[str, Any] = {}
        for name, v in values.items():
            p = self.params.get(name)
            self.values[name] = p.convert(v) if p else v
        self.subst = Substitution(self.params, self.values, declared_names(runbook))
        self.states: list[str] = ["pending"] * len(runbook.steps)
        self.outcomes: list[StepOutcome | None] = [None] * len(runbook.steps)
        self.running: int | None = None
        self.capture: OutputCapture | None = None
        self._stop: asyncio.Event | None = None  # made on the running loop, per step run
        self.stop_reason = "stopped by the operator"  # what a stopped step's record says
        # set when a step's stop_when: held: the run is over, with success
        self.finished_early: str | None = None
        self.started_at: list[datetime | None] = [None] * len(runbook.steps)
        self._result: dict[str, Any] = {}

    def step_reason(self, index: int) -> str:
        """Why step ``index`` is where it is (failed, recovered, skipped): '' if ok/pending."""
        out = self.outcomes[index]
        return out.message if out is not None and out.status != "ok" else ""

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    # ----------------------------------------------------------- masking & rendering
    @property
    def secret_values(self) -> list[str]:
        return self.subst.secret_values

    def masked_params(self) -> dict[str, Any]:
        return self.subst.masked()

    def text(self, template: str) -> str:
        """Prose with ``{{ name }}`` filled in (secrets masked): titles, instructions."""
        return self.subst.text(template)

    def render(self, step: Any, *, dry: bool = False) -> Rendered:
        """What ``step`` will run now (``dry``: its dry_run variant)."""
        return executor_for(step).render(step, self.subst, dry=dry)

    def kind_label(self, step: Any) -> str:
        """The step's kind as shown to the operator (``sql on main``)."""
        return executor_for(step).label(step, self.subst)

    # ----------------------------------------------------------- control
    def stop(self, reason: str = "stopped by the operator") -> bool:
        """Stop the running step (its process group gets SIGTERM, then SIGKILL); ``reason``
        is what its ``step_finished`` record says (e.g. "stopped: terminal closed")."""
        if self.running is None:
            return False
        self.stop_reason = reason
        if self._stop is not None:
            self._stop.set()
        return True

    def next_pending(self, after: int = -1) -> int | None:
        if self.finished_early is not None:
            return None
        for i in range(after + 1, len(self.states)):
            if self.states[i] in ("pending", "failed", "stopped"):
                return i
        return None

    def skip(self, index: int, reason: str = "") -> None:
        self._record(RUNBOOK_SKIPPED, self._mark_skipped(index, reason))

    def skip_later(self, index: int, reason: str = "") -> Coroutine[Any, Any, None]:
        """Mark step ``index`` skipped now; the returned coroutine records it (in a thread):
        for the console, whose loop must not wait on the store."""
        return self._arecord(RUNBOOK_SKIPPED, self._mark_skipped(index, reason))

    def _mark_skipped(self, index: int, reason: str) -> dict[str, Any]:
        step = self.runbook.steps[index]
        self.states[index] = "skipped"
        self.outcomes[index] = StepOutcome("skipped", message=reason)
        return {**self._base(index, step), "reason": reason_text(reason)}

    def _base(self, index: int | str, step: Any) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "runbook": self.runbook.id,
            "runbook_title": self.runbook.title,
            "runbook_source": self.runbook.source,
            "step": index + 1 if isinstance(index, int) else index,
            "step_title": self.text(step.title),
            "kind": step.kind,
            "host": socket.gethostname(),
        }

    # ----------------------------------------------------------- recording
    def _record(self, type: str, data: dict[str, Any]) -> None:
        try:
            self.options.sink.record(type, data, incident_id=self.options.incident_id)
        except OSError as exc:  # the run goes on; the operator is told
            self._note(f"[opsconsole] could not record {type}: {exc}")

    async def _arecord(self, type: str, data: dict[str, Any]) -> None:
        """Record from async code. With ``record_in_thread`` (the console) the sink writes
        (SQLite, fsync) in a thread, so the loop never waits on the disk or on another
        writer's lock; the CLI records inline (nothing else runs on its loop)."""
        if not self.options.record_in_thread:
            self._record(type, data)
            return
        try:
            await asyncio.to_thread(self.options.sink.record, type, data,
                                    incident_id=self.options.incident_id)
        except OSError as exc:  # the run goes on; the operator is told
            self._note(f"[opsconsole] could not record {type}: {exc}")

    def _note(self, line: str) -> None:
        if self.on_note is not None:
            self.on_note(line)

    def sink_actor(self) -> str | None:
        actor = getattr(self.options.sink, "actor", None)
        return actor.label() if actor is not None and hasattr(actor, "label") else None

    async def _figures(self) -> dict[str, Any] | None:
        if self.options.host_figures is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.options.host_figures),
                                          FIGURES_TIMEOUT)
        except Exception as exc:  # figures are a nicety; never fail a step for them
            return {"error": f"{type(exc).__name__}: {exc}"}

    # ----------------------------------------------------------- running
    async def run_step(self, index: int, confirmation: str | None = None) -> StepOutcome:
        """Run step ``index`` (with retries, on_failure steps, capture and milestone)."""
        step = self.runbook.steps[index]
        if self.running is not None:
            return StepOutcome("refused", message="another step is running")
        if self.finished_early is not None:
            return StepOutcome("refused", message=f"the run is over: {self.finished_early}")
        self.states[index] = "running"
        self.running = index
        self.started_at[index] = datetime.now(UTC)
        self._stop = asyncio.Event()
        try:
            skip = await self._when_fails(step, index)
            if skip is not None:
                self.running = None
                await self.skip_later(index, skip)
                return self.outcomes[index] or StepOutcome("skipped", message=skip)
            outcome = await self._run_with_retries(step, index, confirmation)
            if outcome.status in ("failed", "timeout") and step.on_failure:
                outcome = await self._repair(step, index, outcome, confirmation)
            if outcome.ok and not self.dry_run and step.stop_when is not None:
                await self._stop_when(step, index)
        finally:
            self.running = None
        if outcome.status == "refused":
            self.states[index] = "pending"
        elif outcome.status in ("ok", "dry-run"):
            self.states[index] = "ok"
        elif outcome.status in ("stopped", "recovered"):
            self.states[index] = outcome.status
        else:
            self.states[index] = "failed"
        self.outcomes[index] = outcome
        if self.finished_early is not None:
            for j in range(index + 1, len(self.states)):
                if self.states[j] in ("pending", "failed", "stopped"):
                    await self.skip_later(j, self.finished_early)
        return outcome

    def _context(self, capture: OutputCapture) -> StepContext:
        return StepContext(config=self.options.config, databases=self.databases,
                           subst=self.subst, capture=capture, runbook_id=self.runbook.id,
                           kill_grace=self.options.kill_grace)

    async def _when_fails(self, step: Any, index: int) -> str | None:
        return await flow.when_skip_reason(self, step)

    async def _stop_when(self, step: Any, index: int) -> None:
        await flow.stop_when(self, step, index)

    async def _repair(self, step: Any, index: int, outcome: StepOutcome,
                      confirmation: str | None) -> StepOutcome:
        return await flow.repair(self, step, index, outcome, confirmation)

    async def _run_with_retries(self, step: Any, index: int | str,
                                confirmation: str | None) -> StepOutcome:
        if self.options.read_only and step.runs_something:
            return StepOutcome("refused", message="read-only: runbook steps are shown, nothing runs")
        dry = self.options.dry_run
        if (step.confirm and not dry and not self.options.auto_confirm
                and confirmation != step.confirm):
            return StepOutcome("refused", message=f"this step needs confirmation: type {step.confirm!r}")
        attempts = 1 + (step.retries if step.runs_something else 0)
        outcome = StepOutcome("failed")
        for attempt in range(1, attempts + 1):
            outcome = await self._attempt(step, index, attempt, attempts, dry)
            outcome.attempts = attempt
            if outcome.status in ("ok", "dry-run", "stopped", "refused"):
                break
            if attempt < attempts:
                self._note(f"[opsconsole] attempt {attempt} of {attempts} {outcome.status}; "
                           f"retrying in {float(step.retry_delay):g}s")
                if await self._sleep_or_stop(float(step.retry_delay)):
                    outcome = StepOutcome("stopped", message=self.stop_reason)
                    break
        if outcome.ok and not dry:
            self._apply_captures(step)
            if step.milestone:
                label = index + 1 if isinstance(index, int) else index
                await self._arecord(MILESTONE_SET, {
                    "milestone": step.milestone,
                    "at": datetime.now(UTC).isoformat(),
                    "source": f"runbook {self.runbook.id} step {label}: {self.text(step.title)}",
                    "run_id": self.run_id,
                })
        return outcome

    def _apply_captures(self, step: Any) -> None:
        if not step.capture or self.capture is None:
            return
        text = self.capture.captured_text
        for name, pattern in step.capture.items():
            m = re.search(pattern, text, re.MULTILINE)
            if m:
                self.values[name] = (m.group(1) if m.groups() else m.group(0)).strip()
                self._note(f"[opsconsole] captured {name} = {self.values[name]}")

    async def _sleep_or_stop(self, seconds: float) -> bool:
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
            return True
        except TimeoutError:
            return False

    def _output_path(self, index: int | str, attempt: int) -> Path:
        label = index + 1 if isinstance(index, int) else index
        return (self.data_dir / "runbook-output" /
                f"{self.run_id}-{self.runbook.id}-step{label}-try{attempt}.log")

    async def _attempt(self, step: Any, index: int | str, attempt: int, attempts: int,
                       dry: bool) -> StepOutcome:
        if self._stop is None:
            self._stop = asyncio.Event()
        executor = executor_for(step)
        would_only = dry and not executor.runs_in_dry_run(step)
        rendered = executor.render(step, self.subst, dry=dry and bool(step.dry_run))
        base = self._base(index, step)
        base.update({"command": rendered.display, **({"command_run": rendered.command}
                     if rendered.command else {}), "params": self.masked_params(), "attempt": attempt,
                     "attempts": attempts, "dry_run": dry, "operator": self.sink_actor()})
        base.update(executor.record_fields(step, rendered))
        before = None if would_only or not step.runs_something else await self._figures()
        started = datetime.now(UTC)
        await self._arecord(RUNBOOK_STARTED, {**base, "started_at": started.isoformat(),
                                              "host_before": before})
        capture = OutputCapture(self._output_path(index, attempt), self.secret_values,
                                self.options.on_line)
        self.capture = capture
        t0 = time.monotonic()
        status, code, message = "ok", None, ""
        try:
            if would_only:
                capture.note(f"[dry run] would run: {rendered.display}")
                status = "dry-run"
            else:
                status, code, message = await self._execute(executor, step, rendered, capture)
                if dry and status == "ok" and step.runs_something:
                    status = "dry-run"
                expect = as_expect(step.expect)
                if status == "ok" and expect is not None:
                    problem = expect_problem(expect, self._result, capture)
                    if problem:
                        capture.note(f"[opsconsole] {problem}")
                        status, message = "failed", problem
        except asyncio.CancelledError:
            # the whole run is being stopped (Ctrl+C, app closing): the step's processes are
            # already gone (see _execute); record it, then let the cancellation go on
            capture.close()
            _, data = self._finish(base, started, t0, capture, "stopped", None,
                                   "interrupted: the run was stopped", before, None)
            self._record(RUNBOOK_FINISHED, data)  # cancelled: nothing may be awaited here
            raise
        except Exception as exc:  # a step's failure is an outcome, never a crash
            status, message = "failed", f"{type(exc).__name__}: {mask_values(str(exc), self.secret_values)}"
        finally:
            capture.close()
        hint = executor.failure_hint(capture) if status == "failed" else None
        if hint:
            message = (message + " — " if message else "") + hint
        after = None if before is None else await self._figures()
        outcome, data = self._finish(base, started, t0, capture, status, code, message, before,
                                     after)
        await self._arecord(RUNBOOK_FINISHED, data)
        return outcome

    def _finish(self, base: dict[str, Any], started: datetime, t0: float, capture: OutputCapture,
                status: str, code: int | None, message: str, before: dict[str, Any] | None,
                after: dict[str, Any] | None) -> tuple[StepOutcome, dict[str, Any]]:
        """The step's outcome and its ``runbook.step_finished`` data (the caller records it)."""
        duration = time.monotonic() - t0
        if message:
            message = mask_tokens(mask_values(message, self.secret_values))
        outcome = StepOutcome(
            status=status, exit_code=code, message=message, duration=duration,
            output_first=list(capture.head), output_last=capture.last_lines(),
            output_sha256=capture.sha256, output_file=str(capture.path) if capture.path else None,
            output_lines=capture.lines,
        )
        data = {
            **base,
            "started_at": started.isoformat(),
            "duration": round(duration, 3),
            "status": status,
            "exit_status": code,
            "message": message,
            **({"reason": reason_text(message or status)} if status not in ("ok", "dry-run")
               else {}),
            "output_first": outcome.output_first,
            "output_last": outcome.output_last,
            "output_lines": capture.lines,
            "output_bytes": capture.bytes,
            "output_sha256": capture.sha256,
            "output_file": outcome.output_file,
            "output_truncated": capture.truncated,
            "output_truncated_reason": capture.truncated_reason,
            "host_before": before,
            "host_after": after,
        }
        return outcome, data

    async def _execute(self, executor: StepExecutor, step: Any, rendered: Rendered,
                       capture: OutputCapture) -> tuple[str, int | None, str]:
        """Run the step's work as a task; stop it at its timeout or when asked."""
        assert self._stop is not None
        ctx = self._context(capture)
        self._result = ctx.result
        task = asyncio.ensure_future(executor.execute(step, rendered, ctx))
        stopper = asyncio.ensure_future(self._stop.wait())
        timeout = float(step.timeout)
        try:
            done, _ = await asyncio.wait({task, stopper}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise
        finally:
            stopper.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._stop.is_set():
            capture.note(f"[opsconsole] {self.stop_reason}")
            return "stopped", None, self.stop_reason
        capture.note(f"[opsconsole] timed out after {timeout:g}s")
        return "timeout", None, executor.timeout_message(step, timeout)
