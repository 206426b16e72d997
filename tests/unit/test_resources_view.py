"""Snapshot → rows for the resources pane, without a terminal."""

from __future__ import annotations

from dataclasses import replace

from hostdata import fixed_snapshot
from opsconsole.config import Levels, Thresholds
from opsconsole.sources.host import HostCollector, ProcRow, real_filesystems
from opsconsole.ui.panes.resources import History, process_cells, process_rows, summary_lines
from opsconsole.ui.widgets import bar, sparkline


def lines(snap=None, th=None, width=100):
    snap = snap or fixed_snapshot()
    hist = History.sized(10)
    hist.add(snap)
    return [t.plain for t in summary_lines(snap, hist, th or Thresholds(), width)]


def test_summary_has_every_figure():
    text = "\n".join(lines())
    assert "CPU" in text and "37.5%" in text
    assert "LOAD  3.90  2.10  1.20" in text and "4 cores" in text
    assert "MEM" in text and "76.2%" in text and "16G" in text
    assert "SWAP" in text and "5.0%" in text
    assert "NET  eth0 ↓2.5M/s ↑640K/s" in text
    assert "I/O  read 12M/s  write 3.1M/s" in text
    assert "/var/lib/postgresql" in text


def test_levels_are_words_not_only_colour():
    out = lines()
    fs_root = next(line for line in out if line.startswith("FS   / "))
    assert "93.0% CRIT" in fs_root  # 93 % >= critical 90
    mem = next(line for line in out if line.startswith("MEM"))
    assert "76.2% WARN" in mem  # 76 % >= warning 70
    fs_pg = next(line for line in out if "/var/lib/postgresql" in line)
    assert "52.0%" in fs_pg and "WARN" not in fs_pg and "CRIT" not in fs_pg
    load = next(line for line in out if line.startswith("LOAD"))
    # 3.9 load on 4 cores = 0.975 per core: careful (>= 0.7) but not warning (1.0)
    assert "WARN" not in load


def test_thresholds_from_config_change_levels():
    th = Thresholds(memory=Levels(90, 95, 99))
    mem = next(line for line in lines(th=th) if line.startswith("MEM"))
    assert "WARN" not in mem and "CRIT" not in mem


def test_per_core_marks_hot_cores():
    out = lines()
    cores = out[1]
    assert " 2  88%!" in cores  # 37.5 + 50, above warning
    assert " 1  18% " in cores


def test_no_swap_and_measuring_states():
    snap = replace(fixed_snapshot(), swap_total=0, disk_read=None, disk_write=None, net=())
    text = "\n".join(lines(snap))
    assert "SWAP none" in text
    assert "I/O  measuring…" in text and "NET  measuring…" in text


def test_process_rows_sort_filter_top():
    snap = fixed_snapshot()
    by_cpu = process_rows(snap.processes, "cpu", 3)
    assert [p.pid for p in by_cpu] == [4242, 1337, 2001]
    by_mem = process_rows(snap.processes, "memory", 2)
    assert [p.pid for p in by_mem] == [4242, 1337]
    assert [p.pid for p in process_rows(snap.processes, "cpu", 10, "PG_DUMP")] == [3050]
    assert [p.pid for p in process_rows(snap.processes, "cpu", 10, "www-data")] == [1337]
    assert [p.pid for p in process_rows(snap.processes, "cpu", 10, "4242")] == [4242]


def test_process_cells_are_one_line():
    p = ProcRow(7, "a-very-long-user-name", 1.25, 0.5, "python -c 'x\ny'\tz")
    cells = process_cells(p, Thresholds())
    assert cells[0] == "7" and cells[2] == "  1.2" and "\n" not in cells[4] and "\t" not in cells[4]
    assert len(cells[1]) <= 10


def test_sparkline_and_bar():
    assert sparkline([0, 50, 100], 5, top=100) == "  ▁▅█"
    assert sparkline([], 3) == "   "
    assert len(sparkline(range(100), 10)) == 10
    assert bar(50, 10) == "|||||     "
    assert bar(150, 4) == "||||"


def test_real_filesystems_drop_pseudo_and_bind_mounts():
    class P:
        def __init__(self, device, mountpoint, fstype):
            self.device, self.mountpoint, self.fstype = device, mountpoint, fstype

    parts = [P("/dev/sda1", "/", "ext4"), P("tmpfs", "/run", "tmpfs"), P("proc", "/proc", "proc"),
             P("/dev/sda1", "/srv/bind", "ext4"), P("overlay", "/var/lib/docker/x", "overlay"),
             P("/dev/loop1", "/snap/core/1", "squashfs"), P("/dev/sdb1", "/data", "xfs")]
    assert [p.mountpoint for p in real_filesystems(parts)] == ["/", "/data"]


def test_host_collector_reads_this_host():
    c = HostCollector(process_interval=0, filesystem_interval=0)
    first = c.collect()
    second = c.collect(force_processes=True)
    assert first.cores >= 1 and len(second.per_core) == first.cores
    assert 0 <= second.mem_percent <= 100
    assert second.disk_read is not None or first.disk_read is None
    assert any(p.pid == __import__("os").getpid() for p in second.processes)
    assert second.process_count == len(second.processes)
    assert all(fs.total > 0 for fs in second.filesystems)
