"""What each browser viewer of ``opsconsole serve`` costs (issue 16): CPU % of a core and
memory of the server's process tree (textual-serve and the one app it starts per browser
connection), bytes per second each viewer receives, and PostgreSQL sessions, for 0, 1, 5 and
10 headless Chromium viewers (Debian's chromium + chromium-driver, through selenium), each
level measured for ``--seconds`` (default 60) once every viewer shows the incident.

    python bench/bench_serve.py                 # --wall and the console, 60 s per level
    python bench/bench_serve.py --seconds 20 --modes wall,wall-fresh

Modes: ``wall`` — an incident open for days (every clock to the minute: the wall's steady
state); ``wall-fresh`` — one declared as the bench starts (its clocks under ten minutes, drawn
to the second: the most the wall redraws); ``console`` — the console, served per tab.

Measured on the server side only (the browsers are the viewers' machines): CPU is the
process tree's user+system time over the window; memory is the sum of the tree's USS
(what the processes hold on their own; RSS counts the shared Python and Textual pages once
per process) and, for comparison, RSS. PostgreSQL sessions are counted in the throwaway
cluster's ``pg_stat_activity`` (the config names it as a ``databases:`` target). The peer
in the same run is the console itself served per tab (``serve`` without ``--wall``), which
is what a browser viewer would otherwise get.

Goals: each extra viewer < 1 % of a core and < 60 MB; no PostgreSQL session per viewer.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from opsconsole.incidents.store import open_store  # noqa: E402
from opsconsole.pgcluster import LocalCluster  # noqa: E402
from servehelpers import CAPTURE_JS, CHROMEDRIVER, CHROMIUM, free_port  # noqa: E402
from wallhelpers import TITLE, filled_store  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def memory(procs: list[psutil.Process]) -> tuple[float, float]:
    """(USS, RSS) of the processes, in MB."""
    uss = rss = 0
    for p in procs:
        try:
            m = p.memory_full_info()
            uss += m.uss
            rss += m.rss
        except psutil.Error:
            pass
    return uss / 2**20, rss / 2**20


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1600,1000", "--mute-audio"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE_JS})
    return d


def ws_bytes(d) -> int:
    return int(d.execute_script("return window.__wsBytes || 0"))


def shows_title(d) -> bool:
    text = "".join(d.execute_script("return window.__ws || []"))
    return TITLE in ANSI.sub("", text) or TITLE.split()[0] in ANSI.sub("", text)


def pg_sessions(cluster: LocalCluster) -> int:
    out = cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                       "'client backend' AND pid <> pg_backend_pid()")
    return int(out.strip().splitlines()[-1].strip())


def measure(server: psutil.Process, drivers: list, seconds: float) -> dict[str, float]:
    """CPU % of one core, USS/RSS MB and bytes/s per viewer over ``seconds``."""
    procs = tree(server)
    c0, b0, t0 = cpu_seconds(procs), [ws_bytes(d) for d in drivers], time.monotonic()
    time.sleep(seconds)
    procs = tree(server)
    c1, wall = cpu_seconds(procs), time.monotonic() - t0
    b1 = [ws_bytes(d) for d in drivers]
    used = sum(c1[p] - c0.get(p, 0.0) for p in c1)
    uss, rss = memory(procs)
    per_viewer_bps = (sum(b1) - sum(b0)) / wall / len(drivers) if drivers else 0.0
    return {"cpu": 100.0 * used / wall, "uss": uss, "rss": rss, "bps": per_viewer_bps,
            "apps": len(procs) - 1}


def run_mode(mode: str, data: Path, config: Path, cluster: LocalCluster, levels: list[int],
             seconds: float) -> dict[int, dict[str, float]]:
    port = free_port()
    argv = [sys.executable, "-m", "opsconsole", "--config", str(config), "serve", "--host",
            "127.0.0.1", "--port", str(port), "--data-dir", str(data)]
    if mode.startswith("wall"):
        argv.append("--wall")
    log = open(data.parent / f"serve-{mode}.log", "w+b")  # noqa: SIM115
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=ROOT)
    server = psutil.Process(proc.pid)
    drivers: list = []
    results: dict[int, dict[str, float]] = {}
    try:
        deadline = time.monotonic() + 30
        import socket

        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"serve did not start: {log.name}") from None
                time.sleep(0.1)
        for n in levels:
            while len(drivers) < n:
                d = browser()
                d.get(f"http://127.0.0.1:{port}/")
                drivers.append(d)
            deadline = time.monotonic() + 120
            while not all(shows_title(d) for d in drivers):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{mode}: not every viewer shows the incident")
                time.sleep(0.2)
            time.sleep(3)  # the apps' first seconds (imports, first frame) are not steady
            r = measure(server, drivers, seconds)
            r["pg"] = pg_sessions(cluster)
            results[n] = r
            print(f"  {mode:10} {n:3} viewer(s): {r['cpu']:6.2f} % of a core  "
                  f"USS {r['uss']:7.1f} MB  RSS {r['rss']:7.1f} MB  "
                  f"{r['bps']:8.0f} B/s per viewer  {int(r['apps'])} app process(es)  "
                  f"{int(r['pg'])} PostgreSQL session(s)", flush=True)
    finally:
        for d in drivers:
            try:
                d.quit()
            except Exception:
                pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--modes", default="wall,console")
    ap.add_argument("--levels", default="0,1,5,10")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp_s:
        tmp = Path(tmp_s)
        cluster = LocalCluster()
        cluster.init().start()
        try:
            data = tmp / "data"
            data.mkdir()
            filled_store(data).close()
            config = tmp / "opsconsole.yaml"
            config.write_text(f"databases:\n  - {{name: main, dsn: \"{cluster.dsn()}\"}}\n")
            print(f"opsconsole serve: cost per browser viewer, {args.seconds:.0f} s per level "
                  f"(this host: {os.cpu_count()} cores)")
            fresh = tmp / "fresh"
            fresh.mkdir()
            with open_store(fresh) as store:  # declared now: its clocks tick to the second
                store.declare(TITLE, "SEV1", ["checkout"])
            all_results = {m: run_mode(m, fresh if m == "wall-fresh" else data, config,
                                       cluster, levels, args.seconds)
                           for m in args.modes.split(",")}
        finally:
            cluster.stop()
    print("\nper extra viewer (slope from the smallest to the largest level):")
    lo, hi = levels[0], levels[-1]
    per = {}
    for mode, res in all_results.items():
        n = hi - lo
        cpu = (res[hi]["cpu"] - res[lo]["cpu"]) / n
        uss = (res[hi]["uss"] - res[lo]["uss"]) / n
        rss = (res[hi]["rss"] - res[lo]["rss"]) / n
        pg = (res[hi]["pg"] - res[lo]["pg"]) / n
        per[mode] = (cpu, uss)
        print(f"  {mode:10}: {cpu:5.2f} % of a core ({ok(cpu < 1.0)} < 1 %), USS {uss:5.1f} MB "
              f"({ok(uss < 60)} < 60 MB; RSS {rss:5.1f} MB), "
              f"{res[hi]['bps']:.0f} B/s each, {pg:+.1f} PostgreSQL session(s) "
              f"({ok(pg <= 0)})")
    if "wall" in per and "console" in per and per["console"][0] > 0:
        print(f"\nwall / console per viewer: CPU {per['wall'][0] / per['console'][0]:.2f}x, "
              f"memory {per['wall'][1] / max(per['console'][1], 1e-9):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
