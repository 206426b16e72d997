"""Run health checks: one coroutine per check, every one bounded by its own timeout.

``run_check(spec, config)`` never raises: whatever happens out there (DNS failure, refused
connection, TLS error, hung server, non-UTF-8 or huge body, a command that never exits or
floods its output, a missing plugin) becomes a :class:`CheckResult` with a state and a
one-line message. ``run_checks`` runs many concurrently, so the wall time is the slowest
check, not the sum. Never imports Textual.

What each kind of check does lives in :mod:`opsconsole.checks.probes` (one module per
kind); this module holds what they share: the result type, the states, the outer timeout,
the :class:`Outcome` a probe raises to finish early, :func:`run_blocking` for file-system and
psutil work, and :func:`classify_network_error`.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from opsconsole.checks.perfdata import PerfDatum
from opsconsole.fmt import duration, one_line

if TYPE_CHECKING:
    from opsconsole.checks.spec import CheckSpec
    from opsconsole.config import AppConfig

State = Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]
# Worst first: CRITICAL, UNKNOWN, WARNING, OK (an UNKNOWN check is worse than a warning: we
# cannot tell whether the thing works).
SEVERITY: dict[str, int] = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}
NAGIOS_CODE: dict[str, int] = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
MESSAGE_WIDTH = 200
GRACE = 0.5  # the outer guard: a probe's own timeout should always fire first

T = TypeVar("T")


@dataclass(frozen=True)
class CheckResult:
    """One run of one check."""

    name: str
    state: State
    message: str
    latency: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    kind: str = ""

    @property
    def code(self) -> int:
        return NAGIOS_CODE[self.state]

    @property
    def perfdata(self) -> list[PerfDatum]:
        """The plugin's own performance data (``command`` checks), as parsed."""
        return [PerfDatum.from_json(d) for d in self.details.get("perfdata", ())]

    def to_json(self) -> dict[str, Any]:
        details = {k: v for k, v in self.details.items() if k != "perfdata"}
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "code": self.code,
            "message": self.message,
            "latency": None if self.latency is None else round(self.latency, 6),
            "checked_at": self.checked_at.isoformat(),
            "perfdata": list(self.details.get("perfdata", ())),
            "details": details,
        }


def worst(states: Iterable[str]) -> State:
    """The worst state of many (OK for none)."""
    out: State = "OK"
    for s in states:
        if SEVERITY[s] > SEVERITY[out]:
            out = s  # type: ignore[assignment]
    return out


def exit_code(results: Iterable[CheckResult]) -> int:
    """The Nagios exit code of the worst result: CRITICAL 2 > UNKNOWN 3 > WARNING 1 > OK 0."""
    return NAGIOS_CODE[worst(r.state for r in results)]


class Outcome(Exception):
    """Raised inside a probe to finish with a state and message (``details`` are merged into
    the result's details)."""

    def __init__(self, state: State, message: str, **details: Any) -> None:
        super().__init__(message)
        self.state = state
        self.message = message
        self.details = details


# --------------------------------------------------------------------------- entry points


async def run_check(spec: CheckSpec, config: AppConfig | None = None) -> CheckResult:
    """Run one check once. Never raises (except cancellation); honours ``spec.timeout``."""
    from opsconsole.checks.probes import PROBES  # the probes import this module

    started = time.monotonic()
    checked_at = datetime.now(UTC)
    details: dict[str, Any] = {}
    try:
        async with asyncio.timeout(float(spec.timeout) + GRACE):
            state, message, latency, details = await PROBES[spec.kind](spec, config, details)
    except Outcome as out:
        state, message, latency = out.state, out.message, None
        details = {**details, **out.details}
    except TimeoutError:
        state, message, latency = "CRITICAL", f"timed out after {duration(spec.timeout)}", None
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug or a surprise out there: still a result, never a crash
        state, message, latency = "UNKNOWN", f"check failed: {exc_text(exc)}", None
    elapsed = time.monotonic() - started
    details.setdefault("elapsed", round(elapsed, 6))
    return CheckResult(
        name=spec.name,
        state=state,
        message=one_line(message, MESSAGE_WIDTH) or state,
        latency=latency,
        details=details,
        checked_at=checked_at,
        kind=spec.kind,
    )


async def run_checks(specs: Iterable[CheckSpec], config: AppConfig | None = None) -> list[CheckResult]:
    """Run checks concurrently; results in the order of ``specs``."""
    specs = list(specs)
    return list(await asyncio.gather(*(run_check(s, config) for s in specs)))


# --------------------------------------------------------------------------- state directory

_state_dir: Path | None = None


def use_state_dir(path: str | Path | None) -> None:
    """Remember check state across processes (``opsconsole check`` from cron) in this
    directory: where each log_errors check stopped reading and its recent counts. ``None``
    keeps state in memory only."""
    global _state_dir
    _state_dir = None if path is None else Path(path)


def state_dir() -> Path | None:
    """The directory set by :func:`use_state_dir`, if any."""
    return _state_dir


# --------------------------------------------------------------------------- helpers for probes


def exc_text(exc: BaseException) -> str:
    """``Type: first line of the message`` (or just the type)."""
    text = str(exc).strip()
    text = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                stack.append(nxt)
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        # asyncio's "Multiple exceptions" OSError (several addresses for one host) keeps
        # no references; its text is all we have.
    return out


_INFLIGHT: dict[str, tuple[float, asyncio.Future[Any]]] = {}


async def run_blocking(spec: Any, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking file-system / psutil work in a daemon thread of its own.

    A stat() on a hung NFS mount never returns and cannot be interrupted: the check times
    out, and while that thread is still stuck the check does not start another one (so
    stuck threads stay bounded, one per check), and a daemon thread never holds up the exit
    of ``opsconsole check``.
    """
    prev = _INFLIGHT.get(spec.name)
    if prev is not None and not prev[1].done():
        stuck = time.monotonic() - prev[0]
        raise Outcome("CRITICAL", f"still hung: the run started {duration(stuck)} ago has "
                                  "not returned (hung filesystem?)")
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def work() -> None:
        try:
            value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            ok, value = False, exc
        else:
            ok = True
        try:
            loop.call_soon_threadsafe(deliver, ok, value)
        except RuntimeError:  # the loop is gone (a one-shot run ended)
            pass

    _INFLIGHT[spec.name] = (time.monotonic(), fut)
    threading.Thread(target=work, name=f"check-{spec.name}", daemon=True).start()
    return await asyncio.shield(fut)


def classify_network_error(exc: BaseException, host: str = "", port: int | None = None) -> str:
    """A short, operator-friendly reason for a failed connection."""
    target = f"{host}:{port}" if host and port else host
    text_all = " | ".join(str(e) for e in _chain(exc))
    for e in _chain(exc):
        if isinstance(e, socket.gaierror):
            return f"DNS lookup failed for {host or 'host'}: {e.strerror or e}"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate rejected: {e.verify_message or e.reason or e}"
        if isinstance(e, ssl.SSLError):
            return f"TLS error: {e.reason or e}"
        if isinstance(e, ConnectionRefusedError) or (
                isinstance(e, OSError) and e.errno == errno.ECONNREFUSED):
            return f"connection refused by {target}"
        if isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return f"{target} unreachable: {e.strerror}"
        if isinstance(e, ConnectionResetError):
            return f"connection reset by {target}"
    low = text_all.lower()
    if "connect call failed" in low or "connection refused" in low:
        return f"connection refused by {target}"
    if "name or service not known" in low or "nodename nor servname" in low or \
            "temporary failure in name resolution" in low or "no address associated" in low:
        return f"DNS lookup failed for {host or 'host'}"
    if "certificate verify failed" in low:
        return "TLS certificate rejected: " + one_line(text_all, 120)
    if "ssl" in low or "tls" in low:
        return "TLS error: " + one_line(text_all, 120)
    return exc_text(exc)


def latency_state(latency: float, spec: Any) -> tuple[State, str]:
    """WARNING / CRITICAL when ``latency`` reaches the spec's ``warn_latency`` /
    ``crit_latency`` (either may be absent), with the reason; else ("OK", "")."""
    crit = getattr(spec, "crit_latency", None)
    warn = getattr(spec, "warn_latency", None)
    if crit is not None and latency >= crit:
        return "CRITICAL", f"slow: {duration(latency)} (critical at {duration(crit)})"
    if warn is not None and latency >= warn:
        return "WARNING", f"slow: {duration(latency)} (warning at {duration(warn)})"
    return "OK", ""


__all__ = [
    "GRACE", "NAGIOS_CODE", "SEVERITY", "CheckResult", "Outcome", "State",
    "classify_network_error", "exc_text", "exit_code", "latency_state", "run_blocking",
    "run_check", "run_checks", "state_dir", "use_state_dir", "worst",
]
