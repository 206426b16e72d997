"""The systemd notify protocol, against a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import socket

from opsconsole.sdnotify import Notifier


def listener(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(5)
    return s


def test_messages_reach_the_socket(tmp_path):
    path = str(tmp_path / "notify")
    with listener(path) as s:
        n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000",
                      "WATCHDOG_PID": str(os.getpid())})
        assert n.enabled and n.ping_interval() == 10.0
        assert n.ready("evaluating 3 rules")
        assert s.recv(4096) == b"READY=1\nSTATUS=evaluating 3 rules"
        assert n.watchdog()
        assert s.recv(4096) == b"WATCHDOG=1"
        assert n.status("line one\nline two")  # one line: a newline would start a field
        assert s.recv(4096) == b"STATUS=line one line two"


def test_abstract_namespace_socket():
    name = f"opsconsole-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        s.settimeout(5)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert s.recv(4096) == b"STOPPING=1"


def test_without_systemd_nothing_happens(tmp_path):
    n = Notifier({})
    assert not n.enabled and not n.ready() and n.ping_interval(7) == 7
    # a socket that is gone is not an error either
    assert not Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).watchdog()
    # a watchdog meant for another pid (a parent) is not ours
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_seconds is None
