#!/usr/bin/env python3
"""The floor under the console: what a minimal Textual app costs on this host.

A Textual app with one Static, one DataTable and one Input (the widgets the console's
first screen is made of), run headless at 80x24 until its first frame: CPU seconds to the
first frame and peak RSS, median of ``--runs`` fresh interpreters; and the same for
``python -c pass`` and ``import textual.app``. The console cannot start faster or smaller
than this without leaving Textual; bench_tui.py's glances figures sit next to it.

Usage::

    python bench/textual_floor.py            # 5 runs each
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap

MINI = textwrap.dedent("""
    import time
    from textual.app import App
    from textual.widgets import DataTable, Input, Static

    class Mini(App):
        def compose(self):
            yield Static("opsconsole")
            yield DataTable()
            yield Input()

        def on_mount(self):
            self.call_after_refresh(self.done)

        def done(self):
            self.cpu = time.process_time()
            self.exit()

    app = Mini()
    app.run(headless=True, size=(80, 24))
    print(app.cpu)
""")
REPORT = ("\nfor line in open('/proc/self/status'):\n"
          "    if line.startswith('VmHWM'):\n"
          "        print(int(line.split()[1]) / 1024)\n")


def measure(code: str, runs: int) -> tuple[float | None, float]:
    cpus, rss = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code + REPORT], capture_output=True,
                             text=True, timeout=60, check=True).stdout.split()
        rss.append(float(out[-1]))
        if len(out) > 1:
            cpus.append(float(out[0]))
    return (statistics.median(cpus) if cpus else None), statistics.median(rss)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    load = os.getloadavg()
    print(f"host: load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores")
    print(f"{'what':<48} {'CPU to 1st frame':>16} {'peak RSS':>9}")
    for label, code in (("python -c pass", "pass"),
                        ("import textual.app", "import textual.app"),
                        ("minimal Textual app (Static, DataTable, Input)", MINI)):
        cpu, rss = measure(code, args.runs)
        cpu_s = f"{cpu:.3f}s" if cpu is not None else "-"
        print(f"{label:<48} {cpu_s:>16} {rss:7.1f}MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
