"""``command`` checks: run a Nagios-style plugin and map its exit code to a state.

The plugin runs in its own process group (killed as a whole on timeout), its output is
kept up to ``max_output``, tokens in it are masked, and its first line (before a ``|``,
where Nagios perfdata starts) is the message.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import time
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import Outcome, State
from opsconsole.checks.spec import CommandCheck
from opsconsole.fmt import duration, one_line
from opsconsole.secrets import mask_tokens

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def probe(spec: CommandCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    argv = ["/bin/sh", "-c", spec.command] if spec.shell else shlex.split(spec.command)
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
    except FileNotFoundError:
        raise Outcome("UNKNOWN", f"command not found: {argv[0]}") from None
    except PermissionError:
        raise Outcome("UNKNOWN", f"command not executable: {argv[0]}") from None
    except OSError as exc:
        raise Outcome("UNKNOWN", f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    cap = int(spec.max_output)
    kept = bytearray()
    total = 0

    async def drain() -> None:
        nonlocal total
        assert proc.stdout is not None
        while True:
            chunk = await proc.stdout.read(65536)
            if not chunk:
                return
            total += len(chunk)
            if len(kept) < cap:
                kept.extend(chunk[: cap - len(kept)])

    reader = asyncio.ensure_future(drain())
    timed_out = False
    try:
        async with asyncio.timeout(float(spec.timeout)):
            await proc.wait()
    except TimeoutError:
        timed_out = True
    except asyncio.CancelledError:
        _kill_group(proc)
        reader.cancel()
        raise
    if timed_out:
        _kill_group(proc)
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            pass
    # A plugin's forked children may keep the pipe open: take what is there, don't wait.
    try:
        await asyncio.wait_for(asyncio.shield(reader), 0.2)
    except TimeoutError:
        reader.cancel()
    latency = time.monotonic() - started
    output = bytes(kept).decode("utf-8", errors="replace")
    output = mask_tokens(output)
    details.update(exit_code=proc.returncode, output=output, output_bytes=total,
                   output_truncated=total > cap, pid=proc.pid)
    first = ""
    for line in output.splitlines():
        if line.strip():
            first = line.split("|", 1)[0].strip()  # Nagios perfdata follows a '|'
            break
    if timed_out:
        tail = f" · last output: {one_line(first, 80)}" if first else ""
        return ("CRITICAL", f"killed after {duration(spec.timeout)} timeout (process group "
                f"{proc.pid}){tail}", latency, details)
    rc = proc.returncode
    if rc is not None and rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = str(-rc)
        return "UNKNOWN", f"killed by {sig}" + (f": {first}" if first else ""), latency, details
    state: State = {0: "OK", 1: "WARNING", 2: "CRITICAL"}.get(rc or 0, "UNKNOWN")  # type: ignore[assignment]
    if rc not in (0, 1, 2):
        state = "UNKNOWN"
    msg = first or f"exit {rc} (no output)"
    if rc not in (0, 1, 2, 3):
        msg = f"exit {rc}: {msg}" if first else msg
    return state, msg, latency, details
