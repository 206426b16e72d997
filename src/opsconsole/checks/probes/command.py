"""``command`` checks: run a Nagios-style plugin and map its exit code to a state.

The plugin runs in a session of its own. Its output goes to a pipe this probe owns, so
waiting for the plugin never waits on a background grandchild that still holds the pipe,
and the pipe is always closed before the run ends (no transport left for the garbage
collector after the loop is gone). At the timeout every process of the run is killed: the
plugin's descendants (even one that called ``setsid`` to leave the session), every process
of its session, and its process group. After a normal exit, what is left in its session is
killed too, so a check leaves nothing running.

Output is kept up to ``max_output``, tokens in it are masked; it is split the Nagios way
(:mod:`opsconsole.checks.perfdata`): the first line before its ``|`` is the message, the
perfdata is parsed into ``details["perfdata"]``.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import Outcome, State
from opsconsole.checks.perfdata import parse_perfdata, split_output
from opsconsole.checks.spec import CommandCheck
from opsconsole.fmt import duration, one_line
from opsconsole.secrets import mask_tokens

if TYPE_CHECKING:
    import psutil

    from opsconsole.config import AppConfig

SWEEP_TIMEOUT = 0.3  # bound on finding and killing what is left; within the engine's grace


def _descendants_and_session(pid: int, alive: bool) -> list[psutil.Process]:
    """The processes a run left: descendants of ``pid`` while it is alive (not reaped, so
    the pid is still the plugin's) and every process whose session is ``pid``'s (the plugin
    leads its session; a session id is not reused while a member lives).

    After a plain exit (not ``alive``), the session is looked for in ``/proc`` first: a
    plugin that left nothing (the usual case) costs no import of psutil and no walk of its
    process table (``opsconsole check`` with one command check: ~25 ms of its run)."""
    if not alive and not _session_left(pid):
        return []
    import psutil

    found: dict[int, psutil.Process] = {}
    if alive:
        try:
            for p in psutil.Process(pid).children(recursive=True):
                found[p.pid] = p
        except psutil.Error:
            pass
    for p in psutil.process_iter():
        if p.pid in found or p.pid == pid:
            continue
        try:
            if os.getsid(p.pid) == pid:
                found[p.pid] = p
        except OSError:
            continue
    return list(found.values())


def _session_left(sid: int) -> bool:
    """Whether a process other than ``sid`` itself is in session ``sid``, by the pids in
    ``/proc`` and ``os.getsid`` (what :func:`_descendants_and_session` asks of each process
    psutil lists); True when there is no ``/proc`` to read, so that psutil is asked."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return True
    for name in names:
        if not name.isdigit() or int(name) == sid:
            continue
        try:
            if os.getsid(int(name)) == sid:
                return True
        except OSError:
            continue
    return False


def _kill(procs: list[psutil.Process]) -> int:
    if not procs:
        return 0
    import psutil

    killed = 0
    for p in procs:
        try:
            p.kill()  # psutil checks the pid was not reused since it was found
            killed += 1
        except psutil.Error:
            pass
    return killed


def sweep(pid: int, alive: bool) -> int:
    """Kill what run ``pid`` left; ``alive``: the plugin itself has not been reaped, so its
    process group id is still its own and may be signalled. Returns how many were killed
    besides the group."""
    left = _descendants_and_session(pid, alive)  # found first: killing reparents them
    if alive:  # the group first, so the shell does not live to report its children's end
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return _kill(left)


class _Capture(asyncio.Protocol):
    """Reads the plugin's output pipe: keeps ``cap`` bytes, counts all of them."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.total = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.total += len(data)
        if len(self.kept) < self.cap:
            self.kept.extend(data[: self.cap - len(self.kept)])

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _start(argv: list[str], cap: int) -> tuple[asyncio.subprocess.Process, asyncio.BaseTransport,
                                           _Capture]:
    loop = asyncio.get_running_loop()
    r, w = os.pipe()
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=w, stderr=w,
                start_new_session=True,
            )
        finally:
            os.close(w)
    except BaseException:
        os.close(r)
        raise
    capture = _Capture(cap)
    try:
        transport, _ = await loop.connect_read_pipe(lambda: capture, os.fdopen(r, "rb", 0))
    except BaseException:
        os.close(r)
        sweep(proc.pid, True)
        raise
    return proc, transport, capture


async def probe(spec: CommandCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    argv = ["/bin/sh", "-c", spec.command] if spec.shell else shlex.split(spec.command)
    started = time.monotonic()
    try:
        proc, transport, capture = await _start(argv, int(spec.max_output))
    except FileNotFoundError:
        raise Outcome("UNKNOWN", f"command not found: {argv[0]}") from None
    except PermissionError:
        raise Outcome("UNKNOWN", f"command not executable: {argv[0]}") from None
    except OSError as exc:
        raise Outcome("UNKNOWN", f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    timed_out = False
    killed = 0
    try:
        try:
            async with asyncio.timeout(float(spec.timeout)):
                await proc.wait()
        except TimeoutError:
            timed_out = True
        try:
            async with asyncio.timeout(SWEEP_TIMEOUT):
                killed = await asyncio.to_thread(sweep, proc.pid, timed_out)
                if timed_out:
                    await proc.wait()
                # the pipe closes once nobody holds it: take what is there, don't wait long
                await asyncio.shield(capture.closed)
        except TimeoutError:
            pass
    except asyncio.CancelledError:
        # cancelled (the console closing, the engine's outer guard): kill without waiting
        threading.Thread(target=sweep, args=(proc.pid, proc.returncode is None),
                         name=f"sweep-{spec.name}", daemon=True).start()
        raise
    finally:
        transport.close()
    latency = time.monotonic() - started
    output = mask_tokens(bytes(capture.kept).decode("utf-8", errors="replace"))
    parts = split_output(output)
    perf, skipped = parse_perfdata(parts.perfdata)
    details.update(exit_code=proc.returncode, output=output, output_bytes=capture.total,
                   output_truncated=capture.total > capture.cap, pid=proc.pid,
                   long_output_lines=len(parts.long_output))
    if perf:
        details["perfdata"] = [p.to_json() for p in perf]
    if skipped:
        details["perfdata_skipped"] = skipped
    if killed:
        details["killed_leftovers"] = killed
    first = parts.text
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
