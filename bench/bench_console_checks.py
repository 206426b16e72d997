#!/usr/bin/env python3
"""What health checks cost in the running console: 0 and N http checks at a fixed interval.

The console runs headless in a detached tmux session at 80x24 (the helpers of
``bench_tui.py``), showing its health pane, with a config of ``--checks`` http checks (0, then
each size of ``--sizes``) at ``--interval`` against keep-alive HTTP servers on 127.0.0.1 that
run in a separate process (their CPU is not counted). For each run it prints the CPU of the
console's process tree (% of one core) over ``--duration`` seconds after ``--warmup``, the
extra over the no-checks baseline, the number of TCP connections the targets accepted in the
measured window, and the states the console showed.

The peer is what a user would otherwise run: the same checks at the same interval by curl
from a shell loop (one curl process per check, as cron or a Nagios ``check_http`` loop
does), measured in the same run the same way (the shell and its reaped children).

``--checkout LABEL=PATH`` (repeatable) benches other trees in the same run, e.g. the code
before the fix::

    git -C /work/main archive main | tar -x -C /tmp/before
    python bench/bench_console_checks.py --checkout before=/tmp/before --checkout after=.

Not a test: the figures depend on the host. Read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_tui import host_idle_note, tmux, tree  # noqa: E402

GOAL = 3.0  # % of one core with 200 checks at 10 s


def serve(q: mp.Queue, n_servers: int) -> None:  # type: ignore[type-arg]
    """HTTP/1.1 keep-alive servers; counts accepted connections and requests."""
    counts = {"conns": 0, "reqs": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts["conns"] += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                counts["reqs"] += 1
                body = b"status: ok\n"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                             b"Content-Type: text/plain\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def stats(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"{counts['conns']} {counts['reqs']}\n".encode())
        await writer.drain()
        writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
                   for _ in range(n_servers)]
        ctl = await asyncio.start_server(stats, "127.0.0.1", 0)
        q.put(([s.sockets[0].getsockname()[1] for s in servers],
               ctl.sockets[0].getsockname()[1]))
        await asyncio.Event().wait()

    asyncio.run(main())


def counters(ctl_port: int) -> tuple[int, int]:
    import socket

    with socket.create_connection(("127.0.0.1", ctl_port), timeout=5) as s:
        data = s.makefile().readline().split()
    return int(data[0]), int(data[1])


@dataclass
class Run:
    label: str
    checks: int
    cpu_pct: float
    conns: int
    reqs: int
    screen: str


def write_config(path: Path, urls: list[str], interval: float, timeout: float) -> None:
    lines = ["checks:"] if urls else ["checks: []"]
    for i, url in enumerate(urls):
        lines.append(f"  - {{name: c{i:03d}, kind: http, url: \"{url}\", interval: {interval:g}s, "
                     f"timeout: {timeout:g}s, body_contains: ok}}")
    path.write_text("\n".join(lines) + "\n")


def run_console(sock: str, label: str, checkout: Path, cfg: Path, n: int, data_dir: Path,
                warmup: float, duration: float, ctl: int) -> Run:
    py = sys.executable
    cmd = (f"env PYTHONPATH={shlex.quote(str(checkout / 'src'))} {shlex.quote(py)} -m opsconsole "
           f"--config {shlex.quote(str(cfg))} --data-dir {shlex.quote(str(data_dir))}")
    name = f"{label}-{n}"
    tmux(sock, "new-session", "-d", "-s", name, "-x", "80", "-y", "24", f"exec {cmd}")
    try:
        pid = int(tmux(sock, "display", "-p", "-t", name, "#{pane_pid}").strip())
        time.sleep(warmup)
        c1 = sum(tree(pid).values())
        k1 = counters(ctl)
        t1 = time.monotonic()
        time.sleep(duration)
        c2 = sum(tree(pid).values())
        k2 = counters(ctl)
        dt = time.monotonic() - t1
        screen = tmux(sock, "capture-pane", "-p", "-t", name, check=False)
    finally:
        tmux(sock, "kill-session", "-t", name, check=False)
    summary = next((ln.strip() for ln in screen.splitlines() if "OK" in ln and "·" in ln), "")
    return Run(label, n, (c2 - c1) / dt * 100, k2[0] - k1[0], k2[1] - k1[1], summary[:70])


def run_curl(urls: list[str], interval: float, timeout: float, warmup: float, duration: float,
             ctl: int, workdir: Path) -> Run:
    """The peer: every ``interval``, one curl per check from a bash loop."""
    script = workdir / "curl-loop.sh"
    script.write_text(
        "urls=(" + " ".join(shlex.quote(u) for u in urls) + ")\n"
        "while :; do\n"
        "  start=${EPOCHREALTIME/./}\n"
        "  for u in \"${urls[@]}\"; do\n"
        f"    curl -s -o /dev/null --max-time {timeout:g} \"$u\"\n"
        "  done\n"
        "  now=${EPOCHREALTIME/./}\n"
        f"  left=$(( {int(interval * 1e6)} - (now - start) ))\n"
        "  if (( left > 0 )); then sleep \"$(printf '%d.%06d' $((left/1000000)) $((left%1000000)))\"; fi\n"
        "done\n")
    proc = subprocess.Popen(["bash", str(script)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(warmup)
        c1 = sum(tree(proc.pid).values())
        k1 = counters(ctl)
        t1 = time.monotonic()
        time.sleep(duration)
        c2 = sum(tree(proc.pid).values())
        k2 = counters(ctl)
        dt = time.monotonic() - t1
    finally:
        proc.kill()
        proc.wait()
    return Run("curl loop", len(urls), (c2 - c1) / dt * 100, k2[0] - k1[0], k2[1] - k1[1], "")


PROBE_LOOP = """
import asyncio, sys, time
from opsconsole.checks.engine import run_check
from opsconsole.checks.spec import HttpCheck
from opsconsole.schema import Duration
urls = sys.argv[1:]
specs = [HttpCheck(name=f"c{i}", url=u, timeout=Duration(2), body_contains="ok")
         for i, u in enumerate(urls)]
async def main():
    await asyncio.gather(*(run_check(s) for s in specs))  # warm: imports, first connections
    c0 = time.process_time()
    for _ in range(10):
        rs = await asyncio.gather(*(run_check(s) for s in specs))
    bad = sum(r.state != "OK" for r in rs)
    print((time.process_time() - c0) / (10 * len(specs)) * 1e3, bad)
asyncio.run(main())
"""


def probe_cpu(checkout: Path, urls: list[str]) -> tuple[float, int]:
    """(ms of CPU per check run, checks not OK): the probes alone, all checks at once, 10
    rounds, in a process of their own (no UI)."""
    env = dict(os.environ, PYTHONPATH=str(checkout / "src"))
    out = subprocess.run([sys.executable, "-c", PROBE_LOOP, *urls], capture_output=True,
                         text=True, env=env, timeout=300, check=True).stdout.split()
    return float(out[0]), int(out[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="200", help="numbers of checks (0 is always run)")
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--servers", type=int, default=50, help="target ports (checks spread over them)")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--checkout", action="append", default=[],
                    help="LABEL=PATH of an opsconsole tree to bench (default: this one)")
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is needed", file=sys.stderr)
        return 2
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout] \
        or [("this", HERE.parent)]
    sizes = [0] + [int(s) for s in args.sizes.split(",") if int(s)]
    print(f"host before: {host_idle_note()}")
    print(f"interval {args.interval:g}s, timeout {args.timeout:g}s, {args.servers} target ports, "
          f"80x24, {args.duration:g}s measured after {args.warmup:g}s warm-up")
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    server = mp.Process(target=serve, args=(q, args.servers), daemon=True)
    server.start()
    ports, ctl = q.get(timeout=10)
    workdir = Path(tempfile.mkdtemp(prefix="bench-console-checks-"))
    sock = f"bench-cc-{os.getpid()}"
    runs: list[Run] = []
    probes: list[tuple[str, int, float, int]] = []
    try:
        tmux(sock, "new-session", "-d", "-s", "keeper", "-x", "20", "-y", "5", "sleep 86400")
        for n in sizes:
            urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/health?c={i}" for i in range(n)]
            cfg = workdir / f"config-{n}.yaml"
            write_config(cfg, urls, args.interval, args.timeout)
            for label, path in checkouts:
                print(f"running {label} with {n} checks ...", file=sys.stderr, flush=True)
                data = workdir / f"data-{label}-{n}"
                data.mkdir()
                runs.append(run_console(sock, label, path, cfg, n, data, args.warmup,
                                        args.duration, ctl))
            if n:
                for label, path in checkouts:
                    ms, bad = probe_cpu(path, urls)
                    probes.append((label, n, ms, bad))
            if n and not args.no_peer and shutil.which("curl"):
                print(f"running the curl loop with {n} checks ...", file=sys.stderr, flush=True)
                runs.append(run_curl(urls, args.interval, args.timeout, args.warmup,
                                     args.duration, ctl, workdir))
    finally:
        tmux(sock, "kill-server", check=False)
        server.terminate()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"host after: {host_idle_note()}")
    base = {r.label: r.cpu_pct for r in runs if r.checks == 0}
    head = (f"{'tree':<10} {'checks':>6} {'% core':>7} {'extra':>7} {'x base':>7} "
            f"{'conns':>6} {'reqs':>6}  shown")
    print(head)
    print("-" * len(head))
    for r in runs:
        b = base.get(r.label)
        extra = f"{r.cpu_pct - b:+6.2f}%" if b is not None and r.checks else ""
        ratio = f"{r.cpu_pct / b:6.2f}x" if b and r.checks else ""
        print(f"{r.label:<10} {r.checks:>6} {r.cpu_pct:6.2f}% {extra:>7} {ratio:>7} "
              f"{r.conns:>6} {r.reqs:>6}  {r.screen}")
    print("conns/reqs: TCP connections accepted / requests answered by the targets in the window")
    for label, n, ms, bad in probes:
        print(f"probes alone ({label}, {n} checks at once, no UI): {ms:.3f} ms CPU per check run"
              f", {bad} not OK")
    print()
    for n in sizes[1:]:
        peer = next((r for r in runs if r.label == "curl loop" and r.checks == n), None)
        for label, _ in checkouts:
            r = next(x for x in runs if x.label == label and x.checks == n)
            vs_peer = f", {r.cpu_pct / peer.cpu_pct:.2f}x the curl loop ({peer.cpu_pct:.2f}%)" \
                if peer and peer.cpu_pct else ""
            b = base.get(label, 0.0)
            extra = r.cpu_pct - b
            vs_extra = f", checks' extra {extra / peer.cpu_pct:.2f}x the curl loop" \
                if peer and peer.cpu_pct else ""
            goal = "ok" if r.cpu_pct < GOAL else "MISSED"
            print(f"  {label}: {n} checks {r.cpu_pct:.2f}% of a core "
                  f"({r.cpu_pct / b if b else 0:.2f}x no checks){vs_peer}{vs_extra}; "
                  f"< {GOAL:g}% {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
