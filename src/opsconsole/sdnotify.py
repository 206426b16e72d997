"""systemd's notify protocol, for ``opsconsole watch`` under ``Type=notify`` and
``WatchdogSec=``: ``READY=1`` once the first evaluation ran, ``WATCHDOG=1`` from the loop
that does the work (so a wedged loop is restarted by systemd, not just a dead process),
``STATUS=`` with one line of what it is doing, ``STOPPING=1`` on the way out.

The protocol is one datagram per message to the AF_UNIX socket named by ``$NOTIFY_SOCKET``
(a path, or ``@name`` for the abstract namespace). Without that variable every call does
nothing: the same code runs from a terminal, a container or a unit.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        addr = env.get("NOTIFY_SOCKET", "")
        if addr.startswith("@"):
            addr = "\0" + addr[1:]
        self.address = addr or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        ok_pid = not pid or pid == str(os.getpid())
        self.watchdog_seconds = int(usec) / 1e6 if usec.isdigit() and ok_pid else None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str) -> bool:
        """Send ``KEY=value`` lines (e.g. ``send(READY="1", STATUS="…")``); False when
        there is no socket or the send failed (never raises: systemd is optional)."""
        if self.address is None:
            return False
        text = "\n".join(f"{k}={' '.join(str(v).splitlines())}" for k, v in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.settimeout(1.0)
                s.connect(self.address)
                s.sendall(text.encode("utf-8", "replace"))
            return True
        except OSError:
            return False

    def ready(self, status: str = "") -> bool:
        return self.send(READY="1", **({"STATUS": status} if status else {}))

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def stopping(self) -> bool:
        return self.send(STOPPING="1")

    def ping_interval(self, default: float = 10.0) -> float:
        """How often to send WATCHDOG=1: half the watchdog timeout systemd asked for."""
        return self.watchdog_seconds / 2 if self.watchdog_seconds else default
