"""Run health checks: one coroutine per check, every one bounded by its own timeout.

``run_check(spec, config)`` never raises: whatever happens out there (DNS failure, refused
connection, TLS error, hung server, non-UTF-8 or huge body, a command that never exits or
floods its output, a missing plugin) becomes a :class:`CheckResult` with a state and a
one-line message. ``run_checks`` runs many concurrently, so the wall time is the slowest
check, not the sum. Never imports Textual.
"""

from __future__ import annotations

import asyncio
import errno
import glob
import json
import os
import re
import shlex
import signal
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from opsconsole.checks.spec import (
    CheckSpec,
    CommandCheck,
    DiskCheck,
    FileAgeCheck,
    HttpCheck,
    LogErrorsCheck,
    PostgresCheck,
    ProcessCheck,
    TcpCheck,
    split_address,
    status_matcher,
)
from opsconsole.fmt import duration, human_bytes, one_line
from opsconsole.secrets import mask_tokens, safe_dsn

if TYPE_CHECKING:
    from opsconsole.config import AppConfig

State = Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]
STATES: tuple[State, ...] = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
# Worst first: CRITICAL, UNKNOWN, WARNING, OK (an UNKNOWN check is worse than a warning: we
# cannot tell whether the thing works).
SEVERITY: dict[str, int] = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}
NAGIOS_CODE: dict[str, int] = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
MESSAGE_WIDTH = 200
GRACE = 0.5  # the outer guard: a probe's own timeout should always fire first


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

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "code": self.code,
            "message": self.message,
            "latency": None if self.latency is None else round(self.latency, 6),
            "checked_at": self.checked_at.isoformat(),
            "details": self.details,
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


class _Outcome(Exception):
    """Raised inside a probe to finish with a state and message."""

    def __init__(self, state: State, message: str, **details: Any):
        super().__init__(message)
        self.state = state
        self.message = message
        self.details = details


# --------------------------------------------------------------------------- entry points


async def run_check(spec: CheckSpec, config: AppConfig | None = None) -> CheckResult:
    """Run one check once. Never raises (except cancellation); honours ``spec.timeout``."""
    started = time.monotonic()
    checked_at = datetime.now(UTC)
    details: dict[str, Any] = {}
    try:
        async with asyncio.timeout(float(spec.timeout) + GRACE):
            state, message, latency, details = await _PROBES[spec.kind](spec, config, details)
    except _Outcome as out:
        state, message, latency = out.state, out.message, None
        details = {**details, **out.details}
    except TimeoutError:
        state, message, latency = "CRITICAL", f"timed out after {duration(spec.timeout)}", None
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug or a surprise out there: still a result, never a crash
        state, message, latency = "UNKNOWN", f"check failed: {_exc_text(exc)}", None
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


# --------------------------------------------------------------------------- helpers


def _exc_text(exc: BaseException) -> str:
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


async def _blocking(spec: Any, fn: Any, *args: Any) -> Any:
    """Run blocking file-system / psutil work in a daemon thread of its own.

    A stat() on a hung NFS mount never returns and cannot be interrupted: the check times
    out, and while that thread is still stuck the check does not start another one (so
    stuck threads stay bounded, one per check), and a daemon thread never holds up the exit
    of ``opsconsole check``.
    """
    prev = _INFLIGHT.get(spec.name)
    if prev is not None and not prev[1].done():
        stuck = time.monotonic() - prev[0]
        raise _Outcome("CRITICAL", f"still hung: the run started {duration(stuck)} ago has "
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
    return _exc_text(exc)


def _latency_state(latency: float, spec: Any) -> tuple[State, str]:
    crit = getattr(spec, "crit_latency", None)
    warn = getattr(spec, "warn_latency", None)
    if crit is not None and latency >= crit:
        return "CRITICAL", f"slow: {duration(latency)} (critical at {duration(crit)})"
    if warn is not None and latency >= warn:
        return "WARNING", f"slow: {duration(latency)} (warning at {duration(warn)})"
    return "OK", ""


# --------------------------------------------------------------------------- http

_SSL_CONTEXTS: dict[tuple[bool, str | None], ssl.SSLContext] = {}


def _ssl_context(verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    """One shared context per mode (building one costs ~10 ms of CPU; 200 checks add up)."""
    cafile = os.path.expanduser(ca_file) if ca_file else os.environ.get("SSL_CERT_FILE") or None
    key = (verify, cafile)
    ctx = _SSL_CONTEXTS.get(key)
    if ctx is None:
        if verify:
            ctx = ssl.create_default_context(cafile=cafile)
            if cafile is None:
                try:
                    import certifi

                    ctx.load_verify_locations(certifi.where())
                except Exception:  # noqa: S110 - the system store is enough
                    pass
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        _SSL_CONTEXTS[key] = ctx
    return ctx


def _cert_not_after(ssl_object: Any) -> datetime | None:
    if ssl_object is None:
        return None
    try:
        cert = ssl_object.getpeercert()
    except Exception:
        cert = None
    if cert and cert.get("notAfter"):
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), UTC)
    try:  # not verified: the parsed form is empty; decode the DER if cryptography is there
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            return None
        from cryptography import x509

        return x509.load_der_x509_certificate(der).not_valid_after_utc
    except Exception:
        return None


async def _probe_http(spec: HttpCheck, config: AppConfig | None,
                      details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    import httpx

    url = spec.url
    host = httpx.URL(url).host
    phase = "connecting"
    try:
        ctx = _ssl_context(spec.verify_tls, spec.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise _Outcome("UNKNOWN", f"cannot load ca_file {spec.ca_file}: {exc}") from None
    timeout = float(spec.timeout)
    started = time.monotonic()
    body = b""
    truncated = False
    not_after: datetime | None = None
    try:
        async with asyncio.timeout(timeout):
            async with httpx.AsyncClient(
                verify=ctx, timeout=httpx.Timeout(timeout), follow_redirects=spec.follow_redirects,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
                trust_env=False,
            ) as client:
                def trace(event: str, info: dict[str, Any]) -> None:
                    nonlocal phase
                    if event.startswith("connection.start_tls"):
                        phase = "TLS handshake"
                    elif event.startswith(("http11.send_request", "http2.send_request")):
                        phase = "sending the request"
                    elif event.startswith(("http11.receive_response_headers",
                                           "http2.receive_response_headers")):
                        phase = "waiting for the response"

                req = client.build_request(spec.method, url, headers=dict(spec.headers),
                                           extensions={"trace": _sync_to_async(trace)})
                resp = await client.send(req, stream=True)
                try:
                    phase = "reading the body"
                    latency = time.monotonic() - started  # time to the response headers
                    stream = resp.extensions.get("network_stream")
                    if url.startswith("https") and stream is not None:
                        not_after = _cert_not_after(stream.get_extra_info("ssl_object"))
                    if spec.method != "HEAD":
                        chunks: list[bytes] = []
                        size = 0
                        async for chunk in resp.aiter_raw():
                            chunks.append(chunk)
                            size += len(chunk)
                            if size >= spec.max_body:
                                truncated = True
                                break
                        body = b"".join(chunks)[: spec.max_body]
                finally:
                    await resp.aclose()
    except TimeoutError:
        raise _Outcome("CRITICAL", f"timed out after {duration(timeout)} ({phase})",
                       phase=phase) from None
    except httpx.TimeoutException:
        raise _Outcome("CRITICAL", f"timed out after {duration(timeout)} ({phase})",
                       phase=phase) from None
    except httpx.TooManyRedirects:
        raise _Outcome("CRITICAL", "too many redirects") from None
    except (httpx.TransportError, OSError, ssl.SSLError) as exc:
        if isinstance(exc, httpx.RemoteProtocolError):
            reason = f"bad HTTP response: {one_line(str(exc), 120)}"
        else:
            reason = classify_network_error(exc, host or "", httpx.URL(url).port)
        raise _Outcome("CRITICAL", reason, phase=phase) from None
    status = resp.status_code
    details.update(status=status, body_bytes=len(body), body_truncated=truncated,
                   http_version=resp.http_version)
    text = body.decode("utf-8", errors="replace")
    if body and b"\xef\xbf\xbd" not in body and "\ufffd" in text:
        details["body_not_utf8"] = True
    problems: list[tuple[State, str]] = []
    ranges = status_matcher(spec.expect_status)
    if not any(lo <= status <= hi for lo, hi in ranges):
        reason = f" {resp.reason_phrase}" if resp.reason_phrase else ""
        problems.append(("CRITICAL", f"HTTP {status}{reason} (expected {spec.expect_status})"))
    if spec.body_contains is not None and spec.body_contains not in text:
        cut = " in the first " + human_bytes(spec.max_body) if truncated else ""
        problems.append(("CRITICAL", f"body does not contain {spec.body_contains!r}{cut}"))
    if spec.body_regex and not re.search(spec.body_regex, text):
        problems.append(("CRITICAL", f"body does not match /{spec.body_regex}/"))
    if not_after is not None:
        days = (not_after - datetime.now(UTC)).total_seconds() / 86400
        details["cert_not_after"] = not_after.isoformat()
        details["cert_days_left"] = round(days, 1)
        if days <= spec.cert_crit_days:
            problems.append(("CRITICAL", f"TLS certificate expires in {days:.0f} days"))
        elif days <= spec.cert_warn_days:
            problems.append(("WARNING", f"TLS certificate expires in {days:.0f} days"))
    lat_state, lat_msg = _latency_state(latency, spec)
    if lat_state != "OK":
        problems.append((lat_state, lat_msg))
    if problems:
        state = worst(s for s, _ in problems)
        msgs = [m for s, m in problems if s == state] + [m for s, m in problems if s != state]
        return state, "; ".join(msgs), latency, details
    msg = f"HTTP {status} in {duration(latency)}"
    if "cert_days_left" in details:
        msg += f", certificate valid {details['cert_days_left']:.0f} more days"
    return "OK", msg, latency, details


def _sync_to_async(fn: Any) -> Any:
    async def wrapper(event: str, info: dict[str, Any]) -> None:
        fn(event, info)

    return wrapper


# --------------------------------------------------------------------------- tcp


async def _probe_tcp(spec: TcpCheck, config: AppConfig | None,
                     details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    host, port = split_address(spec.address)
    started = time.monotonic()
    writer = None
    try:
        async with asyncio.timeout(float(spec.timeout)):
            _reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise _Outcome("CRITICAL", f"timed out after {duration(spec.timeout)} connecting to "
                                   f"{spec.address}") from None
    except OSError as exc:
        raise _Outcome("CRITICAL", classify_network_error(exc, host, port)) from None
    finally:
        if writer is not None:
            writer.close()
    latency = time.monotonic() - started
    state, msg = _latency_state(latency, spec)
    return state, msg or f"connected to {spec.address} in {duration(latency)}", latency, details


# --------------------------------------------------------------------------- postgres


async def _probe_postgres(spec: PostgresCheck, config: AppConfig | None,
                          details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    import asyncpg

    target = None
    for db in getattr(config, "databases", None) or []:
        if db.name == spec.database:
            target = db
            break
    if target is None:
        raise _Outcome("UNKNOWN", f"no database target named {spec.database!r} in databases:")
    details["dsn"] = safe_dsn(target.dsn)
    timeout = float(spec.timeout)
    started = time.monotonic()
    conn = None
    phase = "connecting"
    try:
        async with asyncio.timeout(timeout):
            conn = await asyncpg.connect(
                target.dsn or None, timeout=timeout,
                server_settings={"application_name": "opsconsole"},
            )
            phase = "running SELECT 1"
            value = await conn.fetchval("SELECT 1")
            if value != 1:
                raise _Outcome("CRITICAL", f"SELECT 1 returned {value!r}")
    except _Outcome:
        raise
    except TimeoutError:
        raise _Outcome("CRITICAL", f"timed out after {duration(timeout)} ({phase})") from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise _Outcome("CRITICAL", f"authentication failed: {one_line(str(exc), 120)}") from None
    except asyncpg.PostgresError as exc:
        code = getattr(exc, "sqlstate", "") or ""
        raise _Outcome("CRITICAL", f"PostgreSQL error {code}: {one_line(str(exc), 120)}".replace(
            "error : ", "error: ")) from None
    except (OSError, asyncpg.InterfaceError, ConnectionError) as exc:
        host = ""
        try:
            from urllib.parse import urlsplit

            host = urlsplit(target.dsn).hostname or ""
        except ValueError:
            pass
        raise _Outcome("CRITICAL", classify_network_error(exc, host)) from None
    finally:
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 1.0)
            except Exception:
                conn.terminate()
    latency = time.monotonic() - started
    state, msg = _latency_state(latency, spec)
    return state, msg or f"SELECT 1 in {duration(latency)}", latency, details


# --------------------------------------------------------------------------- process

_PROCS: dict[int, Any] = {}  # pid -> psutil.Process, so cpu_percent has a previous sample


def _scan_processes(spec: ProcessCheck) -> list[dict[str, Any]]:
    import psutil

    pat = re.compile(spec.pattern)
    attrs = ["pid", "name"] + (["cmdline"] if spec.match == "cmdline" else [])
    me = os.getpid()
    found = []
    for p in psutil.process_iter(attrs):
        info = p.info
        if info["pid"] == me:
            continue
        if spec.match == "cmdline":
            hay = " ".join(info.get("cmdline") or []) or (info.get("name") or "")
        else:
            hay = info.get("name") or ""
        if not pat.search(hay):
            continue
        proc = _PROCS.get(p.pid)
        seen_before = proc is not None and proc.is_running()
        if not seen_before:
            proc = p
            _PROCS[p.pid] = p
        try:
            with proc.oneshot():
                cpu: float | None = proc.cpu_percent(None)
                rss = proc.memory_info().rss
                mem = proc.memory_percent()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if not seen_before:
            cpu = None  # the first sample has nothing to compare with: unknown, not 0%
        found.append({"pid": p.pid, "name": info.get("name") or "",
                      "cpu": None if cpu is None else round(cpu, 1),
                      "rss": rss, "mem": round(mem, 1)})
    alive = {f["pid"] for f in found}
    for pid in [pid for pid in _PROCS if pid not in alive]:
        if not _PROCS[pid].is_running():
            del _PROCS[pid]
    return sorted(found, key=lambda f: f["pid"])


async def _probe_process(spec: ProcessCheck, config: AppConfig | None,
                         details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    found = await _blocking(spec, _scan_processes, spec)
    details["processes"] = found
    n = len(found)
    pids = ", ".join(str(f["pid"]) for f in found[:8]) + (" …" if n > 8 else "")
    cpus = [f["cpu"] for f in found if f["cpu"] is not None]
    cpu = f"cpu {sum(cpus):.1f}%" if len(cpus) == len(found) else "cpu n/a (first sample)"
    rss = sum(f["rss"] for f in found)
    what = f"{n} process{'es' if n != 1 else ''}"
    if n < spec.min_count:
        return ("CRITICAL", f"{what} matching {spec.pattern!r} (expected at least "
                f"{spec.min_count})" + (f": pids {pids}" if n else ""), None, details)
    if spec.max_count is not None and n > spec.max_count:
        return ("WARNING", f"{what} matching {spec.pattern!r} (expected at most "
                f"{spec.max_count}): pids {pids}", None, details)
    if n == 0:
        return "OK", f"no process matches {spec.pattern!r} (as expected)", None, details
    return "OK", f"{what}: pids {pids} · {cpu} · rss {human_bytes(rss)}", None, details


# --------------------------------------------------------------------------- command


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _probe_command(spec: CommandCheck, config: AppConfig | None,
                         details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    argv = ["/bin/sh", "-c", spec.command] if spec.shell else shlex.split(spec.command)
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
    except FileNotFoundError:
        raise _Outcome("UNKNOWN", f"command not found: {argv[0]}") from None
    except PermissionError:
        raise _Outcome("UNKNOWN", f"command not executable: {argv[0]}") from None
    except OSError as exc:
        raise _Outcome("UNKNOWN", f"cannot run {argv[0]}: {exc.strerror or exc}") from None
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


# --------------------------------------------------------------------------- disk


async def _probe_disk(spec: DiskCheck, config: AppConfig | None,
                      details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    path = os.path.expanduser(spec.path)
    try:
        st = await _blocking(spec, os.statvfs, path)
    except FileNotFoundError:
        raise _Outcome("UNKNOWN", f"{spec.path} does not exist") from None
    except OSError as exc:
        raise _Outcome("UNKNOWN", f"cannot stat {spec.path}: {exc.strerror or exc}") from None
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    pct = free * 100.0 / total if total else 0.0
    details.update(free=free, total=total, free_percent=round(pct, 2))
    msg = f"{spec.path}: {human_bytes(free)} free of {human_bytes(total)} ({pct:.1f}%)"
    if spec.crit_free.breached(free, total):
        return "CRITICAL", f"{msg}, below {spec.crit_free}", None, details
    if spec.warn_free.breached(free, total):
        return "WARNING", f"{msg}, below {spec.warn_free}", None, details
    return "OK", msg, None, details


# --------------------------------------------------------------------------- file_age


def _newest(pattern: str) -> tuple[str, float, int] | None:
    best: tuple[str, float, int] | None = None
    for p in glob.iglob(os.path.expanduser(pattern), recursive=True):
        try:
            st = os.stat(p)
        except OSError:
            continue
        if not os.path.isfile(p):
            continue
        if best is None or st.st_mtime > best[1]:
            best = (p, st.st_mtime, st.st_size)
    return best


async def _probe_file_age(spec: FileAgeCheck, config: AppConfig | None,
                          details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    newest = await _blocking(spec, _newest, spec.path)
    if newest is None:
        return "CRITICAL", f"no file matches {spec.path}", None, details
    path, mtime, size = newest
    age = max(time.time() - mtime, 0.0)
    details.update(path=path, age=round(age, 3), size=size,
                   mtime=datetime.fromtimestamp(mtime, UTC).isoformat())
    name = os.path.basename(path)
    if age > spec.max_age:
        return ("CRITICAL", f"newest {name} is {duration(age)} old (limit {duration(spec.max_age)})",
                None, details)
    if spec.min_size is not None and size < spec.min_size:
        return ("CRITICAL", f"newest {name} is {human_bytes(size)} (expected at least "
                f"{human_bytes(spec.min_size)})", None, details)
    if spec.warn_age is not None and age > spec.warn_age:
        return ("WARNING", f"newest {name} is {duration(age)} old (warning at "
                f"{duration(spec.warn_age)})", None, details)
    return "OK", f"newest {name} is {duration(age)} old, {human_bytes(size)}", None, details


# --------------------------------------------------------------------------- log_errors

MAX_LOG_READ = 16 * 1024 * 1024  # per run; a bigger backlog is read over the next runs


class LogFollower:
    """``tail -F`` for one log: keeps the file open, reads what was appended since the last
    run, and follows rotation (a new inode at the path: the rest of the old file is read,
    then the new one from its start) and truncation (size below our offset: start over).

    Matches are counted per run with the run's time; the count is over ``window``.
    """

    def __init__(self, path: str, pattern: str) -> None:
        self.path = os.path.expanduser(path)
        self.regex = re.compile(pattern)
        self.fh: Any = None
        self.inode: tuple[int, int] | None = None
        self.partial = b""
        self.buckets: list[tuple[float, int]] = []
        self.last_match = ""
        self.started = time.time()
        self.rotations = 0
        self.truncations = 0

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def _open(self, at_end: bool) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open on purpose (follow)
        except FileNotFoundError:
            return False
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            fh.close()
            raise IsADirectoryError(f"{self.path} is not a regular file")
        self.close()
        self.fh = fh
        self.inode = (st.st_dev, st.st_ino)
        if at_end:
            fh.seek(0, os.SEEK_END)
        self.partial = b""
        return True

    def _read(self, budget: int) -> tuple[int, int]:
        """Read appended complete lines; return (lines, matches)."""
        assert self.fh is not None
        data = self.fh.read(budget)
        if not data:
            return 0, 0
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        if len(self.partial) > 65536:  # a line without end: count what we have
            lines.append(self.partial)
            self.partial = b""
        n = 0
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            if self.regex.search(line):
                n += 1
                self.last_match = line
        return len(lines), n

    def poll(self, now: float, first_run_from_start: bool = False) -> tuple[int, int]:
        """Read everything new; returns (lines read, matches) for this run."""
        if self.fh is None:
            if not self._open(at_end=not first_run_from_start):
                raise FileNotFoundError(self.path)
            if not first_run_from_start:
                return 0, 0
        lines = matches = 0
        budget = MAX_LOG_READ
        try:
            st = os.stat(self.path)
            cur: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            cur = None
        size_fd = os.fstat(self.fh.fileno()).st_size
        if cur == self.inode and size_fd < self.fh.tell():
            self.truncations += 1
            self.fh.seek(0)
            self.partial = b""
        # whatever is left in the file we hold (possibly rotated away)
        a, b = self._read(budget)
        lines, matches = lines + a, matches + b
        if cur is not None and cur != self.inode:
            if self.partial:
                if self.regex.search(self.partial.decode("utf-8", errors="replace")):
                    matches += 1
                self.partial = b""
            self.rotations += 1
            if self._open(at_end=False):
                a, b = self._read(budget)
                lines, matches = lines + a, matches + b
        return lines, matches

    def count(self, now: float, window: float) -> int:
        self.buckets = [(t, n) for t, n in self.buckets if t >= now - window]
        return sum(n for _, n in self.buckets)


_FOLLOWERS: dict[tuple[str, str, str], LogFollower] = {}
_STATE_LOCK = threading.Lock()
_state_file: Path | None = None


def use_state_dir(path: str | Path | None) -> None:
    """Remember log positions across processes (``opsconsole check`` from cron): where each
    log_errors check stopped reading and its recent counts are kept in this directory."""
    global _state_file
    _state_file = None if path is None else Path(path) / "log_errors.json"


def _load_state() -> dict[str, Any]:
    if _state_file is None:
        return {}
    try:
        data = json.loads(_state_file.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_state(key: str, entry: dict[str, Any]) -> None:
    if _state_file is None:
        return
    with _STATE_LOCK:
        data = _load_state()
        data[key] = entry
        _state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = _state_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, _state_file)


def _find_rotated(path: str, inode: tuple[int, int]) -> str | None:
    """The file a log was rotated to (app.log.1, app.log-20261124...), by inode."""
    for cand in glob.glob(glob.escape(path) + ".*") + glob.glob(glob.escape(path) + "-*"):
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == inode:
            return cand
    return None


def _resume(fol: LogFollower, entry: dict[str, Any]) -> tuple[int, int]:
    """Continue from a saved position; returns (lines, matches) read from a rotated file."""
    fol.started = float(entry.get("started", fol.started))
    fol.buckets = [(float(t), int(n)) for t, n in entry.get("buckets", [])]
    fol.last_match = str(entry.get("last_match", ""))
    fol.rotations = int(entry.get("rotations", 0))
    fol.truncations = int(entry.get("truncations", 0))
    inode = (int(entry["dev"]), int(entry["ino"]))
    offset = int(entry["offset"])
    lines = matches = 0
    try:
        st = os.stat(fol.path)
        cur: tuple[int, int] | None = (st.st_dev, st.st_ino)
    except FileNotFoundError:
        cur = None
    if cur != inode:
        old = _find_rotated(fol.path, inode)
        if old is not None:  # read the rest of the rotated file first
            with open(old, "rb") as fh:
                fh.seek(offset)
                fol.fh = fh
                lines, matches = fol._read(MAX_LOG_READ)
                if fol.partial and fol.regex.search(fol.partial.decode("utf-8", "replace")):
                    matches += 1
                fol.fh = None
        fol.rotations += 1
        if not fol._open(at_end=False):
            raise FileNotFoundError(fol.path)
        return lines, matches
    if not fol._open(at_end=False):
        raise FileNotFoundError(fol.path)
    if os.fstat(fol.fh.fileno()).st_size < offset:
        fol.truncations += 1
    else:
        fol.fh.seek(offset)
    return 0, 0


def _poll_log(spec: LogErrorsCheck) -> tuple[LogFollower, int, int, int, bool]:
    key = (spec.name, spec.path, spec.pattern)
    skey = "\x00".join(key)
    fol = _FOLLOWERS.get(key)
    first = fol is None
    now = time.time()
    pre_lines = pre_matches = 0
    if fol is None:
        fol = LogFollower(spec.path, spec.pattern)
        entry = _load_state().get(skey)
        if entry:
            try:
                pre_lines, pre_matches = _resume(fol, entry)
                first = False
            except (KeyError, ValueError, TypeError):
                fol.close()
                fol = LogFollower(spec.path, spec.pattern)
    # a first run starts at the end: we cannot date the lines already there
    lines, matches = fol.poll(now)
    lines, matches = lines + pre_lines, matches + pre_matches
    _FOLLOWERS[key] = fol
    if matches:
        fol.buckets.append((now, matches))
    count = fol.count(now, spec.window)
    if _state_file is not None and fol.fh is not None and fol.inode is not None:
        _save_state(skey, {
            "dev": fol.inode[0], "ino": fol.inode[1],
            "offset": fol.fh.tell() - len(fol.partial), "started": fol.started,
            "buckets": fol.buckets, "last_match": fol.last_match[:300],
            "rotations": fol.rotations, "truncations": fol.truncations,
        })
    return fol, lines, matches, count, first


async def _probe_log_errors(spec: LogErrorsCheck, config: AppConfig | None,
                            details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    try:
        fol, lines, new, count, started_at_end = await _blocking(spec, _poll_log, spec)
    except FileNotFoundError:
        raise _Outcome("UNKNOWN", f"{spec.path} does not exist") from None
    except PermissionError:
        raise _Outcome("UNKNOWN", f"{spec.path}: permission denied") from None
    except IsADirectoryError:
        raise _Outcome("UNKNOWN", f"{spec.path} is not a regular file") from None
    details.update(count=count, new_lines=lines, new_matches=new, rotations=fol.rotations,
                   truncations=fol.truncations,
                   watching_since=datetime.fromtimestamp(fol.started, UTC).isoformat())
    if fol.last_match:
        details["last_match"] = mask_tokens(one_line(fol.last_match, 300))
    win = duration(spec.window)
    what = f"{count} line{'s' if count != 1 else ''} matching /{spec.pattern}/ in the last {win}"
    if started_at_end:
        what += " (watching from now on)"
    if spec.critical is not None and count >= spec.critical:
        state: State = "CRITICAL"
    elif count >= spec.warning:
        state = "WARNING"
    else:
        state = "OK"
    if count and fol.last_match:
        what += f"; last: {mask_tokens(one_line(fol.last_match, 80))}"
    return state, what, None, details


_PROBES: dict[str, Any] = {
    "http": _probe_http,
    "tcp": _probe_tcp,
    "postgres": _probe_postgres,
    "process": _probe_process,
    "command": _probe_command,
    "disk": _probe_disk,
    "file_age": _probe_file_age,
    "log_errors": _probe_log_errors,
}


from opsconsole.checks.tracker import CheckStatus, CheckTracker, StateChange  # noqa: E402

__all__ = [
    "CheckResult", "CheckStatus", "CheckTracker", "StateChange", "NAGIOS_CODE", "SEVERITY",
    "STATES", "exit_code", "run_check", "run_checks", "worst",
]
