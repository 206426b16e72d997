"""Building the app for Pilot and snapshot tests with fixed data and a fixed clock."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventually import eventually
from hostdata import FIXED_NOW, FixedCollector
from opsconsole.config import AppConfig
from opsconsole.incidents.sink import MemorySink
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services


def make_app(config: AppConfig | None = None, *, read_only: bool = False, refresh: float = 3600,
             data_dir: Path | None = None, theme: str | None = None, **services: Any) -> OpsConsoleApp:
    svc = Services(clock=lambda: FIXED_NOW, host_collector=FixedCollector(), sink=MemorySink(),
                   hostname="ops-01")
    for k, v in services.items():
        setattr(svc, k, v)
    if data_dir is None:  # a fresh data dir per app: no incidents leak between tests
        data_dir = Path(tempfile.mkdtemp(prefix="opsconsole-test-data-"))
    opts = RunOptions(read_only=read_only, refresh=refresh, data_dir=data_dir,
                      theme=theme)
    return OpsConsoleApp(config or AppConfig(), opts, svc)


async def wait_for(pilot: Any, cond: Callable[[], Any], timeout: float = 15.0,
                   what: str = "condition") -> Any:
    """Let the app run until ``cond()`` holds (``eventually`` with the Pilot)."""
    return await eventually(cond, timeout, pilot=pilot, what=what)


def resources_ready(app: OpsConsoleApp) -> Callable[[], bool]:
    return lambda: app.pane("resources").polls >= 1


_ = asyncio


async def past_guard(pilot, screen) -> None:
    """Move a guarded confirmation (opsconsole.ui.confirm) past its key guard, as if the
    operator had read it for a while: no sleeping."""
    from opsconsole.ui import confirm

    screen.opened -= confirm.GUARD_SECONDS + 1.0
    screen.arm_now()
    await pilot.pause()
