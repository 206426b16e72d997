"""A Prometheus server as a signal source: PromQL over its HTTP API. Never imports Textual.

``prometheus:`` in the config names servers and the queries the alert rules may read::

    prometheus:
      - name: fleet
        url: https://prom.internal:9090       # a path prefix is kept (…/prometheus)
        timeout: 5s
        interval: 15s                          # how often the evaluator asks
        auth: {env: PROM_TOKEN, scheme: Bearer}   # or {file: /etc/opsconsole/prom-token}
        headers: {X-Scope-OrgID: ops}          # other, non-secret headers
        verify_tls: true
        ca_file: /etc/ssl/internal-ca.pem
        queries:
          - name: error_rate                   # → promql.fleet.error_rate
            query: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
          - name: up                           # → promql.fleet.up["host-1:9100"], one per series
            query: up{job="node"}
            by: instance
          - name: p95_1h                       # query_range over the last hour, each series
            query: histogram_quantile(0.95, sum by (le) (rate(req_seconds_bucket[5m])))
            range: 1h                          # reduced by `over` (avg max min last)
            step: 1m
            over: max

The query text is sent as the ``query`` parameter (percent-encoded by httpx, never spliced
into the URL). The auth header's value comes from an environment variable or a file, read
when a request goes out; it is never put in a message, a detail or an event (errors are
masked with it). Several series: ``by: LABEL`` gives one value per label value,
``aggregate:`` (max min sum avg count) one for all; neither and more than one series is an
error. An empty result is *no data* (None), never 0; so is NaN. Errors from the server
(``{"status": "error", "errorType": …, "error": …}``) are reported with its words.
"""

from __future__ import annotations

import asyncio
import math
import os
import ssl
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opsconsole.secrets import mask_tokens, mask_values
from opsconsole.sources.promql_spec import (  # noqa: F401 - re-exported
    _NAME,
    MAX_RESPONSE,
    MAX_SERIES,
    PromAuth,
    PromError,
    PromQuery,
    PromTarget,
    _step,
)


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    values: tuple[float, ...]  # one for an instant query; the samples of a range query


# --------------------------------------------------------------------------- the client

_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Any]] = \
    weakref.WeakKeyDictionary()


def _ssl(target: PromTarget) -> ssl.SSLContext:
    if not target.verify_tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    cafile = os.path.expanduser(target.ca_file) if target.ca_file else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise PromError(f"cannot load ca_file {target.ca_file}: {exc}") from None


def _client(target: PromTarget) -> Any:
    """The running loop's client for this target (its connections kept alive)."""
    import httpx

    loop = asyncio.get_running_loop()
    clients = _CLIENTS.setdefault(loop, {})
    key = (target.url, target.verify_tls, target.ca_file)
    c = clients.get(key)
    if c is None or c.is_closed:
        c = clients[key] = httpx.AsyncClient(verify=_ssl(target), trust_env=False,
                                             limits=httpx.Limits(max_keepalive_connections=4))
    return c


async def close_clients() -> None:
    for c in _CLIENTS.pop(asyncio.get_running_loop(), {}).values():
        try:
            await c.aclose()
        except Exception:  # noqa: S110 - closing sockets that are gone
            pass


def _masked(text: str, secrets: Iterable[str]) -> str:
    return mask_tokens(mask_values(text, [s for s in secrets if s]))


async def fetch(target: PromTarget, promql: str, *, window: float | None = None,
                step: float | None = None, at: float | None = None) -> list[Series]:
    """Run ``promql`` on ``target``: an instant query (at ``at``, default now), or with
    ``window`` a range query over the last ``window`` seconds. Raises :class:`PromError`."""
    import httpx

    secrets: list[str] = []
    headers = dict(target.headers)
    if target.auth is not None:
        value = target.auth.value()
        secrets += [value, value.split(" ", 1)[-1]]
        headers[target.auth.header] = value
    now = time.time() if at is None else at
    base = target.url.rstrip("/")
    if window is None:
        url, params = f"{base}/api/v1/query", {"query": promql, "time": f"{now:.3f}"}
    else:
        st = step or _step(window)
        url = f"{base}/api/v1/query_range"
        params = {"query": promql, "start": f"{now - window:.3f}", "end": f"{now:.3f}",
                  "step": f"{st:g}"}
    timeout = float(target.timeout)
    params["timeout"] = f"{timeout:g}s"
    where = f"Prometheus {target.name}"
    try:
        async with asyncio.timeout(timeout):
            client = _client(target)
            async with client.stream("GET", url, params=params, headers=headers,
                                     timeout=httpx.Timeout(timeout)) as resp:
                chunks, size = [], 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > target.max_response:
                        raise PromError(f"{where}: answer over {int(target.max_response)} "
                                        "bytes (max_response)")
                    chunks.append(chunk)
                body = b"".join(chunks)
                status, ctype = resp.status_code, resp.headers.get("content-type", "")
    except PromError:
        raise
    except (TimeoutError, httpx.TimeoutException):
        raise PromError(f"{where}: timed out after {timeout:g}s") from None
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        raise PromError(_masked(f"{where} unreachable: {_reason(exc)}", secrets)) from None
    return _parse(body, status, ctype, where, secrets)


def _reason(exc: BaseException) -> str:
    seen = []
    e: BaseException | None = exc
    while e is not None and len(seen) < 5:
        seen.append(e)
        e = e.__cause__ or e.__context__
    for e in seen:
        if isinstance(e, ConnectionRefusedError) or "connection refused" in str(e).lower() \
                or "connect call failed" in str(e).lower():
            return "connection refused"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate rejected: {e.verify_message}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _parse(body: bytes, status: int, ctype: str, where: str,
           secrets: list[str]) -> list[Series]:
    import json

    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict) or "status" not in doc:
        hint = " (check the auth header)" if status in (401, 403) else ""
        raise PromError(f"{where}: not a Prometheus API answer (HTTP {status}, "
                        f"{ctype.split(';')[0] or 'no content type'}){hint}")
    if doc.get("status") != "success":
        kind = str(doc.get("errorType") or "error")
        text = str(doc.get("error") or "no message")[:300]
        raise PromError(_masked(f"{where}: {kind}: {text} (HTTP {status})", secrets))
    data = doc.get("data") or {}
    rtype, result = data.get("resultType"), data.get("result")
    if rtype == "scalar":
        return [Series({}, (_num(result[1]),))]
    if rtype in ("vector", "matrix") and isinstance(result, list):
        if len(result) > MAX_SERIES:
            raise PromError(f"{where}: {len(result)} series (the limit is {MAX_SERIES})")
        out = []
        for item in result:
            labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            if rtype == "vector":
                values: tuple[float, ...] = (_num(item["value"][1]),)
            else:
                values = tuple(_num(v[1]) for v in item.get("values") or ())
            out.append(Series(labels, values))
        return out
    raise PromError(f"{where}: a {rtype} result; expected a number (scalar or vector)")


def _num(text: Any) -> float:
    try:
        return float(text)  # "NaN", "+Inf" included
    except (TypeError, ValueError):
        return math.nan


# --------------------------------------------------------------------------- series → values


def _over(values: tuple[float, ...], how: str) -> float | None:
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return None
    if how == "last":
        return vals[-1]
    if how == "max":
        return max(vals)
    if how == "min":
        return min(vals)
    return sum(vals) / len(vals)


def describe(labels: dict[str, str]) -> str:
    """``{instance="a:1", job="api"}`` (``{}`` for none), for messages."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def reduce(series: list[Series], *, by: str | None = None, aggregate: str | None = None,
           over: str = "avg") -> dict[str | None, float | None]:
    """Series → values: ``{None: v}`` for one number, ``{label value: v}`` with ``by``.
    No series (an empty result) or NaN is None: no data. Raises :class:`PromError` for
    several series without ``by`` or ``aggregate``, or ``by`` a label a series lacks."""
    points = [(s.labels, _over(s.values, over)) for s in series]
    if by:
        out: dict[str | None, float | None] = {}
        for labels, v in points:
            if by not in labels:
                raise PromError(f"series {describe(labels)} has no label {by!r} (by:)")
            out[labels[by]] = v
        return out
    if not points:
        return {None: None}
    if aggregate is None:
        if len(points) > 1:
            shown = ", ".join(describe(p[0]) for p in points[:3])
            raise PromError(f"the query returned {len(points)} series ({shown}…): set "
                            "aggregate: (max, min, sum, avg, count) or by: a label")
        return {None: points[0][1]}
    if aggregate == "count":
        return {None: float(len(points))}
    vals = [v for _, v in points if v is not None]
    if not vals:
        return {None: None}
    agg = {"max": max, "min": min, "sum": sum, "avg": lambda x: sum(x) / len(x)}[aggregate]
    return {None: float(agg(vals))}


# --------------------------------------------------------------------------- for the evaluator


def signal_key(target: str, query: str, series: str | None = None) -> str:
    """The signal key of a query's value (as :mod:`opsconsole.alerts.signals` spells it)."""
    import json

    def spell(part: str) -> str:
        return f".{part}" if _NAME.match(part) else f"[{json.dumps(part)}]"

    return "promql" + spell(target) + spell(query) + (
        f"[{json.dumps(series)}]" if series is not None else "")


class PromPoller:
    """Reads every named query of every target, each target at most once per its
    ``interval``; :meth:`values` gives signal key → value (None: no data). A query that
    fails reads None (never its old value) and its error is in :attr:`errors`."""

    def __init__(self, targets: list[PromTarget], clock: Any = time.monotonic) -> None:
        self.targets = [t for t in targets if t.queries]
        self.clock = clock
        self._values: dict[str, dict[str, float | None]] = {}
        self._read_at: dict[str, float] = {}
        self.errors: dict[str, str] = {}  # "target.query" → the last error

    async def _read(self, t: PromTarget, q: PromQuery) -> tuple[str, dict[str, float | None]]:
        key = f"{t.name}.{q.name}"
        try:
            series = await fetch(t, q.query, window=None if q.range is None else float(q.range),
                                 step=None if q.step is None else float(q.step))
            picked = reduce(series, by=q.by, aggregate=q.aggregate, over=q.over)
        except PromError as exc:
            self.errors[key] = str(exc)
            return key, {}
        self.errors.pop(key, None)
        return key, {signal_key(t.name, q.name, s): v for s, v in picked.items()}

    async def values(self) -> dict[str, float | None]:
        now = self.clock()
        due = [t for t in self.targets
               if now - self._read_at.get(t.name, -math.inf) >= float(t.interval)]
        for t in due:
            self._read_at[t.name] = now
        jobs = [self._read(t, q) for t in due for q in t.queries]
        for key, vals in await asyncio.gather(*jobs):
            self._values[key] = vals
        out: dict[str, float | None] = {}
        for t in self.targets:
            for q in t.queries:
                out.setdefault(signal_key(t.name, q.name), None)  # no data unless read
                out.update(self._values.get(f"{t.name}.{q.name}", {}))
        return out


__all__ = ["PromAuth", "PromError", "PromPoller", "PromQuery", "PromTarget", "Series",
           "describe", "fetch", "reduce", "signal_key"]
