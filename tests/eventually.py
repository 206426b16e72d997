"""Waiting on a condition with a bound: the one helper every test uses instead of sleeping.

``eventually`` (async: Pilot tests, asyncio tests) and ``eventually_sync`` (threads,
subprocesses, tmux screens) poll ``condition`` until it returns something truthy and return
that value; after ``timeout`` seconds they fail with ``what`` and, when given, the last
state ``last()`` describes (a tmux screen, a row list) so a failure says what was seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def _failure(what: str, timeout: float, last: Callable[[], Any] | None) -> AssertionError:
    seen = ""
    if last is not None:
        try:
            seen = f"; last seen:\n{last()}"
        except Exception as exc:  # the description itself failed: say so, keep the timeout
            seen = f"; (describing the last state failed: {exc!r})"
    return AssertionError(f"timed out after {timeout:g}s waiting for {what}{seen}")


async def eventually(condition: Callable[[], T | Awaitable[T]], timeout: float = 10.0, *,
                     pilot: Any = None, what: str = "condition", interval: float = 0.02,
                     last: Callable[[], Any] | None = None) -> T:
    """Await until ``condition()`` is truthy (it may be a coroutine function); with a Pilot,
    the app runs between polls (``pilot.pause``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
            value = await value  # type: ignore[misc]
        if value:
            if pilot is not None:
                await pilot.pause()
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise _failure(what, timeout, last)
        if pilot is not None:
            await pilot.pause(interval)
        else:
            await asyncio.sleep(interval)


def eventually_sync(condition: Callable[[], T], timeout: float = 10.0, *,
                    what: str = "condition", interval: float = 0.05,
                    last: Callable[[], Any] | None = None) -> T:
    """Poll ``condition()`` in this thread until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _failure(what, timeout, last)
        time.sleep(interval)


@contextlib.contextmanager
def deadline(seconds: int = 5) -> Iterator[None]:
    """Fail instead of hanging when a regression blocks in C code or never returns (a FIFO
    opened for reading, /dev/zero read, a YAML bomb): SIGALRM raises in the main thread."""

    def boom(signum: int, frame: object) -> None:
        raise AssertionError(f"blocked for more than {seconds}s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
