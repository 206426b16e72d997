"""Shell steps: ``/bin/sh -c`` in its own process group, without a terminal.

The shell runs in a new session (so no controlling terminal) with stdin from /dev/null, so
nothing can wait for a keypress. Stopping it (timeout, ``x``, Ctrl+C) sends SIGTERM to the
whole process group, then SIGKILL after a grace period: children go too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal

from opsconsole.runbooks.model import ShellStep
from opsconsole.runbooks.output import OutputCapture
from opsconsole.runbooks.params import Substitution
from opsconsole.runbooks.steps.base import Rendered, StepContext, StepExecutor, StepResult

TTY_HINTS = re.compile(
    r"(?i)(not a tty|no tty present|/dev/tty|inappropriate ioctl for device|"
    r"must be run from a terminal|stdin is not a terminal|input device is not a tty|"
    r"not a terminal|a terminal is required|unable to open terminal|"
    r"terminal is not fully functional|cannot open tty|no controlling terminal)"
)
TTY_MESSAGE = (
    "This step seems to need an interactive terminal (TTY). Runbook steps run without one "
    "(stdin is /dev/null, no controlling terminal) so nothing can wait for a keypress. Make "
    "the command non-interactive (sudo -n, ssh -T, apt-get -y, psql -X -c …, PAGER=cat) or "
    "run it yourself in a shell and tick the step as done."
)


# what a step inherits from the console's environment; nothing else (PGPASSWORD, AWS_*,
# SSH_AUTH_SOCK … of the console never reach a step)
AFTER_EXIT_READ = 1.0  # seconds the output is still read once the shell has exited

INHERITED = ("PATH", "HOME", "LANG", "LANGUAGE", "TERM", "USER", "LOGNAME", "TZ")


def step_environment(param_env: dict[str, str], step_env: dict[str, str],
                     ctx: StepContext) -> dict[str, str]:
    """A step's whole environment: the few inherited variables (:data:`INHERITED`, ``LC_*``),
    ``PAGER=cat``, the step's ``env:`` (parameters filled in with their real values) and
    the parameters the command refers to (``OPSCONSOLE_P_*``)."""
    env = {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith("LC_")}
    env.setdefault("PATH", os.defpath)
    env["PAGER"] = "cat"
    env.update({k: ctx.subst.real(v) for k, v in step_env.items()})
    env.update(param_env)
    env["OPSCONSOLE_RUNBOOK"] = ctx.runbook_id
    return env


async def run_shell(command: str, param_env: dict[str, str], cwd: str | None,
                    step_env: dict[str, str], ctx: StepContext) -> StepResult:
    """Run ``command`` to its end, its output into ``ctx.capture``; cancelling this stops
    the command's whole process group."""
    capture = ctx.capture
    env = step_environment(param_env, step_env, ctx)
    # our own pipe, not asyncio's: asyncio's Process.wait() waits for its pipes to close
    # too, so a background child (``npm run dev &``) holding the output would keep the step
    # "running" until its timeout. With our pipe the shell's exit ends the step.
    rfd, wfd = os.pipe()
    spawn = asyncio.ensure_future(asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=wfd,
        stderr=wfd,
        start_new_session=True,
        env=env,
        cwd=os.path.expanduser(cwd) if cwd else None,
    ))
    try:
        proc = await asyncio.shield(spawn)
    except OSError as exc:
        os.close(rfd)
        return "failed", None, f"could not start /bin/sh: {exc}"
    except asyncio.CancelledError:
        # stopped while the shell was starting: it may already run (and have children);
        # let the start finish, then stop its whole process group
        os.close(rfd)
        with contextlib.suppress(Exception):
            await terminate(await spawn, ctx.kill_grace)
        raise
    finally:
        os.close(wfd)  # only the shell (and its children) hold the write end now
    reader = asyncio.ensure_future(_pump_fd(rfd, capture))
    try:
        code = await proc.wait()
    except asyncio.CancelledError:
        await terminate(proc, ctx.kill_grace)
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
        raise
    # the shell is gone; a background child may still hold the pipe: read what is there
    # for a moment, then stop reading. The child keeps running (it was started in the
    # background on purpose, in the step's own session, without a terminal); what it
    # writes later is not captured.
    try:
        await asyncio.wait_for(asyncio.shield(reader), AFTER_EXIT_READ)
    except TimeoutError:
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
        capture.note("[opsconsole] the shell exited; a background process still holds the "
                     "output and keeps running (its later output is not captured)")
    if code == 0:
        return "ok", 0, ""
    if code < 0:
        return "failed", code, f"killed by signal {-code}"
    return "failed", code, f"exit status {code}"


async def _pump_fd(fd: int, capture: OutputCapture) -> None:
    """Read the pipe ``fd`` into ``capture`` until its end (or cancellation); closes it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            capture.feed(chunk)
            await asyncio.sleep(0)  # let the UI breathe during a flood
    finally:
        transport.close()


async def terminate(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the whole process group, then SIGKILL after ``grace`` seconds."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except (TimeoutError, asyncio.CancelledError):
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(proc.wait(), 5.0)


class ShellExecutor(StepExecutor):
    kind = "shell"

    def render(self, step: ShellStep, subst: Substitution, *, dry: bool = False) -> Rendered:
        cmd, env, shown = subst.shell(step.dry_run if dry and step.dry_run else step.run)
        return Rendered("$ " + shown, command=cmd, env=env)

    def runs_in_dry_run(self, step: ShellStep) -> bool:
        return bool(step.dry_run)

    async def execute(self, step: ShellStep, rendered: Rendered, ctx: StepContext) -> StepResult:
        return await run_shell(rendered.command or "", rendered.env, step.cwd, step.env, ctx)

    def failure_hint(self, capture: OutputCapture) -> str | None:
        lines = [*capture.head, *capture.tail]
        return TTY_MESSAGE if any(TTY_HINTS.search(line) for line in lines) else None
