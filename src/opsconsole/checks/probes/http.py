"""``http`` checks: status, body, latency and TLS certificate expiry of one request.

The request goes out through httpx without proxies from the environment; the body is read
at most ``max_body`` far. A timeout says which phase hung (connecting, TLS handshake,
sending the request, waiting for the response, reading the body).
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import time
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


async def probe(spec: HttpCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    import httpx

    url = spec.url
    host = httpx.URL(url).host
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
            reason = classify_network_error(exc, host or "", httpx.URL(url).port)
        raise Outcome("CRITICAL", reason, phase=phase) from None
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
    lat_state, lat_msg = latency_state(latency, spec)
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
