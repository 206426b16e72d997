#!/usr/bin/env python3
"""Soak: does the console's memory stay flat? ``opsconsole demo`` at a 1 s refresh, N minutes.

``opsconsole --refresh 1 demo --data-dir DIR`` runs in a detached tmux session (a private
tmux server, ``-L``) at 200x50, so every pane is on screen and polled: health checks, host
resources, slow queries, blocking locks and incidents over the demo's throwaway PostgreSQL
cluster. Every ``--every`` seconds (default 10) it samples ``VmRSS`` of the console's own
process (the Python process tmux started) and of its whole process tree (the demo's
PostgreSQL server and backends included), and prints the curve.

The verdict is on the console's own RSS: after a ``--settle`` period (default: the first
third of the run) the least-squares slope over the rest must stay under ``--max-slope``
(default 0.1 MB per minute: 1.5 MB over the remaining 10 minutes of a 15-minute run would
be a leak, a few hundred KB of allocator noise is not). It prints ``ok``/``MISSED``.

Usage::

    python bench/bench_soak.py                  # 15 minutes (the issue's soak)
    python bench/bench_soak.py --minutes 120    # the 2-hour soak, before a release
    python bench/bench_soak.py --minutes 2 --every 5   # a smoke run

Needs ``tmux`` and the PostgreSQL server binaries the demo uses (``initdb``, ``postgres``).
Not a test: it takes minutes and the figures depend on the host.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_tui import compile_checkout, host_idle_note, tmux, tree  # noqa: E402


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / den * 60.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--settle", type=float, default=None,
                    help="minutes not judged at the start (default: a third of the run)")
    ap.add_argument("--max-slope", type=float, default=0.1, help="MB per minute allowed")
    ap.add_argument("--refresh", type=float, default=1.0)
    ap.add_argument("--size", default="200x50")
    ap.add_argument("--checkout", type=Path, default=HERE.parent,
                    help="opsconsole checkout to run (its src/ goes on PYTHONPATH)")
    args = ap.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is needed", file=sys.stderr)
        return 2
    checkout = args.checkout.resolve()
    compile_checkout(checkout)
    settle = args.settle if args.settle is not None else args.minutes / 3.0
    width, height = (int(x) for x in args.size.split("x"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    cmd = (f"env PYTHONPATH={shlex.quote(str(checkout / 'src'))} {shlex.quote(sys.executable)} "
           f"-m opsconsole --refresh {args.refresh:g} demo --data-dir {shlex.quote(str(data_dir))}")
    sock = f"bench-soak-{os.getpid()}"
    print(f"host before: {host_idle_note()}")
    print(f"opsconsole demo, refresh {args.refresh:g}s, {args.size}, {args.minutes:g} min, "
          f"sample every {args.every:g}s; judged after {settle:g} min")
    samples: list[tuple[float, float, float, int]] = []  # (s, own MB, tree MB, procs)
    try:
        tmux(sock, "new-session", "-d", "-s", "soak", "-x", str(width), "-y", str(height), cmd)
        pid = int(tmux(sock, "display", "-p", "-t", "soak", "#{pane_pid}").strip())
        t0 = time.monotonic()
        # the console is up once the demo's cluster is running and the header is drawn
        while time.monotonic() - t0 < 120:
            if "RESOURCES" in tmux(sock, "capture-pane", "-p", "-t", "soak", check=False):
                break
            time.sleep(0.5)
        else:
            print("the console never showed its panes", file=sys.stderr)
            return 1
        t0 = time.monotonic()
        end = t0 + args.minutes * 60.0
        print(f"{'t':>6} {'own RSS':>9} {'tree RSS':>9} {'procs':>5}")
        while True:
            now = time.monotonic()
            own = rss_mb(pid)
            if own is None:
                print("the console exited", file=sys.stderr)
                return 1
            pids = list(tree(pid))
            total = sum(v for v in (rss_mb(p) for p in pids) if v is not None)
            samples.append((now - t0, own, total, len(pids)))
            print(f"{(now - t0) / 60:5.1f}m {own:7.1f}MB {total:7.1f}MB {len(pids):5d}", flush=True)
            if now >= end:
                break
            time.sleep(max(0.0, min(args.every, end - time.monotonic())))
    finally:
        tmux(sock, "send-keys", "-t", "soak", "q", check=False)
        time.sleep(1.0)
        tmux(sock, "send-keys", "-t", "soak", "y", check=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and tmux(sock, "list-sessions", check=False).strip():
            time.sleep(0.5)  # the demo tears its cluster down on exit
        tmux(sock, "kill-server", check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    judged = [(t, own) for t, own, _, _ in samples if t >= settle * 60.0]
    slope = slope_per_min(judged)
    tree_slope = slope_per_min([(t, tot) for t, _, tot, _ in samples if t >= settle * 60.0])
    first, last = samples[0], samples[-1]
    print(f"host after: {host_idle_note()}")
    print(f"own RSS: {first[1]:.1f} MB at start, {max(s[1] for s in samples):.1f} MB peak, "
          f"{last[1]:.1f} MB at the end; slope after {settle:g} min: {slope:+.3f} MB/min")
    print(f"tree RSS (with the demo's PostgreSQL): {first[2]:.1f} → {last[2]:.1f} MB; "
          f"slope after {settle:g} min: {tree_slope:+.3f} MB/min")
    verdict = "ok" if slope < args.max_slope else "MISSED"
    print(f"goal: own RSS does not grow after the first minutes (slope < {args.max_slope:g} "
          f"MB/min): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
