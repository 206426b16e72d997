"""``opsconsole check``: run every check once, concurrently; Nagios exit code.

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
from opsconsole.fmt import duration, one_line

SYMBOL = {"OK": "✓", "WARNING": "!", "CRITICAL": "✗", "UNKNOWN": "?"}


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "check", help="run every health check once and exit with the Nagios code",
        description="Run the configured health checks once, concurrently, print a table (or "
                    "JSON) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the worst state).",
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
            print(f"UNKNOWN: {msg}")
        return 3
    from opsconsole.checks import engine
    from opsconsole.config import resolve_data_dir

    # log_errors checks continue where the previous run stopped reading
    engine.use_state_dir(resolve_data_dir(getattr(args, "data_dir", None), cfg) / "check-state")
    started = time.monotonic()
    try:
        results = asyncio.run(run_checks(specs, cfg))
    except KeyboardInterrupt:
        print("opsconsole check: interrupted", file=sys.stderr)
        return 130
    wall = time.monotonic() - started
    code = exit_code(results)
    state = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}[code]
    if args.json:
        print(json.dumps({"state": state, "code": code, "elapsed": round(wall, 3),
                          "checks": [r.to_json() for r in results]}, default=str, indent=2))
    else:
        import shutil

        print(format_table(results, shutil.get_terminal_size((120, 24)).columns))
        counts = {s: sum(r.state == s for r in results) for s in ("CRITICAL", "UNKNOWN",
                                                                  "WARNING", "OK")}
        parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        print(f"{state}: {len(results)} checks ({parts}) in {duration(wall)}")
    return code
