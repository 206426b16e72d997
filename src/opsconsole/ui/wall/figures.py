"""The wall's host figures: CPU, memory, load per core and the root filesystem of the host
the wall runs on, with sparklines of the last minutes.

Sampled in the wall's follower thread (never on the UI loop) every :data:`EVERY` seconds,
with psutil's cheap system-wide calls only (no process sweep, no filesystem but ``/``,
which cannot hang as a network mount can). No PostgreSQL session: the database's state
reaches the wall through the store (the alerts a console or ``opsconsole watch`` records).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text

from opsconsole.ui.glyphs import g
from opsconsole.ui.widgets.spark import sparkline

EVERY = 5.0  # seconds between samples (each one redraws the figures for every viewer)
KEEP = 24  # samples kept (two minutes): the sparklines
SPARK_WIDTH = 20


@dataclass(frozen=True)
class Sample:
    cpu: float  # % of all cores
    mem: float  # % of memory in use
    load: float  # 1-minute load average per core
    root: float  # % of / in use


@dataclass
class Figures:
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=KEEP))


def read_host() -> Sample:
    """(thread) One sample of this host."""
    import psutil

    cores = psutil.cpu_count() or 1
    return Sample(cpu=float(psutil.cpu_percent(None)),
                  mem=float(psutil.virtual_memory().percent),
                  load=os.getloadavg()[0] / cores,
                  root=float(psutil.disk_usage("/").percent))


class HostSampler:
    """Keeps the last samples; :meth:`maybe_sample` is called by the follower's loop."""

    def __init__(self, read: Callable[[], Sample] = read_host,
                 now: Callable[[], float] | None = None) -> None:
        import time

        self.read = read
        self.now = now or time.monotonic
        self.figures = Figures()
        self._last = float("-inf")

    def maybe_sample(self) -> bool:
        """Sample when :data:`EVERY` seconds have passed; True when a sample was added."""
        t = self.now()
        if t - self._last < EVERY:
            return False
        self._last = t
        try:
            self.figures.samples.append(self.read())
        except Exception:  # a figure that cannot be read this time: the next one may
            return False
        return True

    def snapshot(self) -> Figures:
        return Figures(deque(self.figures.samples, maxlen=KEEP))


def figures_text(host: str, figures: Figures, width: int, *, rows: bool = True) -> Text:
    """The host's figures: a line each with a sparkline (``rows``), or all on one line
    (a small terminal). A figure over its mark says HIGH in words."""
    t = Text()
    t.append(f"HOST {host}", style="bold underline")
    samples = list(figures.samples)
    if not samples:
        t.append("  no sample yet")
        return t
    last = samples[-1]
    spark = max(min(SPARK_WIDTH, width - 36), 0) if rows else 0
    figs = (("CPU", f"{last.cpu:.0f}%", [s.cpu for s in samples], 100.0, last.cpu >= 90),
            ("MEM", f"{last.mem:.0f}%", [s.mem for s in samples], 100.0, last.mem >= 90),
            ("LOAD/CORE", f"{last.load:.2f}", [s.load for s in samples],
             max(1.0, *[s.load for s in samples]), last.load >= 1.5),
            ("DISK /", f"{last.root:.0f}%", [s.root for s in samples], 100.0,
             last.root >= 90))
    for name, value, series, top, bad in figs:
        if rows:
            t.append("\n")
            t.append(f"{name:<10}", style="bold")
            t.append(f"{value:>6}", style="bold reverse red" if bad else "bold")
            if spark:
                t.append("  " + sparkline(series, spark, top=top).strip().ljust(spark))
        else:
            t.append(f"  {name} ", style="bold")
            t.append(value, style="bold reverse red" if bad else "bold")
        if bad:
            t.append(f" {g('⚠')} HIGH", style="bold red")
    return t
