"""The shared store's own asyncio loop, in a daemon thread: the synchronous ``Store``
methods (called from worker threads, the CLI, the watcher) hand it coroutines and wait with
a bound. Nothing of it runs on the caller's event loop (the UI's)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class StoreLoop:
    """One event loop in one daemon thread."""

    def __init__(self, name: str = "opsconsole-shared-store") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=name)
        self.thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait at most ``timeout`` seconds (TimeoutError)."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("StoreLoop.call from the store's own loop would deadlock")

        async def bounded() -> T:
            return await asyncio.wait_for(coro, timeout)

        fut = asyncio.run_coroutine_threadsafe(bounded(), self.loop)
        try:
            return fut.result(timeout + 2.0)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"no answer within {timeout:g}s") from None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(5)
