#!/usr/bin/env python3
"""Run every scaling benchmark once, one after another, in one run, with the host load
printed before each: the figures the README's performance section quotes.

    python bench/run_all.py                 # all of them (~15-25 min on 2 cores)
    python bench/run_all.py --only tui pg   # some of them
    python bench/run_all.py --list

Each bench is a script in bench/ run with the venv's Python and the checkout's src/ first on
PYTHONPATH; its output is printed as it comes and also written to ``--out`` (a directory,
default ``bench/results/<UTC timestamp>``), one file per bench. The 15-minute soak is not
part of it (``bench/bench_soak.py`` runs alone).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# name -> (script, quick arguments used for the README run)
BENCHES: dict[str, tuple[str, list[str]]] = {
    "tui": ("bench_tui.py", ["--duration", "30"]),
    "imports": ("bench_imports.py", []),
    "check-cli": ("bench_check_cli.py", []),
    "locktree": ("bench_locktree.py", []),
    "pg": ("bench_pg.py", ["--refreshes", "20"]),
    "statements": ("bench_statements.py", ["--refreshes", "10"]),
    "console-checks": ("bench_console_checks.py", []),
    "checks": ("bench_checks.py", []),
    "incidents": ("bench_incidents.py", []),
    "alerts": ("bench_alerts.py", []),
    "notify": ("bench_notify.py", []),
    "runbook-output": ("runbook_output.py", []),
}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, choices=sorted(BENCHES))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per bench")
    args = ap.parse_args(argv)
    if args.list:
        for name, (script, extra) in BENCHES.items():
            print(f"{name:16} {script} {' '.join(extra)}")
        return 0
    names = args.only or list(BENCHES)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "results" / stamp
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}"
               f"{os.environ.get('PYTHONPATH', '')}".rstrip(os.pathsep))
    failed: list[str] = []
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    print(f"opsconsole {commit}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {load()}", flush=True)
    for name in names:
        script, extra = BENCHES[name]
        path = HERE / script
        if not path.exists():
            print(f"\n=== {name}: {script} is missing", flush=True)
            failed.append(name)
            continue
        print(f"\n=== {name}: {script} {' '.join(extra)}  ({load()})", flush=True)
        t0 = time.monotonic()
        with open(out / f"{name}.txt", "w") as log:
            proc = subprocess.Popen([sys.executable, str(path), *extra], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    sys.stdout.write(line)
                    log.write(line)
                    if time.monotonic() - t0 > args.timeout:
                        proc.kill()
                        print(f"--- {name}: killed after {args.timeout:.0f} s")
                        break
            finally:
                rc = proc.wait()
        print(f"--- {name}: exit {rc} after {time.monotonic() - t0:.0f} s ({load()})",
              flush=True)
        if rc != 0:
            failed.append(name)
    print(f"\nresults in {out}")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
