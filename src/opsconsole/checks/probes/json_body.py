"""``json`` checks: an http check that reads one value of the JSON body by ``path``.

Everything an http check judges (status, latency, certificate) is judged first; then the
body (read at most ``max_body`` far, 256 KiB unless set) is parsed and the value at
``path`` (:mod:`opsconsole.checks.jsonpath`) is a number against warn/crit, or a string
(booleans read ``true``/``false``) against ``expect``/``expect_warning``. A body cut at
``max_body``, not JSON, or without the path is a check error (UNKNOWN), saying where the
path stopped.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import State
from opsconsole.checks.jsonpath import Missing, pick
from opsconsole.checks.levels import value_state
from opsconsole.checks.probes.http import fetch, judge
from opsconsole.checks.spec import JsonCheck, status_matcher
from opsconsole.fmt import human_bytes, one_line

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


def _read(spec: JsonCheck, body: bytes, truncated: bool) -> tuple[State, str, Any]:
    """(state, message, value or None) of the value at the path."""
    if truncated:
        return "UNKNOWN", f"body over {human_bytes(spec.max_body)} (max_body): not read", None
    try:
        doc = json.loads(body)
    except RecursionError:
        return "UNKNOWN", "body is not JSON: nested too deeply", None
    except ValueError as exc:
        return "UNKNOWN", f"body is not JSON: {one_line(str(exc), 80)}", None
    try:
        v = pick(doc, spec.path.steps)
    except Missing as exc:
        return "UNKNOWN", str(exc), None
    where = str(spec.path)
    if isinstance(v, bool):
        v = "true" if v else "false"
    if isinstance(v, int | float) and not spec.expect and not spec.expect_warning:
        f = float(v)
        if not math.isfinite(f):
            return "UNKNOWN", f"{where} is {v}, not a finite number", None
        state, msg = value_state(f, spec, where)
        return state, msg, f
    if isinstance(v, str | int | float) and (spec.expect or spec.expect_warning):
        text = str(v)
        shown = one_line(repr(text), 60)
        if text in spec.expect:
            return "OK", f"{where} is {shown}", None
        if text in spec.expect_warning:
            return "WARNING", f"{where} is {shown}", None
        want = " or ".join(repr(e) for e in spec.expect) or "not that"
        return "CRITICAL", f"{where} is {shown} (expected {want})", None
    if isinstance(v, str):
        return "UNKNOWN", f"{where} is a string {one_line(repr(v), 40)}: set expect: for a " \
                          "state, or point the path at a number", None
    kind = "null" if v is None else type(v).__name__
    return "UNKNOWN", f"{where} is {kind}, not a number or a string", None


async def probe(spec: JsonCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    got = await fetch(spec)
    extra: list[tuple[State, str]] = []
    ok_message = None
    if any(lo <= got.status <= hi for lo, hi in status_matcher(spec.expect_status)):
        state, msg, value = _read(spec, got.body, got.truncated)
        if value is not None:
            details["value"] = value
        if state == "OK":
            ok_message = msg
        else:
            extra.append((state, msg))
    return judge(spec, got, details, extra, ok_message)
