"""What SLOs cost: 30 days of per-minute check history, SLO figures, a 10k-series scrape.

1. History: 200 checks x 30 days, one row per check per hour (schema v3 ``history_hours``),
   written as the recorder writes them; rows and bytes on disk by days kept; the write cost
   of one minute's flush (200 checks, the open hour's rows rewritten) in steady state.
2. Figures: 50 SLOs, each with 30 days of per-minute good/total, attainment + budget + 5
   burn windows (5m 30m 1h 6h 3d); ms for all of them. Peer/oracle: the same sums done
   naively (every minute of every window), checked equal.
3. Scrape: a real prometheus_client app (tests/metricsapp.py) with 1k/5k/10k series; CPU
   ms and peak memory of one scrape+parse; floor: prometheus_client's parser alone on the
   same text; peer: ``promtool check metrics`` on the same text (wall ms, a Go binary).

Goals (issue 15): history < 50 MB; 50 SLOs < 50 ms; the 10k scrape < 200 ms CPU.

    PYTHONPATH=src python bench/bench_slo.py
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opsconsole.config import parse_config  # noqa: E402
from opsconsole.incidents.store import open_store  # noqa: E402
from opsconsole.slo.engine import BURN_WINDOWS, SloEngine  # noqa: E402
from opsconsole.slo.history import HistoryDB, MinuteRecorder, check_minute  # noqa: E402


def ok(flag: bool) -> str:
    return "ok" if flag else "MISSED"


def bench_history(checks: int = 200, days: int = 30) -> None:
    print(f"\n## history: {checks} checks, per minute, 2 runs a minute each")
    rnd = random.Random(1)
    tmp = Path(tempfile.mkdtemp())
    store = open_store(tmp)
    db = HistoryDB(store.path)
    t0 = 1_790_000_000 // 3600 * 3600
    for day in range(days):
        rows = []
        for c in range(checks):
            for h in range(24):
                hour = t0 // 3600 + day * 24 + h
                minutes = {}
                for m in range(60):
                    row = [0.0] * 14
                    for _ in range(2):
                        lat = rnd.lognormvariate(-2.5, 0.5)
                        st = "CRITICAL" if rnd.random() < 0.002 else "OK"
                        row = [a + b for a, b in zip(row, check_minute(st, lat), strict=True)]
                    minutes[hour * 60 + m] = row
                rows.append((f"check:c{c:03d}", hour, minutes))
        db.write(rows)
        if day + 1 in (1, 7, 30):
            store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # noqa: SLF001
            size = sum(p.stat().st_size for p in tmp.glob("incidents.db*"))
            n = db._conn.execute("SELECT count(*) FROM history_hours").fetchone()[0]  # noqa: SLF001
            print(f"  {day + 1:>2} days: {n:>7} rows, {size / 1e6:6.1f} MB on disk")
    print(f"  goal < 50 MB for {days} days: {ok(size < 50e6)} ({size / 1e6:.1f} MB)")
    rec = MinuteRecorder()
    now = float((t0 // 3600 + days * 24) * 3600)
    costs = []
    for m in range(60):
        for c in range(checks):
            for k in range(2):
                rec.add(f"check:c{c:03d}", now + m * 60 + k * 30,
                        check_minute("OK", rnd.lognormvariate(-2.5, 0.5)))
        started = time.perf_counter()
        rec.flush(db, now + (m + 1) * 60)
        costs.append((time.perf_counter() - started) * 1000)
    print(f"  write cost per minute (flush of {checks} checks, open hour rewritten): median "
          f"{statistics.median(costs):.1f} ms, max {max(costs):.1f} ms (one transaction)")
    store.close()
    shutil.rmtree(tmp)


def bench_figures() -> None:
    print("\n## SLO figures: attainment, budget, 5 burn windows; 30 days of minutes each")
    rnd = random.Random(2)
    now = 1_790_000_000.0
    for n in (10, 25, 50):
        text = "slos:\n" + "".join(
            f"  - {{name: s{i}, objective: 99.9%, window: 30d, indicator: {{check: c{i}}}}}\n"
            for i in range(n))
        text = "checks:\n" + "".join(
            f"  - {{name: c{i}, kind: tcp, address: '127.0.0.1:9'}}\n" for i in range(n)) + text
        cfg = parse_config(text)
        eng = SloEngine(cfg.slos, clock=lambda: now)
        for s in cfg.slos:
            c = eng.counts[s.name]
            for m in range(int(now // 60) - 43200, int(now // 60) + 1):
                t = 100.0
                c.add(m, t - (rnd.random() < 0.01), t)
        runs = []
        for _ in range(20):
            started = time.perf_counter()
            figs = eng.figures(now)
            runs.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        for s, f in zip(cfg.slos, figs, strict=True):  # the oracle: every minute, naively
            c = eng.counts[s.name]
            last = int(now // 60)
            for w, secs in BURN_WINDOWS.items():
                first = last - secs // 60 + 1
                g = sum(gg for m, gg in zip(c.minutes, c.good, strict=True) if first <= m <= last)
                tt = sum(x for m, x in zip(c.minutes, c.total, strict=True) if first <= m <= last)
                assert abs(((tt - g) / tt) / s.budget - f["burn_rates"][w]) < 1e-9
        naive = (time.perf_counter() - started) * 1000
        med = statistics.median(runs)
        print(f"  {n:>3} SLOs: {med:7.2f} ms (naive sums: {naive:8.1f} ms, "
              f"{naive / med:6.0f}x slower; same figures)")
    print(f"  goal < 50 ms for 50 SLOs: {ok(med < 50)}")


def bench_scrape() -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from opsconsole.metrics.scrape import scrape
    print("\n## scrape of a real prometheus_client /metrics")
    app = subprocess.Popen([sys.executable, "tests/metricsapp.py", "0"], stdout=subprocess.PIPE,
                           text=True)
    port = int(app.stdout.readline().split()[1])  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/metrics"
    promtool = shutil.which("promtool")
    try:
        for n in (1000, 5000, 10000):
            httpx.get(f"http://127.0.0.1:{port}/series", params={"n": n - 30}, timeout=60)
            text = httpx.get(url, timeout=60).text
            cpu, floor = [], []
            for _ in range(5):
                c0 = time.process_time()
                s = scrape(url, 30.0)
                cpu.append((time.process_time() - c0) * 1000)
                c0 = time.process_time()
                sum(len(f.samples) for f in text_string_to_metric_families(text))
                floor.append((time.process_time() - c0) * 1000)
            tracemalloc.start()
            scrape(url, 30.0)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            peer = ""
            if promtool:
                w0 = time.perf_counter()
                subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=60)
                peer = f", promtool check metrics {(time.perf_counter() - w0) * 1000:.0f} ms wall"
            med, fl = statistics.median(cpu), statistics.median(floor)
            print(f"  {s.series:>6} series ({len(text) / 1e3:.0f} kB): {med:6.1f} ms CPU, peak "
                  f"{peak / 1e6:5.1f} MB; parser alone {fl:6.1f} ms ({med / fl:.2f}x the floor)"
                  f"{peer}")
        print(f"  goal < 200 ms CPU for 10k series: {ok(med < 200)}")
    finally:
        app.terminate()
        app.wait(10)


if __name__ == "__main__":
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} on {os.cpu_count()} cores")
    bench_figures()
    bench_scrape()
    bench_history()
