"""Notification latency: from ``Notifier.send()`` to the webhook receiver getting the POST.

Run: ``PYTHONPATH=$PWD/src /work/main/.venv/bin/python bench/bench_notify.py [--n 200]``

* ours, one at a time: ``send()`` then wait for the POST, N times (median/p99);
* ours, bursts of 10/50/N sent at once (every notification's latency in the burst);
* the peer, in the same run: a real Alertmanager (``group_wait: 0s``) with a webhook
  receiver pointing at the same receiver: push an alert to its ``/api/v2/alerts`` and time
  until Alertmanager's own POST arrives;
* the chain a team with Alertmanager runs: our ``alertmanager`` target → Alertmanager → its
  webhook.

Goal (issue 14): a webhook arrives < 1 s after the transition (p99 of ours): ok/MISSED.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from amserver import available, run_alertmanager  # noqa: E402
from opsconsole.alerts.notify import Notification, Notifier  # noqa: E402
from opsconsole.alerts.notify_config import AlertmanagerTarget, WebhookTarget  # noqa: E402

GOAL_S = 1.0


class Arrivals:
    """The receiver: notes when each notification (by key) arrived."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.at: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.lock = threading.Lock()

    def arrived(self, key: str, t: float) -> None:
        with self.lock:
            if key in self.at:
                return
            self.at[key] = t
            fut = self.waiters.get(key)
        if fut is not None:
            self.loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(t))

    def wait(self, key: str) -> asyncio.Future[float]:
        fut = self.loop.create_future()
        with self.lock:
            if key in self.at:
                fut.set_result(self.at[key])
            else:
                self.waiters[key] = fut
        return fut


def make_handler(arr: Arrivals) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            t = time.perf_counter()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if self.path == "/am":  # Alertmanager's webhook: one POST per group
                for a in body.get("alerts", []):
                    arr.arrived(a["labels"]["alertname"], t)
            else:
                arr.arrived(body["alert"], t)

    return H


def note(key: str) -> Notification:
    now = datetime.now(UTC)
    return Notification(alert=key, state="firing", severity="critical", summary="bench",
                        at=now, dedup_key=key, labels={"check": "bench"}, host="bench",
                        starts_at=now)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def row(name: str, xs: list[float]) -> tuple[float, float]:
    med, p99 = statistics.median(xs) * 1000, pct(xs, 99) * 1000
    print(f"  {name:<44} n={len(xs):<4} median {med:8.2f} ms   p99 {p99:8.2f} ms   "
          f"max {max(xs) * 1000:8.2f} ms")
    return med, p99


async def sequential(notifier: Notifier, arr: Arrivals, n: int, prefix: str) -> list[float]:
    out = []
    for i in range(n):
        key = f"{prefix}-{i}"
        fut = arr.wait(key)
        t0 = time.perf_counter()
        notifier.send(note(key))
        t = await asyncio.wait_for(fut, 10)
        out.append(t - t0)
    await notifier.drain(10)
    return out


async def burst(notifier: Notifier, arr: Arrivals, n: int, prefix: str) -> list[float]:
    keys = [f"{prefix}-{i}" for i in range(n)]
    futs = [arr.wait(k) for k in keys]
    starts = []
    for k in keys:
        starts.append(time.perf_counter())
        notifier.send(note(k))
    ts = await asyncio.wait_for(asyncio.gather(*futs), 30)
    await notifier.drain(10)
    return [t - s for t, s in zip(ts, starts, strict=True)]


def push_to_am(base: str, *keys: str) -> None:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data = json.dumps([{"labels": {"alertname": key, "check": "bench", "severity": "critical"},
                        "annotations": {"summary": "bench"}, "startsAt": now}
                       for key in keys]).encode()
    req = urllib.request.Request(base + "/api/v2/alerts", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 - 127.0.0.1
        r.read()


async def peer(base: str, arr: Arrivals, n: int) -> list[float]:
    out = []
    for i in range(n):
        key = f"peer-{i}"
        fut = arr.wait(key)
        t0 = time.perf_counter()
        await asyncio.to_thread(push_to_am, base, key)
        t = await asyncio.wait_for(fut, 30)
        out.append(t - t0)
    return out


async def peer_burst(base: str, arr: Arrivals, n: int) -> list[float]:
    """N alerts in one push (as Prometheus batches them): each one's arrival."""
    keys = [f"peerburst{n}-{i}" for i in range(n)]
    futs = [arr.wait(k) for k in keys]
    t0 = time.perf_counter()
    await asyncio.to_thread(push_to_am, base, *keys)
    ts = await asyncio.wait_for(asyncio.gather(*futs), 60)
    return [t - t0 for t in ts]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--peer-n", type=int, default=30)
    args = ap.parse_args()
    print(f"host load (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cores")
    loop = asyncio.get_running_loop()
    arr = Arrivals(loop)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(arr))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    notifier = Notifier([WebhookTarget(name="hook", url=url + "/hook", retries=0)])
    await sequential(notifier, arr, 5, "warm")
    print("\nours: Notifier.send() -> webhook POST received")
    med, p99 = row("one at a time", await sequential(notifier, arr, args.n, "seq"))
    for size in sorted({10, 50, args.n}):
        row(f"burst of {size} sent at once", await burst(notifier, arr, size, f"b{size}"))
    await notifier.aclose()

    if not available():
        print("\npeer: skipped (prometheus-alertmanager is not installed)")
    else:
        with tempfile.TemporaryDirectory(prefix="bench-am-") as tmp, \
                run_alertmanager(Path(tmp), webhook_url=url + "/am") as base:
            print("\npeer: Alertmanager (group_wait 0s): push /api/v2/alerts -> its webhook")
            await peer(base, arr, 3)  # warm
            pmed, pp99 = row("Alertmanager's own delivery", await peer(base, arr, args.peer_n))
            for size in sorted({10, 50, args.n}):
                row(f"burst of {size} in one push", await peer_burst(base, arr, size))
            chain = Notifier([AlertmanagerTarget(name="am", url=base, retries=0)])
            await sequential(chain, arr, 3, "chain-warm")
            row("ours -> Alertmanager -> webhook", await sequential(chain, arr, args.peer_n,
                                                                    "chain"))
            await chain.aclose()
            print(f"\nratio Alertmanager / ours (median): {pmed / med:.1f}x   "
                  f"(p99: {pp99 / p99:.1f}x)")
    verdict = "ok" if p99 / 1000 < GOAL_S else "MISSED"
    print(f"goal: webhook < {GOAL_S:g} s after the transition (p99 one at a time): "
          f"{p99:.1f} ms -> {verdict}")
    srv.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
