"""A real ``opsconsole serve`` subprocess on a free port, and headless Chromium viewers
(Selenium + Debian's chromium-driver) that record what the page's websocket receives."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from conftest import cli_env
from eventually import eventually_sync

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# Before the page's own scripts: keep every websocket message as text (the terminal draws
# on a canvas, so the DOM holds no text; what the terminal was sent does).
CAPTURE_JS = r"""
window.__ws = []; window.__wsBytes = 0;
const Orig = window.WebSocket;
function keep(data) {
  const push = (buf) => { window.__wsBytes += buf.byteLength;
                          window.__ws.push(new TextDecoder().decode(buf)); };
  if (typeof data === "string") { window.__wsBytes += data.length; window.__ws.push(data); }
  else if (data instanceof ArrayBuffer) push(data);
  else if (data && data.arrayBuffer) data.arrayBuffer().then(push);
}
window.WebSocket = function (url, protocols) {
  const ws = protocols === undefined ? new Orig(url) : new Orig(url, protocols);
  ws.addEventListener("message", (ev) => keep(ev.data));
  return ws;
};
window.WebSocket.prototype = Orig.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""


def chromium_missing() -> str | None:
    """Why a browser test cannot run here (None: it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            return f"{path} is missing (Debian: apt-get install {pkg})"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Served:
    """``opsconsole serve`` running (in its own session: no controlling terminal)."""

    def __init__(self, data_dir: Path, *args: str, host: str = "127.0.0.2",
                 env: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = free_port(host if host not in ("0.0.0.0", "::") else "127.0.0.1")
        self.log = data_dir.parent / f"serve-{self.port}.log"
        self._log = open(self.log, "w+b")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opsconsole", "serve", "--host", host, "--port",
             str(self.port), "--data-dir", str(data_dir), *args],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env=cli_env({"OPSCONSOLE_DATA_DIR": str(data_dir), **(env or {})}))
        connect = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        self.base = f"http://{connect}:{self.port}"
        eventually_sync(self._up, 30, what=f"opsconsole serve on {self.base}",
                        last=self.output)

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited {self.proc.returncode}: {self.output()}")
        try:
            with socket.create_connection((self.base.split("//")[1].split(":")[0],
                                           self.port), timeout=1):
                return True
        except OSError:
            return False

    def output(self) -> str:
        self._log.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


def browser(width: int = 1600, height: int = 1000):
    """A headless Chromium that records its websocket messages (see CAPTURE_JS)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={width},{height}", "--mute-audio"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE_JS})
    return driver


def received(driver) -> str:
    """Everything the page's websocket received so far, as text."""
    return "".join(driver.execute_script("return window.__ws || []"))
