#!/usr/bin/env python3
"""What the console imports before its first frame, module by module (``-X importtime``).

Runs, each in a fresh interpreter under ``python -X importtime``:

- ``console``: the console as ``opsconsole`` starts it (``cli.main.main``, no config, a
  private data directory), headless at 80x24, stopped in its own after-first-frame hook:
  what is imported is exactly what the first frame waited for;
- ``check``: ``opsconsole check`` with one command check (``/bin/true``);
- ``glances``: the peer, ``glances -t 1 --stop-after 1`` in a detached tmux session (its
  curses UI needs a terminal), until it exits after one refresh.

For each it prints the number of modules, the sum of the import times (importtime's own
overhead included: compare the runs, not these with wall times), the top modules by
cumulative and by self time, the time per top-level package, and which of the modules the
first frame must not need (drivers, HTTP client, runbook loaders) were loaded. Then the
ratio console/glances of modules and import time.

Usage::

    python bench/bench_imports.py                 # top 25
    python bench/bench_imports.py --top 40 --checkout /path/to/other/checkout

Not a test (tests/unit/test_lazy_imports.py guards the lazy imports).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_tui import compile_checkout, host_idle_note  # noqa: E402

# the first frame needs none of these (psutil, last, is the resources pane's: shown, not judged)
SHOULD_WAIT = ("asyncpg", "psycopg", "httpx", "markdown_it", "opsconsole.runbooks.library",
               "opsconsole.runbooks.session", "opsconsole.ui.flows", "psutil")
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

CONSOLE = """
import sys
import opsconsole.ui.app as app_module

def stop_at_first_frame(self, _orig=app_module.OpsConsoleApp._after_first_frame):
    _orig(self)
    self.exit()

app_module.OpsConsoleApp._after_first_frame = stop_at_first_frame
_run = app_module.OpsConsoleApp.run
app_module.OpsConsoleApp.run = lambda self, **kw: _run(self, headless=True, size=(80, 24))
from opsconsole.cli.main import main
sys.exit(main(["--data-dir", sys.argv[1]]))
"""


@dataclass
class Imports:
    name: str
    rows: list[tuple[int, int, str]]  # (self us, cumulative us, module)

    @property
    def total_ms(self) -> float:
        return sum(s for s, _, _ in self.rows) / 1000.0


def parse(text: str, name: str) -> Imports:
    rows = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            rows.append((int(m[1]), int(m[2]), m[4]))
    return Imports(name, rows)


def console_imports(checkout: Path, work: Path, env: dict[str, str]) -> Imports:
    probe = work / "first_frame.py"
    probe.write_text(textwrap.dedent(CONSOLE))
    # importtime writes where the app does not: the app is headless, stderr is free
    r = subprocess.run([sys.executable, "-X", "importtime", str(probe), str(work / "data")],
                       env=env, capture_output=True, text=True, timeout=120, cwd=work)
    # the app's own modules, imported at module level by the probe before main(): the
    # same set main() imports, in another order
    return parse(r.stderr, "console")


def check_imports(work: Path, env: dict[str, str]) -> Imports:
    cfg = work / "check.yaml"
    cfg.write_text("checks:\n  - name: noop\n    kind: command\n    command: /bin/true\n")
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "opsconsole", "check",
                        "--config", str(cfg), "--data-dir", str(work / "data")],
                       env=env, capture_output=True, text=True, timeout=120, cwd=work)
    return parse(r.stderr, "check")


def glances_imports(work: Path) -> Imports | None:
    glances = Path(sys.executable).parent / "glances"
    if not glances.exists() or shutil.which("tmux") is None:
        return None
    out = work / "glances.txt"
    sock = f"bench-imports-{os.getpid()}"
    cmd = (f"{sys.executable} -X importtime {glances} -t 1 --stop-after 1 2>{out}")
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "g", "-x", "80", "-y", "24",
                    cmd], check=True, timeout=10)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if subprocess.run(["tmux", "-L", sock, "has-session", "-t", "g"],
                              capture_output=True).returncode != 0:
                break
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    return parse(out.read_text(), "glances") if out.exists() else None


def report(imp: Imports, top: int) -> None:
    mods = {m for _, _, m in imp.rows}
    print(f"\n== {imp.name}: {len(imp.rows)} modules, {imp.total_ms:.0f} ms of imports")
    print(f"  top {top} by cumulative time (ms, self ms, module):")
    for s, c, m in sorted(imp.rows, key=lambda r: -r[1])[:top]:
        print(f"    {c / 1000:7.1f} {s / 1000:7.1f}  {m}")
    print(f"  top {top} by self time:")
    for s, _, m in sorted(imp.rows, key=lambda r: -r[0])[:top]:
        print(f"    {s / 1000:7.1f}  {m}")
    per = collections.Counter()
    for s, _, m in imp.rows:
        per[m.split(".")[0]] += s
    print("  per top-level package (self ms): " + ", ".join(
        f"{p} {v / 1000:.0f}" for p, v in per.most_common(12)))
    loaded = [m for m in SHOULD_WAIT if m in mods]
    print(f"  loaded of {', '.join(SHOULD_WAIT)}: {', '.join(loaded) or 'none'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--checkout", type=Path, default=HERE.parent,
                    help="opsconsole checkout to run (its src/ goes on PYTHONPATH)")
    args = ap.parse_args(argv)
    checkout = args.checkout.resolve()
    compile_checkout(checkout)
    work = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSCONSOLE_", "PG"))}
    env.update(PYTHONPATH=str(checkout / "src"), OPSCONSOLE_CONFIG=str(work / "none.yaml"),
               XDG_CONFIG_HOME=str(work / "xdg"), XDG_CONFIG_DIRS=str(work / "xdg"))
    print(f"host: {host_idle_note()}")
    try:
        console = console_imports(checkout, work, env)
        check = check_imports(work, env)
        glances = glances_imports(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for imp in (console, check, glances):
        if imp is not None:
            report(imp, args.top)
    print()
    if glances is not None and glances.rows:
        print(f"console (to its first frame) / glances (a whole 1-refresh run): modules "
              f"{len(console.rows) / len(glances.rows):.2f}x, import time "
              f"{console.total_ms / glances.total_ms:.2f}x")
    heavy = [m for m in SHOULD_WAIT[:-1] if m in {m for _, _, m in console.rows}]
    print("goal: the first frame imports none of " + ", ".join(SHOULD_WAIT[:-1]) + ": "
          + ("ok" if not heavy else f"MISSED ({', '.join(heavy)})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
