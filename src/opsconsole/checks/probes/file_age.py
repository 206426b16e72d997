"""``file_age`` checks: the newest file matching a glob is recent (and big) enough."""

from __future__ import annotations

import glob
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import State, run_blocking
from opsconsole.checks.spec import FileAgeCheck
from opsconsole.fmt import duration, human_bytes

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


def _newest(pattern: str) -> tuple[str, float, int] | None:
    best: tuple[str, float, int] | None = None
    for p in glob.iglob(os.path.expanduser(pattern), recursive=True):
        try:
            st = os.stat(p)
        except OSError:
            continue
        if not os.path.isfile(p):
            continue
        if best is None or st.st_mtime > best[1]:
            best = (p, st.st_mtime, st.st_size)
    return best


async def probe(spec: FileAgeCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    newest = await run_blocking(spec, _newest, spec.path)
    if newest is None:
        return "CRITICAL", f"no file matches {spec.path}", None, details
    path, mtime, size = newest
    age = max(time.time() - mtime, 0.0)
    details.update(path=path, age=round(age, 3), size=size,
                   mtime=datetime.fromtimestamp(mtime, UTC).isoformat())
    name = os.path.basename(path)
    if age > spec.max_age:
        return ("CRITICAL", f"newest {name} is {duration(age)} old (limit {duration(spec.max_age)})",
                None, details)
    if spec.min_size is not None and size < spec.min_size:
        return ("CRITICAL", f"newest {name} is {human_bytes(size)} (expected at least "
                f"{human_bytes(spec.min_size)})", None, details)
    if spec.warn_age is not None and age > spec.warn_age:
        return ("WARNING", f"newest {name} is {duration(age)} old (warning at "
                f"{duration(spec.warn_age)})", None, details)
    return "OK", f"newest {name} is {duration(age)} old, {human_bytes(size)}", None, details
