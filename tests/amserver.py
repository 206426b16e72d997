"""A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 for tests and bench.

``run_alertmanager(tmp, webhook_url=...)`` starts one on a free port with a minimal config
(one route; a webhook receiver when given, ``group_wait`` 0s) and a private storage path,
waits for ``/-/ready`` with a bound, and stops it (SIGTERM, then SIGKILL) at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def available() -> bool:
    return os.access(ALERTMANAGER, os.X_OK)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(webhook_url: str | None, group_wait: str) -> str:
    receiver = {"name": "hook"}
    if webhook_url:
        receiver["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    cfg = {
        "route": {"receiver": "hook", "group_by": ["alertname"], "group_wait": group_wait,
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [receiver],
    }
    return json.dumps(cfg)  # JSON is YAML


def get_json(url: str, timeout: float = 5.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - 127.0.0.1
        return json.loads(resp.read())


@contextlib.contextmanager
def run_alertmanager(tmp: Path, webhook_url: str | None = None, group_wait: str = "0s",
                     ready_timeout: float = 20.0) -> Iterator[str]:
    """Yields the base URL ``http://127.0.0.1:PORT``."""
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "alertmanager.yml"
    conf.write_text(_config(webhook_url, group_wait))
    last_err = ""
    for _ in range(3):  # a free port may be taken between finding and binding it
        port = _free_port()
        log = open(tmp / f"am-{port}.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={conf}", f"--storage.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + ready_timeout
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=1) as r:  # noqa: S310
                    ready = r.status == 200
            except OSError as exc:
                last_err = str(exc)
            if ready:
                break
            time.sleep(0.05)
        if not ready:
            proc.kill()
            proc.wait(5)
            log.close()
            last_err = (tmp / f"am-{port}.log").read_text(errors="replace")[-500:] or last_err
            continue
        try:
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
        return
    raise RuntimeError(f"alertmanager did not become ready: {last_err}")
