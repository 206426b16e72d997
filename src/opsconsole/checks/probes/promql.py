"""``promql`` checks: one PromQL query on a ``prometheus:`` target, judged by warn/crit.

An empty result is *no data*: the check's ``no_data`` state (UNKNOWN unless set), never a
0 that reads OK. With ``by: LABEL`` every series is judged and the worst one names itself
(``instance="a:9100" 0.93``); ``aggregate:`` makes one number of all. A server that cannot
be reached, refuses or answers an error is CRITICAL with the server's words; an auth header
is never part of a message.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import SEVERITY, Outcome, State
from opsconsole.checks.levels import show, value_state
from opsconsole.checks.spec import PromqlCheck
from opsconsole.sources.promql import PromError, fetch, reduce

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


async def probe(spec: PromqlCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    target = next((t for t in getattr(config, "prometheus", None) or []
                   if t.name == spec.prometheus), None)
    if target is None:
        raise Outcome("UNKNOWN", f"no prometheus: target named {spec.prometheus!r}")
    details["prometheus"] = target.name
    started = time.monotonic()
    try:
        series = await fetch(target, spec.query,
                             window=None if spec.range is None else float(spec.range),
                             step=None if spec.step is None else float(spec.step))
        latency = time.monotonic() - started
        values = reduce(series, by=spec.by, aggregate=spec.aggregate, over=spec.over)
    except PromError as exc:
        state: State = "CRITICAL" if "unreachable" in str(exc) or "timed out" in str(exc) \
            else "UNKNOWN"
        raise Outcome(state, str(exc)) from None
    details["series"] = len(series)
    known = {k: v for k, v in values.items() if v is not None}
    if not known:
        why = "no series" if not series else "NaN"
        return spec.no_data, f"no data: the query returned {why}", latency, details
    if spec.by is None:
        value = known[None]
        details["value"] = value
        state, msg = value_state(value, spec)
        return state, msg, latency, details
    judged = sorted(((value_state(v, spec, f'{spec.by}="{k}"'), k, v)
                     for k, v in known.items()),
                    key=lambda j: (-SEVERITY[j[0][0]], -j[2] if spec.worse == "above" else j[2]))
    (state, msg), worst_key, worst_value = judged[0]
    details["value"] = worst_value
    details["values"] = {k: v for _, k, v in judged[:50]}
    bad = sum(1 for j in judged if j[0][0] != "OK")
    tail = f" ({bad} of {len(judged)} series not OK)" if bad > 1 else \
        f" (worst of {len(judged)} series)" if len(judged) > 1 else ""
    if state == "OK":
        msg = f"{len(judged)} series, worst {spec.by}=\"{worst_key}\" {show(worst_value)}"
        tail = ""
    return state, msg + tail, latency, details
