"""``process`` checks: count processes whose name (or command line) matches a pattern."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import State, run_blocking
from opsconsole.checks.spec import ProcessCheck
from opsconsole.fmt import human_bytes

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


_PROCS: dict[int, Any] = {}  # pid -> psutil.Process, so cpu_percent has a previous sample


def _scan_processes(spec: ProcessCheck) -> list[dict[str, Any]]:
    import psutil

    pat = re.compile(spec.pattern)
    attrs = ["pid", "name"] + (["cmdline"] if spec.match == "cmdline" else [])
    me = os.getpid()
    found = []
    for p in psutil.process_iter(attrs):
        info = p.info
        if info["pid"] == me:
            continue
        if spec.match == "cmdline":
            hay = " ".join(info.get("cmdline") or []) or (info.get("name") or "")
        else:
            hay = info.get("name") or ""
        if not pat.search(hay):
            continue
        proc = _PROCS.get(p.pid)
        seen_before = proc is not None and proc.is_running()
        if not seen_before:
            proc = p
            _PROCS[p.pid] = p
        try:
            with proc.oneshot():
                cpu: float | None = proc.cpu_percent(None)
                rss = proc.memory_info().rss
                mem = proc.memory_percent()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if not seen_before:
            cpu = None  # the first sample has nothing to compare with: unknown, not 0%
        found.append({"pid": p.pid, "name": info.get("name") or "",
                      "cpu": None if cpu is None else round(cpu, 1),
                      "rss": rss, "mem": round(mem, 1)})
    alive = {f["pid"] for f in found}
    for pid in [pid for pid in _PROCS if pid not in alive]:
        if not _PROCS[pid].is_running():
            del _PROCS[pid]
    return sorted(found, key=lambda f: f["pid"])


async def probe(spec: ProcessCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    found = await run_blocking(spec, _scan_processes, spec)
    details["processes"] = found
    n = len(found)
    pids = ", ".join(str(f["pid"]) for f in found[:8]) + (" …" if n > 8 else "")
    cpus = [f["cpu"] for f in found if f["cpu"] is not None]
    cpu = f"cpu {sum(cpus):.1f}%" if len(cpus) == len(found) else "cpu n/a (first sample)"
    rss = sum(f["rss"] for f in found)
    what = f"{n} process{'es' if n != 1 else ''}"
    if n < spec.min_count:
        return ("CRITICAL", f"{what} matching {spec.pattern!r} (expected at least "
                f"{spec.min_count})" + (f": pids {pids}" if n else ""), None, details)
    if spec.max_count is not None and n > spec.max_count:
        return ("WARNING", f"{what} matching {spec.pattern!r} (expected at most "
                f"{spec.max_count}): pids {pids}", None, details)
    if n == 0:
        return "OK", f"no process matches {spec.pattern!r} (as expected)", None, details
    return "OK", f"{what}: pids {pids} · {cpu} · rss {human_bytes(rss)}", None, details
