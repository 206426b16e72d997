"""``disk`` checks: free space on the filesystem holding a path."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import Outcome, State, run_blocking
from opsconsole.checks.spec import DiskCheck
from opsconsole.fmt import human_bytes

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


async def probe(spec: DiskCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    path = os.path.expanduser(spec.path)
    try:
        st = await run_blocking(spec, os.statvfs, path)
    except FileNotFoundError:
        raise Outcome("UNKNOWN", f"{spec.path} does not exist") from None
    except OSError as exc:
        raise Outcome("UNKNOWN", f"cannot stat {spec.path}: {exc.strerror or exc}") from None
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    pct = free * 100.0 / total if total else 0.0
    details.update(free=free, total=total, free_percent=round(pct, 2))
    msg = f"{spec.path}: {human_bytes(free)} free of {human_bytes(total)} ({pct:.1f}%)"
    if spec.crit_free.breached(free, total):
        return "CRITICAL", f"{msg}, below {spec.crit_free}", None, details
    if spec.warn_free.breached(free, total):
        return "WARNING", f"{msg}, below {spec.warn_free}", None, details
    return "OK", msg, None, details
