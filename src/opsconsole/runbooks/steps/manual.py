"""Manual steps: the operator does it and ticks it; running one records that it was done."""

from __future__ import annotations

from opsconsole.runbooks.model import ManualStep
from opsconsole.runbooks.params import Substitution
from opsconsole.runbooks.steps.base import Rendered, StepContext, StepExecutor, StepResult


class ManualExecutor(StepExecutor):
    kind = "manual"

    def render(self, step: ManualStep, subst: Substitution, *, dry: bool = False) -> Rendered:
        lines = [subst.text(step.text)] if step.text else []
        lines += [f"[ ] {subst.text(c)}" for c in step.checklist]
        return Rendered("\n".join(lines) or "(manual step: do it, then mark it done)")

    def runs_in_dry_run(self, step: ManualStep) -> bool:
        return True  # ticking it changes nothing

    async def execute(self, step: ManualStep, rendered: Rendered, ctx: StepContext) -> StepResult:
        ctx.capture.note(rendered.display)
        return "ok", None, "done by the operator"
