"""What every step executor provides, and what it is given to run a step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from opsconsole.runbooks.output import OutputCapture
from opsconsole.runbooks.params import Substitution

# (status, exit code or HTTP status, message): status is ok, failed, timeout or stopped
StepResult = tuple[str, int | None, str]


@dataclass(frozen=True)
class Rendered:
    """What a step will run, after substitution: ``display`` is safe to show and record."""

    display: str
    command: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    sql: str | None = None
    args: tuple[Any, ...] = ()
    url: str | None = None
    target: str | None = None  # database name, check name


@dataclass
class StepContext:
    """What a running step may use: the configuration, the database targets sql steps may
    name, the current values, and where its output goes."""

    config: Any
    databases: list[Any]
    subst: Substitution
    capture: OutputCapture
    runbook_id: str
    kill_grace: float
    # what the step left for ``expect:`` (a SQL step: ``rows`` count, ``first`` value)
    result: dict[str, Any] = field(default_factory=dict)


class StepExecutor:
    """How one kind of step is shown, whether it runs in a dry run, and how it runs. The
    session gives :meth:`execute` its timeout and its stop button (it cancels the task)."""

    kind: ClassVar[str]

    def render(self, step: Any, subst: Substitution, *, dry: bool = False) -> Rendered:
        """What ``step`` will run now (``dry``: its ``dry_run`` variant)."""
        raise NotImplementedError

    def label(self, step: Any, subst: Substitution) -> str:
        """The step's kind as the walkthrough shows it."""
        return self.kind

    def runs_in_dry_run(self, step: Any) -> bool:
        """Whether a dry run really runs the step (else it only says what it would run)."""
        return False

    def record_fields(self, step: Any, rendered: Rendered) -> dict[str, Any]:
        """Extra fields for the step's ``runbook.step_started``/``step_finished`` records."""
        return {}

    async def execute(self, step: Any, rendered: Rendered, ctx: StepContext) -> StepResult:
        raise NotImplementedError

    def timeout_message(self, step: Any, timeout: float) -> str:
        return f"timed out after {timeout:g}s"

    def failure_hint(self, capture: OutputCapture) -> str | None:
        """Advice to add to a failed step's message, read from its (closed) output."""
        return None
