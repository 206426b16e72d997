"""How fast, and in how much memory, a runbook step's output is taken in — against peers in
the same run. Not a test: prints figures and ratios.

    PYTHONPATH=src python bench/runbook_output.py [LINES]

Peers:
- floor: the same command with its output thrown away by the shell (``> /dev/null``);
- subprocess.run(capture_output=True): what a naive runner does (keeps everything in memory);
- opsconsole's runner: masking, SHA-256, first/last lines, live tail, full output to a file.
Memory is the Python-side peak (tracemalloc, in a second run) while the step runs.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from opsconsole.config import AppConfig
from opsconsole.incidents.sink import MemorySink
from opsconsole.runbooks.model import load_yaml_runbook
from opsconsole.runbooks.session import RunbookSession, SessionOptions


def measure(fn):
    """Seconds from an untraced run (tracemalloc slows Python code), peak from a traced one."""
    t0 = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t0
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dt, peak, result


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    cmd = f"seq 1 {lines} | sed 's/$/ some log text that makes the line longer/'"
    size = sum(len(f"{i} some log text that makes the line longer\n") for i in range(1, lines + 1))

    floor_t, floor_m, _ = measure(lambda: subprocess.run(cmd + " > /dev/null", shell=True, check=True))
    naive_t, naive_m, _ = measure(lambda: subprocess.run(cmd, shell=True, capture_output=True, check=True))

    rb = load_yaml_runbook(Path("bench.yaml"), f"id: bench\ntitle: Bench\nsteps:\n  - title: flood\n"
                           f"    kind: shell\n    run: \"{cmd}\"\n    timeout: 600s\n")
    with tempfile.TemporaryDirectory() as d:
        def ours():
            s = RunbookSession(rb, {}, SessionOptions(config=AppConfig(), sink=MemorySink(),
                                                      data_dir=Path(d)))
            return asyncio.run(s.run_step(0))

        ours_t, ours_m, out = measure(ours)
        assert out.status == "ok" and out.output_lines == lines, out

    mb = size / 1e6
    print(f"output: {lines:,} lines, {mb:.1f} MB")
    print(f"{'peer':<38}{'seconds':>9}{'MB/s':>9}{'peak MiB':>10}")
    for name, t, m in (("floor (sh > /dev/null)", floor_t, floor_m),
                       ("subprocess.run(capture_output=True)", naive_t, naive_m),
                       ("opsconsole runner (mask+hash+file)", ours_t, ours_m)):
        print(f"{name:<38}{t:>9.2f}{mb / t:>9.1f}{m / 2**20:>10.1f}")
    print(f"runner vs capture_output: time x{ours_t / naive_t:.2f}, memory x{ours_m / max(naive_m, 1):.3f}")
    print(f"runner vs floor: time x{ours_t / floor_t:.2f}")


if __name__ == "__main__":
    main()
