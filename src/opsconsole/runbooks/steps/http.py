"""HTTP steps: one request, no redirects followed; OK when the expected status comes back."""

from __future__ import annotations

from opsconsole.runbooks.model import HttpStep
from opsconsole.runbooks.params import Substitution
from opsconsole.runbooks.steps.base import Rendered, StepContext, StepExecutor, StepResult

BODY_LINES = 40  # lines of the response body written to the output


class HttpExecutor(StepExecutor):
    kind = "http"

    def render(self, step: HttpStep, subst: Substitution, *, dry: bool = False) -> Rendered:
        real, shown = subst.url(step.url)
        return Rendered(f"{step.method} {shown} (expect {step.expect_status})", url=real)

    def runs_in_dry_run(self, step: HttpStep) -> bool:
        return step.method in ("GET", "HEAD")  # reads only

    async def execute(self, step: HttpStep, rendered: Rendered, ctx: StepContext) -> StepResult:
        import httpx

        capture = ctx.capture
        # the real values go out (a secret token in a header); only masked text is shown
        headers = {k: ctx.subst.real(v) for k, v in step.headers.items()}
        body = ctx.subst.real(step.body) if step.body else None
        async with httpx.AsyncClient(timeout=float(step.timeout), follow_redirects=False) as client:
            try:
                r = await client.request(step.method, rendered.url or "", headers=headers,
                                         content=body)
            except httpx.HTTPError as exc:
                capture.note(f"{type(exc).__name__}: {exc}")
                return "failed", None, f"{type(exc).__name__}: {exc or 'request failed'}"
        capture.note(f"HTTP {r.status_code} {r.reason_phrase}")
        for line in r.text.splitlines()[:BODY_LINES]:
            capture.note(line)
        if r.status_code == step.expect_status:
            return "ok", r.status_code, ""
        return "failed", r.status_code, f"HTTP {r.status_code}, expected {step.expect_status}"
