"""One executor per step kind, found by the step's ``kind``.

Each executor (:class:`StepExecutor`) knows how its kind of step is shown (with parameters
filled in, secrets masked), whether a dry run really runs it, and how it runs; the session
(:mod:`opsconsole.runbooks.session`) does everything common to every kind: confirmation,
retries, timeout and stop, recording.
"""

from __future__ import annotations

from typing import Any

from opsconsole.runbooks.steps.base import Rendered, StepContext, StepExecutor, StepResult
from opsconsole.runbooks.steps.check import CheckExecutor
from opsconsole.runbooks.steps.http import HttpExecutor
from opsconsole.runbooks.steps.manual import ManualExecutor
from opsconsole.runbooks.steps.shell import ShellExecutor
from opsconsole.runbooks.steps.sql import SqlExecutor
from opsconsole.runbooks.steps.wait import WaitExecutor

EXECUTORS: dict[str, StepExecutor] = {
    e.kind: e for e in (ManualExecutor(), ShellExecutor(), SqlExecutor(), HttpExecutor(),
                        WaitExecutor(), CheckExecutor())
}


def executor_for(step: Any) -> StepExecutor:
    """The executor for ``step``'s kind."""
    try:
        return EXECUTORS[step.kind]
    except (KeyError, AttributeError):
        raise TypeError(f"no executor for step {step!r}") from None


__all__ = ["EXECUTORS", "Rendered", "StepContext", "StepExecutor", "StepResult", "executor_for"]
