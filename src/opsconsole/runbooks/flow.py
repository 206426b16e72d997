"""Evaluating a step's ``when:``/``stop_when:`` conditions and its ``expect:``.

Conditions are data (:mod:`opsconsole.runbooks.conditions`), never evaluated as code: a
check condition runs the configured health check once, a captured condition compares a
variable, a shell condition runs ``/bin/sh -c`` like a shell step (parameters as environment
variables only, its own process group, a timeout) and is true when it exits 0.
Never imports Textual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

from opsconsole.events import RUNBOOK_RECOVERED, RUNBOOK_RUN_STOPPED
from opsconsole.runbooks.conditions import Condition, Expect
from opsconsole.runbooks.output import OutputCapture
from opsconsole.runbooks.steps.base import StepContext
from opsconsole.secrets import mask_values
from opsconsole.text import one_line

REASON_WIDTH = 300  # characters of a reason kept on the timeline


def reason_text(message: str) -> str:
    """A reason as it is recorded: one line, control characters neutralised, bounded
    (secrets are masked by the caller)."""
    return one_line(message, REASON_WIDTH)


async def holds(cond: Condition, ctx: StepContext, values: dict[str, Any]) -> tuple[bool, str]:
    """Whether ``cond`` holds now, and what was seen (for the reason)."""
    if cond.captured is not None:
        if cond.captured not in values:
            return False, f"{cond.captured} was not captured"
        v = str(values[cond.captured])
        ok = v == cond.equals if cond.equals is not None else bool(
            re.search(cond.matches or "", v))
        return ok, f"{cond.captured} is {v!r}"
    if cond.check is not None:
        from opsconsole.checks.engine import run_check

        checks = list(getattr(ctx.config, "checks", None) or [])
        spec = next((c for c in checks if c.name == cond.check), None)
        if spec is None:
            return False, f"health check {cond.check!r} is not in the config"
        result = await run_check(spec, ctx.config)
        return result.state == cond.state, f"{cond.check} is {result.state}"
    from opsconsole.runbooks.steps.shell import run_shell

    command, env, shown = ctx.subst.shell(cond.shell or "")
    sub = StepContext(config=ctx.config, databases=ctx.databases, subst=ctx.subst,
                      capture=OutputCapture(None, ctx.capture.secrets), runbook_id=ctx.runbook_id,
                      kill_grace=ctx.kill_grace)
    task = asyncio.ensure_future(run_shell(command, env, None, {}, sub))
    try:
        status, code, _ = await asyncio.wait_for(task, float(cond.timeout))
    except TimeoutError:
        return False, f"`{shown}` timed out after {float(cond.timeout):g}s"
    return status == "ok", f"`{shown}` exited {code}"


def _norm(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    s = str(v).strip()
    low = s.lower()
    return {"t": "true", "f": "false"}.get(low, low if low in ("true", "false", "null") else s)


def last_output_line(capture: OutputCapture) -> str | None:
    for line in reversed(capture.tail):
        if not line.startswith("[opsconsole]"):
            return line
    return None


def expect_problem(expect: Expect, result: dict[str, Any], capture: OutputCapture) -> str | None:
    """Why the step's result does not fit ``expect``, or None. ``result``: what the step
    left (a SQL step: ``first`` value and ``rows`` count)."""
    if expect.rows is not None:
        if "rows" not in result:
            return f"expected {expect.rows} row(s), but the step returned no rows"
        if result["rows"] != expect.rows:
            return f"expected {expect.rows} row(s), got {result['rows']}"
    if expect.value is not None:
        if "first" in result:
            got, what = result["first"], "the first value"
        elif "rows" in result:
            return f"expected {_norm(expect.value)}, but the result has no rows"
        else:
            got, what = last_output_line(capture), "the last output line"
        if _norm(got) != _norm(expect.value):
            return f"expected {what} to be {_norm(expect.value)}, got {_norm(got)}"
    text = capture.captured_text
    if expect.matches is not None and not re.search(expect.matches, text, re.MULTILINE):
        return f"expected the output to match /{expect.matches}/; it does not"
    if expect.not_matches is not None:
        m = re.search(expect.not_matches, text, re.MULTILINE)
        if m:
            return f"expected the output not to match /{expect.not_matches}/; it has {m.group(0)!r}"
    return None


# --------------------------------------------------------------------------- session


async def when_skip_reason(self: Any, step: Any) -> str | None:
    """The skip reason when ``step``'s ``when:`` does not hold (else None); ``self`` is
    the :class:`~opsconsole.runbooks.session.RunbookSession`."""
    if step.when is None or self.options.read_only:
        return None  # read-only: nothing runs, not even a condition's command
    if self.dry_run and step.when.shell is not None:
        self._note(f"[dry run] would run the step only when {step.when.describe()}")
        return None
    ctx = self._context(OutputCapture(None, self.secret_values))
    try:
        ok, seen = await holds(step.when, ctx, self.values)
    except Exception as exc:  # a condition that cannot be evaluated does not hold
        ok, seen = False, f"{type(exc).__name__}: {exc}"
    if ok:
        self._note(f"[opsconsole] when: {step.when.describe()} holds ({seen})")
        return None
    return mask_values(f"when: {step.when.describe()} did not hold ({seen})",
                       self.secret_values)

async def stop_when(self: Any, step: Any, index: int) -> None:
    ctx = self._context(OutputCapture(None, self.secret_values))
    try:
        ok, seen = await holds(step.stop_when, ctx, self.values)
    except Exception as exc:
        ok, seen = False, f"{type(exc).__name__}: {exc}"
    what = step.stop_when.describe()
    if not ok:
        self._note(f"[opsconsole] stop_when: {what} does not hold ({seen}); the run goes on")
        return
    reason = mask_values(f"recovered: condition {what} held", self.secret_values)
    self.finished_early = reason
    self._note(f"[opsconsole] {reason} ({seen}); the run ends here")
    await self._arecord(RUNBOOK_RUN_STOPPED, {**self._base(index, step),
                                              "reason": reason_text(reason),
                                              "seen": reason_text(seen)})

async def repair(self: Any, step: Any, index: int, outcome: Any,
             confirmation: str | None) -> Any:
    """Run the ``on_failure`` steps; when every one succeeds the step is recovered."""
    repaired = True
    for j, sub in enumerate(step.on_failure):
        self._note(f"[opsconsole] on_failure {j + 1}/{len(step.on_failure)}: "
                   f"{self.text(sub.title)}")
        label = f"{index + 1}.on_failure.{j + 1}"
        sub_outcome = await self._run_with_retries(
            sub, label, confirmation if sub.confirm else None)
        if not sub_outcome.ok or sub_outcome.status == "dry-run":
            repaired = False
        if sub_outcome.status == "stopped":
            break
    if not repaired or self.dry_run:
        return outcome
    failure = outcome.message or outcome.status
    message = f"recovered by on_failure after: {failure}"
    self._note(f"[opsconsole] {message}")
    await self._arecord(RUNBOOK_RECOVERED, {**self._base(index, step),
                                            "reason": reason_text(message),
                                            "failure": reason_text(failure)})
    return dataclasses.replace(outcome, status="recovered", message=message)
