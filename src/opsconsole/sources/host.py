"""Host figures from psutil as immutable snapshots. Never imports Textual.

Costs: system-wide calls are ~1 ms; a process sweep is 10–300 ms, so the
process list is sampled less often than CPU/memory, asks psutil for few attributes, and
fetches username/cmdline only for processes not seen before. Filesystems change rarely and
are sampled every ``filesystem_interval``. :meth:`HostCollector.collect` blocks: call it in a
thread, never on the UI loop.

:func:`key_figures` is the one "key host figures" dict: what a ``host.snapshot`` event and a
runbook step's ``host_before`` / ``host_after`` carry, and what
:func:`opsconsole.incidents.describe.host_figures` renders.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from opsconsole.events import SNAPSHOT, Event, EventSink
from opsconsole.secrets import mask_command_line

PSEUDO_FS = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
        "devtmpfs", "efivarfs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fusectl",
        "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs", "rpc_pipefs", "securityfs",
        "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs", "iso9660", "nfsd", "none",
    }
)


# the cheap per-sweep attributes; user and command are asked once per process
PROC_ATTRS = ("pid", "cpu_times", "memory_info", "status")


@dataclass(frozen=True)
class FsUsage:
    mountpoint: str
    device: str
    fstype: str
    total: int
    used: int
    free: int
    percent: float


@dataclass(frozen=True)
class NetRate:
    name: str
    rx: float  # bytes/s
    tx: float


@dataclass(frozen=True)
class ProcRow:
    pid: int
    user: str
    cpu: float
    mem: float
    command: str
    status: str = ""


@dataclass(frozen=True)
class HostSnapshot:
    taken_at: float  # time.time()
    cpu_total: float
    per_core: tuple[float, ...]
    load: tuple[float, float, float]
    cores: int
    mem_total: int
    mem_used: int
    mem_percent: float
    swap_total: int
    swap_used: int
    swap_percent: float
    filesystems: tuple[FsUsage, ...]
    disk_read: float | None  # bytes/s, None before the second sample
    disk_write: float | None
    net: tuple[NetRate, ...]
    processes: tuple[ProcRow, ...]
    process_count: int
    uptime: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def real_filesystems(partitions: list[Any]) -> list[Any]:
    """Keep real mounted filesystems: no pseudo/virtual ones, one entry per device."""
    seen: dict[str, Any] = {}
    for p in partitions:
        fstype = (p.fstype or "").lower()
        if fstype in PSEUDO_FS:
            continue
        if fstype == "overlay" and p.mountpoint != "/":
            continue  # container layers; keep the root of a container
        if p.mountpoint.startswith(("/proc", "/sys", "/dev/", "/run/")) or p.mountpoint == "/dev":
            continue
        if p.mountpoint.startswith("/snap/"):
            continue
        key = p.device if p.device not in ("", "none") else p.mountpoint
        prev = seen.get(key)
        if prev is None or len(p.mountpoint) < len(prev.mountpoint):
            seen[key] = p
    return sorted(seen.values(), key=lambda p: p.mountpoint)


class HostCollector:
    """Samples the host; keeps the previous counters to turn them into rates."""

    def __init__(self, process_interval: float = 4.0, filesystem_interval: float = 30.0) -> None:
        self.process_interval = process_interval
        self.filesystem_interval = filesystem_interval
        self._last_net: tuple[float, dict[str, Any]] | None = None
        self._last_disk: tuple[float, Any] | None = None
        self._last_procs_at = -1e9
        self._procs: tuple[ProcRow, ...] = ()
        self._proc_count = 0
        self._last_fs_at = -1e9
        self._fs: tuple[FsUsage, ...] = ()
        self._who: dict[int, tuple[Any, str, str]] = {}
        self._cpu: dict[int, tuple[float, float]] = {}  # pid -> (cpu seconds, monotonic)
        self._cores = psutil.cpu_count() or 1
        psutil.cpu_percent(percpu=True)  # prime the cpu counters
        self._boot = psutil.boot_time()

    def collect(self, force_processes: bool = False) -> HostSnapshot:
        now = time.monotonic()
        per_core = tuple(psutil.cpu_percent(percpu=True))
        total = sum(per_core) / len(per_core) if per_core else 0.0
        try:
            load = os.getloadavg()
        except OSError:
            load = (0.0, 0.0, 0.0)
        vm = psutil.virtual_memory()
        sw = psutil.swap_memory()
        if now - self._last_fs_at >= self.filesystem_interval:
            self._fs = self._filesystems()
            self._last_fs_at = now
        disk_read = disk_write = None
        try:
            io = psutil.disk_io_counters()
        except (OSError, RuntimeError):
            io = None
        if io is not None:
            if self._last_disk is not None:
                dt = now - self._last_disk[0]
                if dt > 0:
                    disk_read = max(0.0, (io.read_bytes - self._last_disk[1].read_bytes) / dt)
                    disk_write = max(0.0, (io.write_bytes - self._last_disk[1].write_bytes) / dt)
            self._last_disk = (now, io)
        net = self._net(now)
        if force_processes or now - self._last_procs_at >= self.process_interval:
            self._procs, self._proc_count = self._processes(vm.total)
            self._last_procs_at = now
        return HostSnapshot(
            taken_at=time.time(),
            cpu_total=total,
            per_core=per_core,
            load=(float(load[0]), float(load[1]), float(load[2])),
            cores=self._cores,
            mem_total=vm.total,
            mem_used=vm.total - vm.available,
            mem_percent=vm.percent,
            swap_total=sw.total,
            swap_used=sw.used,
            swap_percent=sw.percent,
            filesystems=self._fs,
            disk_read=disk_read,
            disk_write=disk_write,
            net=net,
            processes=self._procs,
            process_count=self._proc_count,
            uptime=time.time() - self._boot,
        )

    def _filesystems(self) -> tuple[FsUsage, ...]:
        out = []
        for p in real_filesystems(psutil.disk_partitions(all=False)):
            try:
                u = psutil.disk_usage(p.mountpoint)
            except OSError:
                continue
            if u.total == 0:
                continue
            out.append(FsUsage(p.mountpoint, p.device, p.fstype, u.total, u.used, u.free, u.percent))
        return tuple(out)

    def _net(self, now: float) -> tuple[NetRate, ...]:
        try:
            counters = psutil.net_io_counters(pernic=True)
        except OSError:
            return ()
        rates = []
        if self._last_net is not None:
            then, prev = self._last_net
            dt = now - then
            for name, c in counters.items():
                if name == "lo" or name not in prev or dt <= 0:
                    continue
                p = prev[name]
                rates.append(
                    NetRate(name, max(0.0, (c.bytes_recv - p.bytes_recv) / dt),
                            max(0.0, (c.bytes_sent - p.bytes_sent) / dt))
                )
        self._last_net = (now, counters)
        return tuple(sorted(rates, key=lambda r: r.name))

    def _processes(self, mem_total: int) -> tuple[tuple[ProcRow, ...], int]:
        """One sweep. Asks psutil only for cpu_times, memory_info and status (one read of
        /proc/PID/stat and one of statm); CPU % is the delta of cpu_times since the last
        sweep (as psutil's cpu_percent, 100 = one core). User and command are read once per
        process, when it is first seen."""
        rows = []
        alive = set()
        now = time.monotonic()
        for proc in psutil.process_iter(PROC_ATTRS):
            info = proc.info
            pid = info["pid"]
            alive.add(pid)
            who = self._who.get(pid)
            if who is None or who[0] is not proc:
                who = (proc, *self._identify(proc))
                self._who[pid] = who
                self._cpu.pop(pid, None)
            ct = info.get("cpu_times")
            cpu = 0.0
            if ct is not None:
                used = ct.user + ct.system
                prev = self._cpu.get(pid)
                if prev is not None and now > prev[1]:
                    cpu = round(max(0.0, (used - prev[0]) / (now - prev[1]) * 100.0), 1)
                self._cpu[pid] = (used, now)
            mi = info.get("memory_info")
            mem = (mi.rss * 100.0 / mem_total) if (mi is not None and mem_total) else 0.0
            rows.append(ProcRow(pid, who[1], cpu, mem, who[2], info.get("status") or ""))
        for pid in list(self._who):
            if pid not in alive:
                del self._who[pid]
                self._cpu.pop(pid, None)
        return tuple(rows), len(rows)

    @staticmethod
    def _identify(proc: Any) -> tuple[str, str]:
        """(user, command) of a process; asked once per process (the dear attributes)."""
        try:
            user = proc.username()
        except (psutil.Error, KeyError):
            user = "?"
        try:
            # other users' command lines carry their passwords (--password=…, URLs, -p pw):
            # masked here, once, so no pane, filter or recorded figure ever holds them
            cmd = " ".join(mask_command_line(proc.cmdline()))
        except psutil.Error:
            cmd = ""
        if not cmd:
            try:
                cmd = f"[{proc.name()}]"
            except psutil.Error:
                cmd = "[?]"
        return user, cmd


KEY_FIGURES = ("cpu", "load1", "load5", "load15", "cores", "mem", "mem_used", "mem_total",
               "swap", "filesystems", "processes")


def key_figures(snap: HostSnapshot) -> dict[str, Any]:
    """The key host figures of a snapshot, as plain JSON (keys: :data:`KEY_FIGURES`; the
    four fullest filesystems)."""
    fs = sorted(snap.filesystems, key=lambda f: -f.percent)[:4]
    return {
        "cpu": round(float(snap.cpu_total), 1),
        "load1": round(float(snap.load[0]), 2),
        "load5": round(float(snap.load[1]), 2),
        "load15": round(float(snap.load[2]), 2),
        "cores": int(snap.cores),
        "mem": round(float(snap.mem_percent), 1),
        "mem_used": int(snap.mem_used),
        "mem_total": int(snap.mem_total),
        "swap": round(float(snap.swap_percent), 1),
        "filesystems": [{"mount": f.mountpoint, "percent": round(float(f.percent), 1)}
                        for f in fs],
        "processes": int(snap.process_count),
    }


def take_snapshot(sink: EventSink, collector: HostCollector | None = None, *,
                  incident_id: str | None = None) -> Event:
    """Record a ``host.snapshot`` event with the :func:`key_figures` (blocking: call it in a
    thread). Without a ``collector`` a fresh one is primed first so its CPU figure is real."""
    if collector is None:
        collector = HostCollector()
        time.sleep(0.25)  # psutil needs an interval between two cpu samples
    snap = collector.collect(force_processes=True)
    return sink.record(SNAPSHOT, key_figures(snap), incident_id=incident_id)
