"""A real little application exposing real ``prometheus_client`` metrics, for the SLO tests
and the benchmark. Run as its own process (so a restart really resets its counters)::

    python tests/metricsapp.py [PORT]      # prints "listening PORT" when ready

``GET /work?code=500&observe=0.3`` counts one request (``http_requests_total{code}``) and
observes that duration in ``http_request_duration_seconds`` (exact, no sleeping; with
``&sleep=0.2`` it also really takes that long). ``GET /metrics`` is the exposition.
``GET /series?n=10000`` exposes n extra gauge series (the benchmark's 10k scrape).
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REG = CollectorRegistry()
REQS = Counter("http_requests", "Requests served", ["code"], registry=REG)
LAT = Histogram("http_request_duration_seconds", "Request latency",
                buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=REG)
EXTRA = Gauge("app_series", "Padding series", ["shard", "instance"], registry=REG)
_extra = [0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        u = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        if u.path == "/work":
            if "sleep" in q:
                time.sleep(min(float(q["sleep"]), 5.0))
            code = q.get("code", "200")
            REQS.labels(code=code).inc()
            LAT.observe(float(q.get("observe", "0.01")))
            body, status = b"done\n", int(code)
        elif u.path == "/series":
            n = int(q.get("n", "0"))
            for i in range(_extra[0], n):
                EXTRA.labels(shard=str(i % 100), instance=f"host-{i}").set(i)
            _extra[0] = max(_extra[0], n)
            body, status = b"ok\n", 200
        elif u.path == "/metrics":
            body, status = generate_latest(REG), 200
        else:
            body, status = b"not found\n", 404
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print(f"listening {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
