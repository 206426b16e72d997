"""Run each check on its own interval, concurrently, on the running asyncio loop.

Each check is its own task: a hung target holds only its own task, up to its own timeout,
never the others or the caller. The next run of a check is scheduled when its last run
finishes (runs never pile up). Results go through the :class:`CheckTracker` on the loop (in
memory, quick); only a state change's event is recorded in a worker thread (the sink may
write durably), then ``on_status`` is called on the loop.
Never imports Textual.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import CheckResult, run_check
from opsconsole.checks.tracker import CheckStatus, CheckTracker

if TYPE_CHECKING:
    from opsconsole.checks.spec import CheckSpec
    from opsconsole.config import AppConfig

Runner = Callable[["CheckSpec", "AppConfig | None"], Awaitable[CheckResult]]


class CheckScheduler:
    def __init__(self, specs: Iterable[CheckSpec], config: AppConfig | None,
                 tracker: CheckTracker, runner: Runner | None = None,
                 on_status: Callable[[CheckStatus], Any] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 history: Any = None) -> None:
        self.specs = {s.name: s for s in specs}
        self.config = config
        self.tracker = tracker
        self.runner: Runner = runner or run_check
        self.on_status = on_status
        self.monotonic = monotonic
        self.next_due: dict[str, float] = {name: 0.0 for name in self.specs}
        self.running: dict[str, asyncio.Task[None]] = {}
        self.runs = 0
        self._closing: asyncio.Task[None] | None = None
        self.history = history  # a slo.history.MinuteRecorder: every result, per minute

    def start_due(self) -> int:
        """Start every check that is due and not running; returns how many started."""
        now = self.monotonic()
        started = 0
        for name, spec in self.specs.items():
            if name in self.running or self.next_due[name] > now:
                continue
            self.running[name] = asyncio.ensure_future(self._run(spec))
            started += 1
        return started

    def run_now(self, names: Iterable[str] | None = None) -> int:
        """Make checks due now (all by default) and start them."""
        for name in names if names is not None else list(self.specs):
            if name in self.next_due:
                self.next_due[name] = 0.0
        return self.start_due()

    @property
    def idle(self) -> bool:
        return not self.running

    async def _run(self, spec: CheckSpec) -> None:
        try:
            result = await self.runner(spec, self.config)
            status, events = self.tracker.apply(result, spec.failures_before_critical)
            if self.history is not None:  # in memory; written once a minute
                self.history.add_result(result)
            if events:  # a state change: the sink may write to disk
                await asyncio.to_thread(self.tracker.record_events, events)
            self.runs += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # run_check never raises; a custom runner might: try again later
            status = None
        finally:
            self.next_due[spec.name] = self.monotonic() + float(spec.interval)
            self.running.pop(spec.name, None)
        if status is not None and self.on_status is not None:
            self.on_status(status)

    def stop(self) -> None:
        """Cancel the runs under way and close the pooled HTTP connections."""
        for task in list(self.running.values()):
            task.cancel()
        self.running.clear()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        from opsconsole.checks.probes.http import close_clients

        self._closing = loop.create_task(close_clients())
