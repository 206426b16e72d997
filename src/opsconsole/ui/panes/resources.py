"""The resources pane: CPU, load, memory/swap, filesystems, disk I/O, network, processes.

``summary_lines`` and ``process_rows`` are pure functions of a snapshot (unit-tested without a
terminal). The pane draws the summary with a :class:`LineBlock` (only changed lines are
repainted) and the processes with a DataTable updated by row key, so the cursor stays on the
same process across refreshes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from opsconsole.config import Levels, Thresholds
from opsconsole.fmt import human_bytes, one_line
from opsconsole.secrets import mask_command_line
from opsconsole.sources.host import HostCollector, HostSnapshot, ProcRow
from opsconsole.ui import compat
from opsconsole.ui.actions import ActionSpec
from opsconsole.ui.panes.base import PolledPane
from opsconsole.ui.styles import level_styles as theme_level_styles
from opsconsole.ui.widgets import LineBlock, bar, selected_key, sparkline, sync_table

LEVEL_TAG = {"ok": "", "careful": "", "warning": " WARN", "critical": " CRIT"}


@dataclass
class History:
    """Bounded buffers for the sparklines."""

    cpu: deque[float]
    mem: deque[float]
    net: deque[float]

    @classmethod
    def sized(cls, n: int) -> History:
        return cls(deque(maxlen=n), deque(maxlen=n), deque(maxlen=n))

    def add(self, snap: HostSnapshot) -> None:
        self.cpu.append(snap.cpu_total)
        self.mem.append(snap.mem_percent)
        self.net.append(sum(r.rx + r.tx for r in snap.net))


def _level_text(label: str, value: float, levels: Levels, styles: dict[str, str],
                fmt: str = "{:5.1f}%") -> Text:
    lvl = levels.level(value)
    return Text(fmt.format(value) + LEVEL_TAG[lvl], style=styles.get(lvl, ""))


def summary_lines(snap: HostSnapshot, hist: History, th: Thresholds, width: int,
                  styles: dict[str, str] | None = None) -> list[Text]:
    """The summary block as Rich lines. Levels are in words (WARN/CRIT), not colour alone."""
    st = styles or {}
    width = max(width, 40)
    spark_w = max(8, min(40, width - 52))
    lines: list[Text] = []

    # CPU total with bar and history
    t = Text("CPU  ", style="bold")
    bw = max(10, min(30, width - 30 - spark_w))
    t.append("[" + bar(snap.cpu_total, bw) + "] ")
    t.append_text(_level_text("cpu", snap.cpu_total, th.cpu, st))
    t.append("  " + sparkline(hist.cpu, spark_w, top=100.0))
    lines.append(t)

    # per core, compact: "  0  12%  1  45% ..."
    per = Text("     ")
    cell = 9
    fit = max(1, (width - 5) // cell)
    for i, v in enumerate(snap.per_core):
        if i and i % fit == 0:
            lines.append(per)
            per = Text("     ")
        lvl = th.cpu.level(v)
        per.append(f"{i:>2} {v:3.0f}%{'!' if lvl in ('warning', 'critical') else ' '} ",
                   style=st.get(lvl, ""))
    lines.append(per)

    # load per core
    t = Text("LOAD ", style="bold")
    for i, v in enumerate(snap.load):
        lvl = th.load.level(v / max(snap.cores, 1))
        t.append(f"{v:5.2f}", style=st.get(lvl, ""))
        if LEVEL_TAG[lvl]:
            t.append(LEVEL_TAG[lvl], style=st.get(lvl, ""))
        t.append(" " if i < 2 else "")
    t.append(f"  (1/5/15m, {snap.cores} cores)")
    lines.append(t)

    # memory and swap
    t = Text("MEM  ", style="bold")
    t.append("[" + bar(snap.mem_percent, bw) + "] ")
    t.append_text(_level_text("mem", snap.mem_percent, th.memory, st))
    t.append(f" {human_bytes(snap.mem_used)}/{human_bytes(snap.mem_total)}")
    t.append("  " + sparkline(hist.mem, max(spark_w - 12, 4), top=100.0))
    lines.append(t)
    t = Text("SWAP ", style="bold")
    if snap.swap_total:
        t.append("[" + bar(snap.swap_percent, bw) + "] ")
        t.append_text(_level_text("swap", snap.swap_percent, th.swap, st))
        t.append(f" {human_bytes(snap.swap_used)}/{human_bytes(snap.swap_total)}")
    else:
        t.append("none")
    lines.append(t)

    # network
    t = Text("NET  ", style="bold")
    if snap.net:
        parts = [f"{r.name} ↓{human_bytes(r.rx, '/s')} ↑{human_bytes(r.tx, '/s')}"
                 for r in snap.net if r.rx or r.tx] or [f"{len(snap.net)} ifaces idle"]
        t.append("  ".join(parts))
        t.append("  " + sparkline(hist.net, max(spark_w - 12, 4)))
    else:
        t.append("measuring…")
    lines.append(t)

    # disk I/O
    t = Text("I/O  ", style="bold")
    if snap.disk_read is None:
        t.append("measuring…")
    else:
        t.append(f"read {human_bytes(snap.disk_read, '/s')}  write {human_bytes(snap.disk_write, '/s')}")
    lines.append(t)

    # filesystems
    mount_w = min(max([len(fs.mountpoint) for fs in snap.filesystems] + [4]), 24)
    for fs in snap.filesystems:
        lvl = th.disk.level(fs.percent)
        t = Text("FS   ", style="bold")
        t.append(f"{one_line(fs.mountpoint, mount_w):<{mount_w}} ")
        t.append("[" + bar(fs.percent, max(bw - 8, 6)) + "] ")
        t.append(f"{fs.percent:5.1f}%{LEVEL_TAG[lvl]}", style=st.get(lvl, ""))
        t.append(f" {human_bytes(fs.free)} free of {human_bytes(fs.total)}")
        lines.append(t)
    return lines


SORT_KEYS = {"cpu": lambda p: (-p.cpu, -p.mem, p.pid), "memory": lambda p: (-p.mem, -p.cpu, p.pid)}


def process_rows(procs: tuple[ProcRow, ...] | list[ProcRow], sort: str, top: int,
                 filter_text: str = "") -> list[ProcRow]:
    """The processes to show: filtered (pid, user or command contains the text), sorted, top N."""
    rows = list(procs)
    if filter_text:
        f = filter_text.lower()
        rows = [p for p in rows if f in p.command.lower() or f in p.user.lower() or f in str(p.pid)]
    rows.sort(key=SORT_KEYS.get(sort, SORT_KEYS["cpu"]))
    return rows[:top]


def process_cells(p: ProcRow, th: Thresholds) -> tuple[str, ...]:
    return (str(p.pid), one_line(p.user, 10), f"{p.cpu:5.1f}", f"{p.mem:5.1f}",
            one_line(str(mask_command_line(p.command)), 200))  # masked at the source too


PROC_COLUMNS = ("PID", "USER", "CPU%", "MEM%", "COMMAND")


class ResourcesPane(PolledPane):
    pane_id = "resources"
    number = 2
    title = "Resources"
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("sort-processes", "s", "toggle_sort", "sort", "Sort processes by CPU ⇄ memory"),
    )

    def __init__(self, collector: Any = None, thresholds: Thresholds | None = None,
                 top: int = 40, sort: str = "cpu", history_seconds: float = 300.0,
                 process_interval: float = 4.0, filesystem_interval: float = 30.0) -> None:
        super().__init__()
        self._collector = collector
        self._process_interval = process_interval
        self._filesystem_interval = filesystem_interval
        self.thresholds = thresholds or Thresholds()
        self.top = top
        self.sort = sort
        self._history_seconds = history_seconds
        self.history = History.sized(150)
        self._rows: list[ProcRow] = []

    def compose_body(self) -> ComposeResult:
        yield LineBlock(classes="resources-summary")
        table: DataTable[str] = DataTable(classes="proc-table", cursor_type="row",
                                          zebra_stripes=False)
        yield compat.bound_table_caches(table)

    def on_mount(self) -> None:
        n = max(10, int(self._history_seconds / max(self.interval, 0.5)))
        self.history = History.sized(n)
        table = self.query_one(DataTable)
        for col in PROC_COLUMNS:
            table.add_column(col, key=col)
        super().on_mount()

    def collect(self) -> HostSnapshot:
        if self._collector is None:
            self._collector = HostCollector(self._process_interval, self._filesystem_interval)
        return self._collector.collect()

    def level_styles(self) -> dict[str, str]:
        return theme_level_styles(self.app.theme_variables, ("careful", "warning", "critical"))

    def show(self, snap: HostSnapshot) -> None:
        self.history.add(snap)
        self.redraw()

    def redraw(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        block = self.query_one(LineBlock)
        block.set_lines(summary_lines(snap, self.history, self.thresholds,
                                      self.size.width or 80, self.level_styles()))
        self.summary = f"{snap.process_count} procs · sort {self.sort}"
        self._fill_table(process_rows(snap.processes, self.sort, self.top, self.filter_text))

    def _fill_table(self, rows: list[ProcRow]) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        with self.app.batch_update():
            sync_table(table, [(str(p.pid), process_cells(p, self.thresholds)) for p in rows],
                       PROC_COLUMNS)
        self._rows = rows

    def runbook_context(self) -> dict[str, str]:
        """Pre-fills runbook parameters (``r``): the selected process's pid (high CPU/memory)."""
        key = selected_key(self.query_one(DataTable))
        return {"pid": str(key)} if key else {}

    def apply_filter(self, text: str) -> None:
        self.redraw()

    def action_toggle_sort(self) -> None:
        self.sort = "memory" if self.sort == "cpu" else "cpu"
        self.redraw()
        self.update_header()

    def on_resize(self) -> None:
        self.redraw()
