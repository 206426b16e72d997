"""Check steps: run one configured health check once; OK when it is OK."""

from __future__ import annotations

from opsconsole.runbooks.model import CheckStep
from opsconsole.runbooks.params import Substitution
from opsconsole.runbooks.steps.base import Rendered, StepContext, StepExecutor, StepResult


async def run_check_once(name: str, ctx: StepContext) -> StepResult:
    """Run the configured check ``name`` and note its result in the step's output."""
    from opsconsole.checks.engine import run_check  # never raises; honours spec.timeout

    checks = list(getattr(ctx.config, "checks", None) or [])
    spec = next((c for c in checks if c.name == name), None)
    if spec is None:
        known = ", ".join(c.name for c in checks) or "none configured"
        return "failed", None, f"health check {name!r} is not in the config (checks: {known})"
    result = await run_check(spec, ctx.config)
    latency = getattr(result, "latency", None)
    lat = f" ({latency * 1000:.0f} ms)" if isinstance(latency, int | float) else ""
    ctx.capture.note(f"{result.state} {name}: {result.message}{lat}")
    if result.state == "OK":
        return "ok", 0, ""
    return "failed", None, f"{name} is {result.state}: {result.message}"


class CheckExecutor(StepExecutor):
    kind = "check"

    def render(self, step: CheckStep, subst: Substitution, *, dry: bool = False) -> Rendered:
        return Rendered(f"health check {step.check}", target=step.check)

    def runs_in_dry_run(self, step: CheckStep) -> bool:
        return True  # a check only reads

    async def execute(self, step: CheckStep, rendered: Rendered, ctx: StepContext) -> StepResult:
        return await run_check_once(step.check, ctx)
