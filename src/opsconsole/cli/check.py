"""``opsconsole check``: run every check once, concurrently; Nagios exit code.

The output is a Nagios plugin's (Nagios, Icinga and cron read it as such): the first line is
the status sentence and performance data, ``OPSCONSOLE CRITICAL - 2 of 14 not OK: api
CRITICAL (connection refused), … | 'api_latency'=0.031s;2;5;0 …``; the table follows as long
output, then the perfdata that did not fit on the first line after a second ``|``. Every
line is bounded, and no ``|`` appears where a reader would take it for perfdata.

Exit status: 0 all OK, 1 worst is WARNING, 2 worst is CRITICAL, 3 worst is UNKNOWN (CRITICAL
outranks UNKNOWN); 2 also for a config or usage error (printed as one located line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from opsconsole.checks.engine import SEVERITY, CheckResult, exit_code, run_checks
from opsconsole.checks.perfdata import PerfDatum, format_item, number
from opsconsole.fmt import duration
from opsconsole.fmt import one_line as _one_line

SYMBOL = {"OK": "✓", "WARNING": "!", "CRITICAL": "✗", "UNKNOWN": "?"}
STATUS_MAX = 300  # the status sentence, in characters: the list is cut with "…"
LINE_MAX = 1000  # the first line, and each perfdata line after the table
ITEM_MESSAGE_MAX = 60


def one_line(text: str, width: int | None = None) -> str:
    """fmt.one_line, with '|' (where a Nagios reader starts perfdata) made a '¦'."""
    return _one_line(text.replace("|", "¦"), width)


def status_line(results: list[CheckResult], state: str) -> str:
    """``OPSCONSOLE OK - 14 checks OK`` or ``OPSCONSOLE CRITICAL - 2 of 14 not OK: name
    STATE (message), …``: worst first, cut with "…" to stay within STATUS_MAX."""
    n = len(results)
    bad = sorted((r for r in results if r.state != "OK"),
                 key=lambda r: (-SEVERITY[r.state], r.name))
    if not bad:
        return f"OPSCONSOLE OK - {n} check{'s' if n != 1 else ''} OK"
    line = f"OPSCONSOLE {state} - {len(bad)} of {n} not OK: "
    for i, r in enumerate(bad):
        item = f"{one_line(r.name, 40)} {r.state} ({one_line(r.message, ITEM_MESSAGE_MAX)})"
        sep = ", " if i else ""
        rest = len(bad) - i - 1
        room = STATUS_MAX - len(line) - len(sep) - (len(", …") if rest else 0)
        if len(item) > room:
            line += (sep + "…") if i else "…"
            break
        line += sep + item
    return line


def perf_items(results: list[CheckResult], specs: dict[str, Any]) -> list[str]:
    """Every check's latency (the time it took to answer, or to fail), with its
    warn_latency/crit_latency, then the plugin's own perfdata, each label prefixed with the
    check name."""
    items: list[str] = []
    for r in sorted(results, key=lambda r: r.name):
        spec = specs.get(r.name)
        took = r.latency if r.latency is not None else r.details.get("elapsed")
        if isinstance(took, int | float):
            warn = getattr(spec, "warn_latency", None)
            crit = getattr(spec, "crit_latency", None)
            items.append(format_item(PerfDatum(
                f"{r.name}_latency", round(float(took), 6), "s",
                None if warn is None else number(float(warn)),
                None if crit is None else number(float(crit)), 0.0)))
        for d in r.perfdata:
            items.append(format_item(PerfDatum(f"{r.name}_{d.label}", d.value, d.uom, d.warn,
                                               d.crit, d.min, d.max)))
    return items


def nagios_output(results: list[CheckResult], specs: dict[str, Any], state: str,
                  long_output: list[str]) -> str:
    """The whole output: status and perfdata on the first line, ``long_output`` (which must
    hold no '|'), then the perfdata that did not fit, after a second '|'."""
    first = status_line(results, state)
    items = perf_items(results, specs)
    rest: list[str] = []
    sep = " | "
    for item in items:
        if not rest and len(first) + len(sep) + len(item) <= LINE_MAX:
            first += sep + item
            sep = " "
        else:
            rest.append(item)
    lines = [first, *long_output]
    cont = "| "
    for item in rest:
        if len(cont) + 1 + len(item) > LINE_MAX and cont.strip("| "):
            lines.append(cont.rstrip())
            cont = ""
        cont += item + " "
    if cont.strip("| "):
        lines.append(cont.rstrip())
    return "\n".join(lines)


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "check", help="run every health check once and exit with the Nagios code",
        description="Run the configured health checks once, concurrently, print like a Nagios "
                    "plugin (status and perfdata on the first line, then a table) or JSON, "
                    "and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the worst state).",
    )
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--only", metavar="NAME", action="append", default=[],
                   help="run only this check (repeatable)")
    p.set_defaults(run=run)


def format_table(results: list[CheckResult], width: int = 120) -> str:
    rows = sorted(results, key=lambda r: (-SEVERITY[r.state], r.name))
    name_w = max([4] + [len(r.name) for r in rows])
    name_w = min(name_w, 30)
    lines = [f"{'STATE':<10} {'NAME':<{name_w}} {'LATENCY':>8}  MESSAGE"]
    for r in rows:
        lat = duration(r.latency) if r.latency is not None else "–"
        state = f"{SYMBOL[r.state]} {r.state}"
        head = f"{state:<10} {one_line(r.name, name_w):<{name_w}} {lat:>8}  "
        lines.append(head + one_line(r.message, max(width - len(head), 20)))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from opsconsole.cli.common import load_or_exit

    cfg = load_or_exit(args.config)
    specs = list(cfg.checks)
    if args.only:
        known = {s.name for s in specs}
        missing = [n for n in args.only if n not in known]
        if missing:
            print(f"opsconsole check: no check named {', '.join(map(repr, missing))}; "
                  f"configured: {', '.join(sorted(known)) or 'none'}", file=sys.stderr)
            return 2
        specs = [s for s in specs if s.name in set(args.only)]
    if not specs:
        msg = "no checks configured (add checks: to the config file)"
        if args.json:
            print(json.dumps({"state": "UNKNOWN", "code": 3, "message": msg, "checks": []}))
        else:
            print(f"OPSCONSOLE UNKNOWN - {msg}")
        return 3
    from opsconsole.checks import engine
    from opsconsole.config import resolve_data_dir

    # log_errors checks continue where the previous run stopped reading
    state_dir = resolve_data_dir(getattr(args, "data_dir", None), cfg) / "check-state"
    engine.use_state_dir(state_dir)
    started = time.monotonic()
    try:
        results = asyncio.run(run_checks(specs, cfg))
    except KeyboardInterrupt:
        print("opsconsole check: interrupted", file=sys.stderr)
        return 130
    wall = time.monotonic() - started
    results, since, history_note = _with_history(results, specs, state_dir / "runs.json",
                                                 bool(getattr(args, "read_only", False)))
    code = exit_code(results)
    state = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}[code]
    if args.json:
        checks = [{**r.to_json(), "since": since[r.name].isoformat() if since.get(r.name)
                   else None} for r in results]
        print(json.dumps({"state": state, "code": code, "elapsed": round(wall, 3),
                          "checks": checks, **({"history": history_note} if history_note
                                               else {})}, default=str, indent=2))
    else:
        import shutil

        table = format_table(results, shutil.get_terminal_size((120, 24)).columns)
        counts = {s: sum(r.state == s for r in results) for s in ("CRITICAL", "UNKNOWN",
                                                                  "WARNING", "OK")}
        parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        long_output = [*table.splitlines(),
                       f"{state}: {len(results)} checks ({parts}) in {duration(wall)}"]
        for r in results:  # how long each check not OK has been so (from earlier runs)
            at = since.get(r.name)
            if r.state != "OK" and at is not None and at < r.checked_at:
                long_output.append(f"{one_line(r.name, 60)}: {r.state} for "
                                   f"{duration((r.checked_at - at).total_seconds())}")
        if history_note:
            long_output.append(history_note)
        print(nagios_output(results, {s.name: s for s in specs}, state, long_output))
    return code


def _with_history(results: list[CheckResult], specs: list[Any], path: Any, read_only: bool
                  ) -> tuple[list[CheckResult], dict[str, Any], str | None]:
    """``failures_before_critical`` across runs (:mod:`opsconsole.checks.runs`); the run's
    memory written unless read-only. Returns the results, since-when per check, a note."""
    from opsconsole.checks import runs

    memory = runs.load(path)
    applied = runs.apply(results, {s.name: s.failures_before_critical for s in specs}, memory)
    note = None
    if read_only:
        note = "read-only: this run is not remembered (failures_before_critical counts stay)"
    else:
        why = runs.save(path, memory)
        if why:
            note = f"could not remember this run ({why}): failures are not counted"
    return [r for r, _ in applied], {r.name: at for r, at in applied}, note
