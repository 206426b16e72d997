"""Fixed host data for deterministic screens (a fake only to make snapshot images stable)."""

from __future__ import annotations

from datetime import UTC, datetime

from opsconsole.sources.host import FsUsage, HostSnapshot, NetRate, ProcRow

FIXED_NOW = datetime(2026, 11, 24, 3, 12, 0, tzinfo=UTC)
GiB = 1024**3


def fixed_snapshot(cpu: float = 37.5) -> HostSnapshot:
    procs = tuple(
        ProcRow(pid, user, c, m, cmd, "running")
        for pid, user, c, m, cmd in [
            (4242, "postgres", 92.0, 12.5, "postgres: app app 10.0.0.7(51234) SELECT"),
            (1337, "www-data", 45.1, 3.2, "/usr/bin/python3 -m gunicorn api.wsgi --workers 4"),
            (2001, "root", 12.0, 0.8, "/usr/sbin/nginx -g daemon off;"),
            (88, "root", 0.5, 0.1, "/lib/systemd/systemd-journald"),
            (1, "root", 0.0, 0.2, "/sbin/init"),
            (3050, "backup", 0.0, 1.5, "pg_dump -Fc app -f /var/backups/db/app.dump"),
        ]
    )
    return HostSnapshot(
        taken_at=FIXED_NOW.timestamp(),
        cpu_total=cpu,
        per_core=(cpu + 20, cpu - 20, cpu + 50, cpu - 30),
        load=(3.9, 2.1, 1.2),
        cores=4,
        mem_total=16 * GiB,
        mem_used=int(12.2 * GiB),
        mem_percent=76.2,
        swap_total=2 * GiB,
        swap_used=int(0.1 * GiB),
        swap_percent=5.0,
        filesystems=(
            FsUsage("/", "/dev/sda1", "ext4", 100 * GiB, 93 * GiB, 7 * GiB, 93.0),
            FsUsage("/var/lib/postgresql", "/dev/sdb1", "xfs", 500 * GiB, 260 * GiB, 240 * GiB, 52.0),
        ),
        disk_read=12.5 * 1024**2,
        disk_write=3.1 * 1024**2,
        net=(NetRate("eth0", 2.5 * 1024**2, 640 * 1024),),
        processes=procs,
        process_count=len(procs),
        uptime=86400 * 12,
    )


class FixedCollector:
    """Always returns the same snapshot."""

    def __init__(self, snap: HostSnapshot | None = None) -> None:
        self.snap = snap or fixed_snapshot()
        self.calls = 0

    def collect(self) -> HostSnapshot:
        self.calls += 1
        return self.snap
