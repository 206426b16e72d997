#!/usr/bin/env python3
"""``opsconsole check`` with one trivial check against the Nagios plugin doing the same.

Cron, Nagios and Icinga run ``opsconsole check`` like a plugin, every minute or so: its
wall time is the cost. Two trivial checks, each as opsconsole and as the plugin, in the
same run, alternating, ``--runs`` times each (default 20):

- command: an opsconsole ``kind: command`` check running ``/bin/true`` vs
  ``check_dummy 0`` (the plugin that does nothing and says OK);
- tcp: an opsconsole ``kind: tcp`` check vs ``check_tcp -H 127.0.0.1 -p PORT``, against a
  listener this script opens on 127.0.0.1.

For each: median and p90 wall time (from spawn to exit, ``time.perf_counter``), peak RSS
(GNU ``time -f %M``, one extra run), the ratio opsconsole/plugin, and ``ok``/
``MISSED`` against the goal (issue 13): median wall < 0.2 s.

Usage::

    python bench/bench_check_cli.py              # 20 runs each
    python bench/bench_check_cli.py --runs 50
    python bench/bench_check_cli.py --before /tmp/old   # + an older checkout, alternating

``--before CHECKOUT`` adds that checkout's ``opsconsole check`` to the same rounds
(``git archive COMMIT src | tar -x -C /tmp/old``), so before and after see the same load.

The plugins come from monitoring-plugins (Debian: ``monitoring-plugins-basic``,
``/usr/lib/nagios/plugins``); without them opsconsole is measured alone. Not a test.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_tui import compile_checkout, host_idle_note  # noqa: E402

PLUGINS = Path("/usr/lib/nagios/plugins")
GOAL_S = 0.2


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, exit status) of one run. Waited for with a blocking ``waitpid``:
    ``subprocess.run(..., timeout=...)`` polls with sleeps of up to 50 ms, which rounded
    every run of a few hundred ms up to the next 50 ms step (figures before 2026-12-04)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    guard = threading.Timer(60, proc.kill)
    guard.start()
    try:
        code = proc.wait()
    finally:
        guard.cancel()
    return time.perf_counter() - t0, code


def peak_rss_mb(argv: list[str], env: dict[str, str], work: Path) -> float | None:
    """Peak RSS of one run, from GNU time (``ru_maxrss`` read here would include this
    Python process: the high-water mark survives fork and exec)."""
    if not Path("/usr/bin/time").exists():
        return None
    out = work / "rss.txt"
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(out), *argv], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    try:
        return int(out.read_text().split()[-1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None


def listener() -> tuple[int, threading.Event]:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], stop


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--checkout", type=Path, default=HERE.parent,
                    help="opsconsole checkout to run (its src/ goes on PYTHONPATH)")
    ap.add_argument("--before", type=Path, default=None,
                    help="another checkout, run alternating with this one (before/after)")
    args = ap.parse_args(argv)
    checkout = args.checkout.resolve()
    compile_checkout(checkout)
    before = args.before.resolve() if args.before else None
    if before is not None:
        compile_checkout(before)
    port, stop = listener()
    work = Path(tempfile.mkdtemp(prefix="bench-check-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSCONSOLE_")}
    env["PYTHONPATH"] = str(checkout / "src")
    configs = {
        "command": "checks:\n  - name: noop\n    kind: command\n    command: /bin/true\n",
        "tcp": f"checks:\n  - name: port\n    kind: tcp\n    address: 127.0.0.1:{port}\n",
    }
    plugin = {
        "command": [str(PLUGINS / "check_dummy"), "0"],
        "tcp": [str(PLUGINS / "check_tcp"), "-H", "127.0.0.1", "-p", str(port)],
    }
    print(f"host: {host_idle_note()}")
    print(f"{args.runs} runs each, alternating; wall from spawn to exit")
    head = (f"{'check':<8} {'tool':<25} {'median':>8} {'p90':>8} {'peak RSS':>9} "
            f"{'exit':>4}")
    print(head)
    print("-" * len(head))
    verdicts = []
    try:
        for kind, text in configs.items():
            cfg = work / f"{kind}.yaml"
            cfg.write_text(text)
            ops = [sys.executable, "-m", "opsconsole", "check", "--config", str(cfg),
                   "--data-dir", str(work / "data")]
            tools = {"opsconsole check": ops}
            envs = {"opsconsole check": env}
            if before is not None:  # same command, the other tree's src/ on PYTHONPATH
                tools["before: opsconsole check"] = ops
                envs["before: opsconsole check"] = {**env, "PYTHONPATH": str(before / "src")}
            if Path(plugin[kind][0]).exists():
                tools[Path(plugin[kind][0]).name] = plugin[kind]
            for name, argv_ in tools.items():  # warm the page cache, not counted
                run_once(argv_, envs.get(name, env))
            walls: dict[str, list[float]] = {t: [] for t in tools}
            codes: dict[str, set[int]] = {t: set() for t in tools}
            for _ in range(args.runs):
                for name, argv_ in tools.items():
                    wall, code = run_once(argv_, envs.get(name, env))
                    walls[name].append(wall)
                    codes[name].add(code)
            rss = {name: peak_rss_mb(argv_, envs.get(name, env), work) or 0.0
                   for name, argv_ in tools.items()}
            for name in tools:
                print(f"{kind:<8} {name:<25} {statistics.median(walls[name]) * 1000:6.1f}ms "
                      f"{p90(walls[name]) * 1000:6.1f}ms {rss[name]:7.1f}MB "
                      f"{','.join(map(str, sorted(codes[name]))):>4}")
            o = statistics.median(walls["opsconsole check"])
            others = [t for t in tools if "opsconsole" not in t]
            if others:
                g = statistics.median(walls[others[0]])
                mem = (f"{rss['opsconsole check'] / rss[others[0]]:8.1f}x"
                       if rss[others[0]] else "")
                print(f"{kind:<8} {'ops/plugin':<25} {o / g:7.1f}x {'':>8} {mem}")
            verdicts.append((kind, o, codes["opsconsole check"] == {0}))
            if before is not None:
                b = statistics.median(walls["before: opsconsole check"])
                print(f"{kind:<8} {'after/before':<25} {o / b:7.2f}x")
    finally:
        stop.set()
    print(f"host after: {host_idle_note()}")
    print(f"goal: opsconsole check with one trivial check, median wall < {GOAL_S:g} s")
    for kind, o, ok_exit in verdicts:
        print(f"  {kind}: {o * 1000:.0f} ms {'ok' if o < GOAL_S and ok_exit else 'MISSED'}"
              + ("" if ok_exit else " (the check did not exit 0)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
