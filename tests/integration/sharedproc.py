"""Processes of tests/sharedhelper.py, read line by line (JSON) in a thread."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from conftest import cli_env

HELPER = str(Path(__file__).resolve().parents[1] / "sharedhelper.py")


class Proc:
    def __init__(self, *args: str, host: str) -> None:
        self.lines: list[dict[str, Any]] = []
        self.p = subprocess.Popen([sys.executable, HELPER, *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env=cli_env({"OPSCONSOLE_HOST": host}))
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                self.lines.append({"raw": line})

    def has(self, **kw: Any) -> dict[str, Any] | None:
        for d in list(self.lines):
            if all(d.get(k) == v for k, v in kw.items()):
                return d
        return None

    def stop(self) -> str:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(30)
        return self.p.stderr.read() if self.p.stderr else ""
