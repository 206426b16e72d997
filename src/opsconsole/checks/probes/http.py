"""``http`` checks: status, body, latency and TLS certificate expiry of one request.

The request goes out through a pooled httpx client (one per TLS setting and target, its
connections kept alive between runs) without proxies from the environment; the body is read
at most ``max_body`` far. A timeout says which phase hung (connecting, TLS handshake, sending
the request, waiting for the response, reading the body).
"""

from __future__ import annotations

import asyncio
import functools
import http.cookiejar
import importlib.util
import os
import re
import ssl
import sys
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import (
    Outcome,
    State,
    classify_network_error,
    latency_state,
    worst,
)
from opsconsole.checks.spec import HttpCheck, status_matcher
from opsconsole.fmt import duration, human_bytes, one_line

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


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


# Pooled clients: one httpx.AsyncClient per event loop, TLS setting and target (scheme, host,
# port), so a check reuses its kept-alive connection to its target run after run instead of a
# new TCP connection (and TLS handshake) and a new client each time. One pool per target keeps
# each pool small: httpcore walks all of a pool's connections and queued requests on every
# request, which with 200 checks in one pool cost more than the connections saved. The
# connections in use are not capped: the scheduler runs each check at most once at a time, so
# they are bounded by the number of checks, and a hanging target holds only its own check's
# connection (never a queue the others wait in). Idle connections are capped and expire;
# every request has its own timeout.
KEEPALIVE_MAX = 32  # idle connections kept per target and TLS setting
KEEPALIVE_EXPIRY = 75.0  # seconds: longer than the usual check intervals (nginx keeps 75 s)
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Any]] = \
    weakref.WeakKeyDictionary()


def _no_sniffio() -> None:
    """httpcore tries ``import sniffio`` on every lock and event it sets up (several per
    request); without sniffio installed each try searches sys.path again (~0.2 ms). Marking it
    absent once makes the failed import immediate (httpcore then assumes asyncio, as it does
    when the import fails)."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class _NoCookies(http.cookiejar.CookieJar):
    """Pooled clients keep no cookies: each run of a check sends what a fresh client would."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Any) -> None:
        return None


@functools.lru_cache(maxsize=4096)
def _parse_url(url: str) -> Any:
    """A check's URL parsed once (httpx.URL is immutable)."""
    import httpx

    return httpx.URL(url)


def _client(ctx: ssl.SSLContext, url: Any) -> Any:
    """The running loop's pooled client for this TLS context (contexts are cached per
    setting) and this target."""
    import httpx

    loop = asyncio.get_running_loop()
    clients = _CLIENTS.get(loop)
    if clients is None:
        _no_sniffio()
        clients = _CLIENTS[loop] = {}
    key = (id(ctx), url.scheme, url.host, url.port)
    client = clients.get(key)
    if client is None or client.is_closed:
        client = clients[key] = httpx.AsyncClient(
            verify=ctx, trust_env=False, cookies=_NoCookies(),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=KEEPALIVE_MAX,
                                keepalive_expiry=KEEPALIVE_EXPIRY))
    return client


def pooled_clients() -> int:
    """How many pooled clients the running loop has (one per TLS setting and target)."""
    return len(_CLIENTS.get(asyncio.get_running_loop(), {}))


async def close_clients() -> None:
    """Close the running loop's pooled clients and their connections (the console calls this
    when its checks stop; the next run opens new ones)."""
    clients = _CLIENTS.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        try:
            await client.aclose()
        except Exception:  # noqa: S110 - closing sockets that are already gone
            pass


@dataclass(frozen=True)
class Fetched:
    """What one request got: the status, the body (at most ``max_body``), the time to the
    response headers, the certificate's end of validity."""

    status: int
    reason: str
    body: bytes
    truncated: bool
    latency: float
    not_after: datetime | None
    http_version: str


async def probe(spec: HttpCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    got = await fetch(spec)
    return judge(spec, got, details)


async def fetch(spec: HttpCheck) -> Fetched:
    """Send the check's request (raises :class:`Outcome` when it gets no response)."""
    import httpx

    url = spec.url
    parsed = _parse_url(url)
    host = parsed.host
    phase = "connecting"
    try:
        ctx = _ssl_context(spec.verify_tls, spec.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise Outcome("UNKNOWN", f"cannot load ca_file {spec.ca_file}: {exc}") from None
    timeout = float(spec.timeout)
    started = time.monotonic()
    body = b""
    truncated = False
    not_after: datetime | None = None
    client = _client(ctx, parsed)
    fresh = False  # this attempt opened a new connection (not a kept-alive one)

    def trace(event: str, info: dict[str, Any]) -> None:
        nonlocal phase, fresh
        if event.startswith("connection.connect_tcp"):
            fresh = True
        elif event.startswith("connection.start_tls"):
            phase = "TLS handshake"
        elif event.startswith(("http11.send_request", "http2.send_request")):
            phase = "sending the request"
        elif event.startswith(("http11.receive_response_headers",
                               "http2.receive_response_headers")):
            phase = "waiting for the response"

    try:
        async with asyncio.timeout(timeout):
            for attempt in (1, 2):
                phase, fresh = "connecting", False
                req = client.build_request(spec.method, parsed, headers=dict(spec.headers),
                                           timeout=httpx.Timeout(timeout),
                                           extensions={"trace": _sync_to_async(trace)})
                try:
                    resp = await client.send(req, stream=True,
                                             follow_redirects=spec.follow_redirects)
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                    # a kept-alive connection the server closed as we reused it: once more
                    # on a new connection (a server that drops every request fails twice)
                    if attempt == 2 or fresh or spec.method not in ("GET", "HEAD", "OPTIONS"):
                        raise
                    continue
                break
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
        raise Outcome("CRITICAL", f"timed out after {duration(timeout)} ({phase})",
                       phase=phase) from None
    except httpx.TimeoutException:
        raise Outcome("CRITICAL", f"timed out after {duration(timeout)} ({phase})",
                       phase=phase) from None
    except httpx.TooManyRedirects:
        raise Outcome("CRITICAL", "too many redirects") from None
    except (httpx.TransportError, OSError, ssl.SSLError) as exc:
        if isinstance(exc, httpx.RemoteProtocolError):
            reason = f"bad HTTP response: {one_line(str(exc), 120)}"
        else:
            reason = classify_network_error(exc, host or "", parsed.port)
        raise Outcome("CRITICAL", reason, phase=phase) from None
    return Fetched(resp.status_code, resp.reason_phrase or "", body, truncated, latency,
                   not_after, resp.http_version)


def judge(spec: HttpCheck, got: Fetched, details: dict[str, Any],
          extra: list[tuple[State, str]] | None = None,
          ok_message: str | None = None) -> tuple[State, str, float | None, dict[str, Any]]:
    """The state of one response: status, body, certificate, latency (and ``extra``
    problems a caller found, e.g. in a JSON body)."""
    status, body, truncated, latency, not_after = (got.status, got.body, got.truncated,
                                                   got.latency, got.not_after)
    details.update(status=status, body_bytes=len(body), body_truncated=truncated,
                   http_version=got.http_version)
    text = body.decode("utf-8", errors="replace")
    if body and b"\xef\xbf\xbd" not in body and "\ufffd" in text:
        details["body_not_utf8"] = True
    problems: list[tuple[State, str]] = []
    ranges = status_matcher(spec.expect_status)
    if not any(lo <= status <= hi for lo, hi in ranges):
        reason = f" {got.reason}" if got.reason else ""
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
    lat_state, lat_msg = latency_state(latency, spec)
    if lat_state != "OK":
        problems.append((lat_state, lat_msg))
    problems += extra or []
    if problems:
        state = worst(s for s, _ in problems)
        msgs = [m for s, m in problems if s == state] + [m for s, m in problems if s != state]
        return state, "; ".join(msgs), latency, details
    msg = ok_message or f"HTTP {status} in {duration(latency)}"
    if "cert_days_left" in details:
        msg += f", certificate valid {details['cert_days_left']:.0f} more days"
    return "OK", msg, latency, details


def _sync_to_async(fn: Any) -> Any:
    async def wrapper(event: str, info: dict[str, Any]) -> None:
        fn(event, info)

    return wrapper
