"""Wait steps: poll until a condition holds (a check passes, a URL answers the expected
status, a shell command exits 0), every ``interval``; the step's timeout ends the wait."""

from __future__ import annotations

import asyncio

from opsconsole.runbooks.model import WaitStep
from opsconsole.runbooks.params import Substitution
from opsconsole.runbooks.steps.base import Rendered, StepContext, StepExecutor, StepResult
from opsconsole.runbooks.steps.check import run_check_once
from opsconsole.runbooks.steps.shell import run_shell

MAX_REQUEST_TIMEOUT = 10.0  # one poll of a URL waits at most this long (or 2 intervals)


async def _get(url: str, step: WaitStep, n: int, ctx: StepContext) -> str:
    import httpx

    try:
        timeout = min(float(step.interval) * 2, MAX_REQUEST_TIMEOUT)
        async with httpx.AsyncClient(timeout=timeout) as c:
            r = await c.get(url)
    except httpx.HTTPError as exc:
        ctx.capture.note(f"attempt {n}: {type(exc).__name__}: {exc}")
        return "failed"
    ctx.capture.note(f"attempt {n}: HTTP {r.status_code}")
    return "ok" if r.status_code == step.expect_status else "failed"


class WaitExecutor(StepExecutor):
    kind = "wait"

    def render(self, step: WaitStep, subst: Substitution, *, dry: bool = False) -> Rendered:
        every = f"every {float(step.interval):g}s, up to {float(step.timeout):g}s"
        if step.check:
            return Rendered(f"wait until health check {step.check} is OK ({every})",
                            target=step.check)
        if step.url:
            real, shown = subst.url(step.url)
            return Rendered(f"wait until GET {shown} answers {step.expect_status} ({every})",
                            url=real)
        cmd, env, shown = subst.shell(step.until or "")
        return Rendered(f"wait until `{shown}` exits 0 ({every})", command=cmd, env=env)

    async def execute(self, step: WaitStep, rendered: Rendered, ctx: StepContext) -> StepResult:
        n = 0
        while True:
            n += 1
            if step.check:
                status, _, _ = await run_check_once(step.check, ctx)
            elif step.url:
                status = await _get(rendered.url or "", step, n, ctx)
            else:
                status, code, _ = await run_shell(rendered.command or "", rendered.env, None, {},
                                                  ctx)
                ctx.capture.note(f"attempt {n}: exit status {code}")
            if status == "ok":
                return "ok", 0, f"condition met after {n} attempt(s)"
            await asyncio.sleep(float(step.interval))

    def timeout_message(self, step: WaitStep, timeout: float) -> str:
        return f"condition not met within {timeout:g}s"
