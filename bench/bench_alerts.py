"""What evaluating alert rules costs, next to the process sweep the console already pays.

Scene: the host is brought to ``--procs`` processes (sleeping children), a real
HostCollector sweeps them (the peer cost: what the resources pane pays every
``process_interval``), and N generated rules (a realistic mix: thresholds, ``for:``,
``clear:``, ``avg``/``max``/``p95`` windows of 1-10 min over host signals, check and
PostgreSQL rules that read no data) are evaluated over signals from a real host snapshot, on a
simulated 2 s cadence with 10 minutes of history already recorded.

Prints CPU ms per evaluation (process CPU time, median of the runs), % of one core at a 2 s
cadence, and the ratio to one sweep of the same host. Goal (issue 14): 1,000 rules cost
< 10 % of the process sweep.

    PYTHONPATH=src python bench/bench_alerts.py [--procs 2000] [--evals 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

import psutil

from opsconsole.alerts.rules import Evaluator
from opsconsole.alerts.signals import SignalSet
from opsconsole.config import parse_config
from opsconsole.sources.host import HostCollector

CADENCE = 2.0


def spawn(target: int) -> list[subprocess.Popen]:
    kids = []
    have = len(psutil.pids())
    for _ in range(max(0, target - have)):
        kids.append(subprocess.Popen(["sleep", "900"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return kids


def cpu_ms(fn, runs: int) -> float:
    """Median process CPU time of ``fn()`` in ms."""
    out = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        out.append((time.process_time() - t0) * 1000)
    return statistics.median(out)


def make_rules(n: int, mounts: list[str], distinct_windows: bool = False) -> str:
    funcs = ("avg", "max", "p95", "min")
    windows = ("1m", "5m", "10m")
    sigs = ["host.cpu", "host.mem", "host.swap", "host.load1_per_core", "host.cpu_max_core"]
    sigs += [f'host.fs["{m}"].used_pct' for m in mounts]
    lines = ["alerts:"]
    for i in range(n):
        s = sigs[i % len(sigs)]
        th = 50 + (i * 7) % 50
        kind = i % 10
        if kind < 4:
            expr = f"{s} > {th}"
        elif kind < 7:
            w = f"{60 + i}s" if distinct_windows else windows[i % len(windows)]
            expr = f"{funcs[i % len(funcs)]}({s}, {w}) > {th}"
        elif kind == 7:
            expr = f"{s} > {th} and host.mem > {th - 10}"
        elif kind == 8:
            expr = f"check.c{i % 20}.state == CRITICAL or check.c{i % 20}.latency > 2s"
        else:
            expr = f"pg.db{i % 3}.idle_in_xact_age > 30m or pg.db{i % 3}.blocked > 0"
        lines.append(f"  - name: r{i}")
        lines.append(f"    expr: '{expr}'")
        lines.append(f"    for: {(i % 6) * 30}s")
        if kind < 4:
            lines.append(f"    clear: '{s} < {th - 10}'")
        lines.append("    summary: '{name} {value} over {threshold} since {since}'")
    return "\n".join(lines) + "\n"


def bench_rules(n: int, snap, evals: int, mounts: list[str], distinct: bool = False) -> float:
    rules = parse_config(make_rules(n, mounts, distinct)).alerts
    ev = Evaluator(rules)
    t = 1_780_000_000.0
    for _ in range(int(600 / CADENCE)):  # 10 minutes of history first
        ev.evaluate(SignalSet(host=snap), t)
        t += CADENCE
    clock = [t]

    def one():
        ev.evaluate(SignalSet(host=snap), clock[0])
        clock[0] += CADENCE

    return cpu_ms(one, evals)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=2000)
    ap.add_argument("--evals", type=int, default=200)
    ap.add_argument("--sweeps", type=int, default=9)
    args = ap.parse_args()
    print(f"host load (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cores")
    kids = spawn(args.procs)
    try:
        col = HostCollector(process_interval=0.0, filesystem_interval=3600)
        col.collect(force_processes=True)  # the first sweep reads user/cmdline once each
        snap = col.collect(force_processes=True)
        sweep = cpu_ms(lambda: col.collect(force_processes=True), args.sweeps)
        mounts = [f.mountpoint for f in snap.filesystems][:4]
        print(f"process sweep: {snap.process_count} processes, {sweep:.1f} ms CPU per sweep "
              f"(median of {args.sweeps})")
        print()
        print(f"{'rules':>6} {'ms/eval':>9} {'% core @2s':>11} {'vs sweep':>9}")
        figures = {}
        for n in (10, 100, 500, 1000, 2000):
            ms = bench_rules(n, snap, args.evals, mounts)
            figures[n] = ms
            print(f"{n:>6} {ms:>9.2f} {ms / (CADENCE * 1000) * 100:>10.2f}% "
                  f"{ms / sweep * 100:>8.1f}%")
        worst = bench_rules(1000, snap, max(args.evals // 4, 20), mounts, distinct=True)
        print(f"{'1000*':>6} {worst:>9.2f} {worst / (CADENCE * 1000) * 100:>10.2f}% "
              f"{worst / sweep * 100:>8.1f}%   (* every window rule with its own window)")
        print()
        ratio = figures[1000] / sweep
        print(f"goal: 1,000 rules < 10 % of one {snap.process_count}-process sweep: "
              f"{ratio * 100:.1f}% -> {'ok' if ratio < 0.10 else 'MISSED'}")
    finally:
        for k in kids:
            k.kill()
        for k in kids:
            k.wait(10)


if __name__ == "__main__":
    main()
