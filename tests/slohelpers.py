"""The metrics app as a real process the SLO tests start, stop and restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

APP = Path(__file__).with_name("metricsapp.py")


class MetricsApp:
    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> MetricsApp:
        self.proc = subprocess.Popen([sys.executable, str(APP), str(self.port)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("listening "), line
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def work(self, n: int, code: int = 200, observe: float = 0.01) -> None:
        with httpx.Client(timeout=30) as c:
            for _ in range(n):
                c.get(f"http://127.0.0.1:{self.port}/work",
                      params={"code": str(code), "observe": str(observe)})
