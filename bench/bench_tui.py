#!/usr/bin/env python3
"""What the console costs over SSH: opsconsole against glances, same refresh, same run.

Each tool runs alone in its own detached tmux session (a private tmux server, ``-L``) at
each terminal size, one after the other, for ``--duration`` seconds after a ``--warmup``.
For each run it prints:

- CPU seconds per minute (and % of one core) of the tool's process tree, from
  ``/proc/<pid>/stat`` utime+stime (+ reaped children), over the measured window only;
- peak RSS: the sum of ``VmHWM`` over the process tree at the end;
- bytes per second written to the terminal, from ``tmux pipe-pane -o 'cat >> file'``, over
  the measured window; the bytes of the warm-up (startup, first frames) are shown apart;
- 1st frame: seconds from exec until ``capture-pane`` shows a complete first screen;
  data: until it shows the resources content (both tools: a ``LOAD`` line and the process
  table's ``PID`` header).

At a size where opsconsole stacks its panes (80x24) the resources pane is not the one shown
first; the bench presses ``2`` as soon as opsconsole's header is drawn, so both tools are
measured while showing the same kind of screen (CPU, memory, load, processes). That key
press is inside opsconsole's "data" figure at that size.

Usage::

    python bench/bench_tui.py                      # 60 s each, 80x24 and 200x50
    python bench/bench_tui.py --duration 15        # quicker, for iterating

Not a test: the figures depend on the host (other load, process count). Read the ratios.
"""

from __future__ import annotations

import argparse
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
CLK_TCK = os.sysconf("SC_CLK_TCK")
MARKERS = ("LOAD", "PID")
# a complete first screen: opsconsole draws header, panes and footer in one frame (at 80x24
# the health pane, "no checks configured" here, and the footer's last key "? more"; at
# 200x50 the PostgreSQL panes say "not configured yet"); glances draws everything at once
FIRST_FRAME = {
    "opsconsole": lambda s: "opsconsole" in s and ("help" in s or "? more" in s)
    and ("not configured yet" in s or "no checks configured" in s
         or all(m in s for m in MARKERS)),
    "glances": lambda s: all(m in s for m in MARKERS),
}


@dataclass
class Result:
    tool: str
    size: str
    cpu_s_per_min: float
    rss_mb: float
    bytes_per_s: float
    warmup_bytes: int
    first_frame_s: float | None
    startup_s: float | None
    procs: int


def tmux(sock: str, *args: str, check: bool = True) -> str:
    r = subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, timeout=10)
    if check and r.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, cpu seconds incl. reaped children) of a pid, or None if it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # fields after comm: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17)
    ppid = int(rest[1])
    ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
    return ppid, ticks / CLK_TCK


def tree(root: int) -> dict[int, float]:
    """{pid: cpu seconds} for root and all its descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            s = _stat(int(entry.name))
            if s is not None:
                stats[int(entry.name)] = s
    out: dict[int, float] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in out:
            out[pid] = stats[pid][1]
            todo.extend(p for p, (pp, _) in stats.items() if pp == pid)
    return out


def hwm_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


def host_idle_note() -> str:
    load = os.getloadavg()
    nprocs = sum(1 for e in os.scandir("/proc") if e.name.isdigit())
    return f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {nprocs} processes, {os.cpu_count()} cores"


def compile_checkout(checkout: Path) -> None:
    """Write the checkout's bytecode, as ``pip install`` does for an installed opsconsole.

    A source checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (or from a read-only tree)
    compiles every module it imports on every start: ~0.13 s of the first frame that an
    installed console never pays. glances, installed, has its bytecode."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(checkout / "src")],
                   env=env, check=False, stdout=subprocess.DEVNULL, timeout=120)


def commands(checkout: Path, refresh: float, data_dir: Path) -> dict[str, str]:
    py = sys.executable
    glances = Path(py).parent / "glances"
    glances_cmd = str(glances) if glances.exists() else (shutil.which("glances") or "glances")
    return {
        "opsconsole": (f"env PYTHONPATH={shlex.quote(str(checkout / 'src'))} {shlex.quote(py)} "
                       f"-m opsconsole --refresh {refresh:g} --data-dir {shlex.quote(str(data_dir))}"),
        "glances": f"{shlex.quote(glances_cmd)} -t {refresh:g}",
    }


def run_one(sock: str, tool: str, cmd: str, width: int, height: int, warmup: float,
            duration: float, workdir: Path) -> Result:
    name = f"{tool}-{width}x{height}"
    out = workdir / f"{name}.out"
    out.write_bytes(b"")
    go = f"go-{name}-{os.getpid()}"
    shell = f"tmux -L {sock} wait-for {go}; exec {cmd}"
    tmux(sock, "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), shell)
    try:
        tmux(sock, "pipe-pane", "-o", "-t", name, f"cat >> {shlex.quote(str(out))}")
        t0 = time.monotonic()
        tmux(sock, "wait-for", "-S", go)
        pid = int(tmux(sock, "display", "-p", "-t", name, "#{pane_pid}").strip())
        startup = first = None
        pressed = 0.0
        while time.monotonic() - t0 < max(warmup, 20.0):
            screen = tmux(sock, "capture-pane", "-p", "-t", name, check=False)
            if first is None and FIRST_FRAME[tool](screen):
                first = time.monotonic() - t0
            if all(m in screen for m in MARKERS):
                startup = time.monotonic() - t0
                first = startup if first is None else first
                break
            now = time.monotonic()
            if tool == "opsconsole" and "opsconsole" in screen and "RESOURCES" not in screen \
                    and now - pressed > 0.3:
                # a key typed in the very first instants can land in the hidden filter
                # input Textual auto-focuses before the app sets focus: clear it, retry
                if "filter:" in screen:
                    tmux(sock, "send-keys", "-t", name, "Escape")
                tmux(sock, "send-keys", "-t", name, "2")
                pressed = now
            time.sleep(0.01)
        # measured window
        time.sleep(max(0.0, t0 + warmup - time.monotonic()))
        cpu1 = sum(tree(pid).values())
        b1 = out.stat().st_size
        t1 = time.monotonic()
        time.sleep(duration)
        procs = tree(pid)
        cpu2 = sum(procs.values())
        b2 = out.stat().st_size
        dt = time.monotonic() - t1
        rss = hwm_mb(list(procs))
        return Result(tool, f"{width}x{height}", (cpu2 - cpu1) / dt * 60.0, rss, (b2 - b1) / dt,
                      b1, first, startup, len(procs))
    finally:
        tmux(sock, "kill-session", "-t", name, check=False)


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def report(results: list[Result], refresh: float, duration: float, warmup: float) -> None:
    sizes = list(dict.fromkeys(r.size for r in results))
    print(f"\nrefresh {refresh:g}s, {duration:g}s measured per run after {warmup:g}s warm-up")
    head = (f"{'size':<8} {'tool':<11} {'CPU s/min':>9} {'% core':>7} {'peak RSS':>9} "
            f"{'bytes/s':>9} {'warm-up B':>10} {'1st frame':>9} {'data':>6}")
    print(head)
    print("-" * len(head))

    def secs(v: float | None) -> str:
        return f"{v:.2f}s" if v is not None else "never"

    for size in sizes:
        rows = {r.tool: r for r in results if r.size == size}
        for r in rows.values():
            print(f"{size:<8} {r.tool:<11} {r.cpu_s_per_min:9.2f} {r.cpu_s_per_min / 60 * 100:6.2f}% "
                  f"{r.rss_mb:7.1f}MB {r.bytes_per_s:9.0f} {r.warmup_bytes:10d} "
                  f"{secs(r.first_frame_s):>9} {secs(r.startup_s):>6}")
        o, g = rows.get("opsconsole"), rows.get("glances")
        if o and g:
            print(f"{size:<8} {'ops/glances':<11} {fmt_ratio(o.cpu_s_per_min, g.cpu_s_per_min):>9} "
                  f"{'':>7} {fmt_ratio(o.rss_mb, g.rss_mb):>9} "
                  f"{fmt_ratio(o.bytes_per_s, g.bytes_per_s):>9} "
                  f"{fmt_ratio(o.warmup_bytes, g.warmup_bytes):>10} "
                  f"{fmt_ratio(o.first_frame_s, g.first_frame_s):>9} "
                  f"{fmt_ratio(o.startup_s, g.startup_s):>6}")
    print("1st frame: first complete screen; data: until the resources content shows "
          "(opsconsole at 80x24: includes pressing 2)")
    print()
    print("goals: CPU <= glances and < 3% of one core; bytes/s <= 2x glances; "
          "RSS < 120 MB; 1st frame < 1 s")
    print("       (issue 13) 1st frame <= glances and < 0.5 s; peak RSS <= glances + 10 %")
    for r in results:
        if r.tool != "opsconsole":
            continue
        g = next((x for x in results if x.tool == "glances" and x.size == r.size), None)
        checks = [
            ("cpu<=glances", g is None or r.cpu_s_per_min <= g.cpu_s_per_min),
            ("cpu<3%", r.cpu_s_per_min / 60 * 100 < 3.0),
            ("bytes<=2x", g is None or r.bytes_per_s <= 2 * g.bytes_per_s),
            ("rss<120MB", r.rss_mb < 120),
            ("frame<1s", r.first_frame_s is not None and r.first_frame_s < 1.0),
            ("frame<=glances", g is None or (r.first_frame_s is not None
                                             and g.first_frame_s is not None
                                             and r.first_frame_s <= g.first_frame_s)),
            ("frame<0.5s", r.first_frame_s is not None and r.first_frame_s < 0.5),
            ("rss<=glances+10%", g is None or r.rss_mb <= 1.1 * g.rss_mb),
        ]
        print(f"  {r.size}: " + "  ".join(f"{n} {'ok' if ok else 'MISSED'}" for n, ok in checks))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=5.0,
                    help="seconds after start not counted in CPU and bytes/s")
    ap.add_argument("--refresh", type=float, default=2.0)
    ap.add_argument("--sizes", default="80x24,200x50")
    ap.add_argument("--tools", default="opsconsole,glances")
    ap.add_argument("--checkout", type=Path, default=HERE.parent,
                    help="opsconsole checkout to run (its src/ goes on PYTHONPATH)")
    ap.add_argument("--keep", action="store_true", help="keep the captured terminal output")
    args = ap.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is needed", file=sys.stderr)
        return 2
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    tools = args.tools.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    compile_checkout(args.checkout.resolve())
    cmds = commands(args.checkout.resolve(), args.refresh, data_dir)
    sock = f"bench-tui-{os.getpid()}"
    ver = subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip()
    print(f"host before: {host_idle_note()}; {ver}")
    results: list[Result] = []
    try:
        # a session that outlives the runs, so the private server does not exit between them
        tmux(sock, "new-session", "-d", "-s", "keeper", "-x", "20", "-y", "5", "sleep 86400")
        for w, h in sizes:
            for tool in tools:
                print(f"running {tool} at {w}x{h} ...", file=sys.stderr, flush=True)
                results.append(run_one(sock, tool, cmds[tool], w, h, args.warmup, args.duration,
                                       workdir))
    finally:
        tmux(sock, "kill-server", check=False)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"terminal output kept in {workdir}", file=sys.stderr)
    print(f"host after: {host_idle_note()}")
    report(results, args.refresh, args.duration, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
