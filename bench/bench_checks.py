"""Benchmark: 200 HTTP checks (20 of them hanging) through `opsconsole check`, against the
same checks run one after another with curl, in the same run.

    python bench/bench_checks.py [--checks 200] [--hanging 20] [--timeout 2]

Prints wall time and CPU (user+sys of the child processes) for each, and the ratios. The
targets are asyncio HTTP servers on 127.0.0.1 in a separate process (so their CPU is not
counted); the hanging ones accept the connection and never answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def serve(ports_q: mp.Queue, n_servers: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            if b" /hang" in line:
                await asyncio.sleep(3600)
            body = b"status: ok\n"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(body), body))
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
                   for _ in range(n_servers)]
        ports_q.put([s.sockets[0].getsockname()[1] for s in servers])
        await asyncio.Event().wait()

    asyncio.run(main())


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def measure(fn) -> tuple[float, float, object]:
    cpu0, t0 = children_cpu(), time.monotonic()
    out = fn()
    return time.monotonic() - t0, children_cpu() - cpu0, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=200)
    ap.add_argument("--hanging", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--servers", type=int, default=10)
    args = ap.parse_args()

    q: mp.Queue = mp.Queue()
    proc = mp.Process(target=serve, args=(q, args.servers), daemon=True)
    proc.start()
    ports = q.get(timeout=10)
    urls = []
    for i in range(args.checks):
        port = ports[i % len(ports)]
        path = "/hang" if i < args.hanging else f"/health?i={i}"
        urls.append(f"http://127.0.0.1:{port}{path}")

    tmp = Path(tempfile.mkdtemp(prefix="bench-checks-"))
    cfg = tmp / "config.yaml"
    lines = ["checks:"]
    for i, url in enumerate(urls):
        lines.append(f"  - {{name: c{i:03d}, kind: http, url: \"{url}\", "
                     f"timeout: {args.timeout}s, body_contains: ok}}")
    cfg.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OPSCONSOLE_DATA_DIR=str(tmp / "data"))

    def opsconsole(*extra: str) -> dict:
        p = subprocess.run([sys.executable, "-m", "opsconsole", "check", "--config", str(cfg),
                            "--json", *extra], capture_output=True, text=True, env=env,
                           timeout=120)
        return json.loads(p.stdout) | {"rc": p.returncode}

    def curl_all() -> list[str]:
        codes = []
        for url in urls:
            p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "--max-time", str(args.timeout), url],
                               capture_output=True, text=True)
            codes.append(p.stdout or f"exit {p.returncode}")
        return codes

    print(f"{args.checks} http checks ({args.hanging} hanging), timeout {args.timeout:g}s, "
          f"{len(ports)} target servers, {os.cpu_count()} cores")
    w_one, c_one, _ = measure(lambda: opsconsole("--only", "c199"))
    print(f"  opsconsole check, 1 check (startup cost) : wall {w_one:6.2f}s  cpu {c_one:5.2f}s")
    results = []
    for _ in range(3):
        w, c, out = measure(opsconsole)
        results.append((w, c, out))
    w_ops = sorted(r[0] for r in results)[1]
    c_ops = sorted(r[1] for r in results)[1]
    out = results[0][2]
    states = {}
    for chk in out["checks"]:  # type: ignore[index]
        states[chk["state"]] = states.get(chk["state"], 0) + 1
    slowest = max(chk["details"].get("elapsed", 0) for chk in out["checks"])  # type: ignore[index]
    print(f"  opsconsole check, all (median of 3)      : wall {w_ops:6.2f}s  cpu {c_ops:5.2f}s  "
          f"exit {out['rc']}  states {states}  slowest check {slowest:.2f}s")  # type: ignore[index]
    print("     runs: " + ", ".join(f"{r[0]:.2f}s/{r[1]:.2f}s cpu" for r in results))
    print(f"     over the timeout: {w_ops - args.timeout:+.2f}s "
          f"(incl. {w_one:.2f}s interpreter start and imports)")
    if shutil.which("curl"):
        w_curl, c_curl, codes = measure(curl_all)
        ok = sum(1 for c in codes if c == "200")  # type: ignore[union-attr]
        print(f"  curl, sequential                         : wall {w_curl:6.2f}s  cpu {c_curl:5.2f}s  "
              f"{ok} OK, {len(codes) - ok} failed")  # type: ignore[arg-type]
        print(f"  ratio wall curl/opsconsole: {w_curl / w_ops:.1f}x   "
              f"cpu opsconsole/curl: {c_ops / max(c_curl, 1e-9):.2f}x")
    else:
        print("  curl not found: no comparison")
    proc.terminate()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
