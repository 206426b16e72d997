"""The host collector's process sweep: CPU % from cpu_times deltas, user and command read
once per process. Real processes, real /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from opsconsole.sources.host import PROC_ATTRS, HostCollector


def _sweep_until(collector: HostCollector, pred, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        snap = collector.collect(force_processes=True)
        if pred(snap) or time.monotonic() > deadline:
            return snap
        time.sleep(0.3)


@pytest.fixture
def busy_and_idle():
    busy = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: pass", "opsconsole-busy"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "opsconsole-idle"])
    try:
        yield busy, idle
    finally:
        for p in (busy, idle):
            p.kill()
            p.wait(timeout=10)


def test_sweep_measures_cpu_of_a_busy_process_and_not_of_a_sleeping_one(busy_and_idle):
    busy, idle = busy_and_idle
    c = HostCollector()

    def rows(snap):
        return {p.pid: p for p in snap.processes}

    first = rows(c.collect(force_processes=True))
    assert busy.pid in first and idle.pid in first
    assert first[busy.pid].cpu == 0.0  # no delta yet on the first sight
    # the idle one burns some CPU while Python starts; wait for it to settle
    snap = _sweep_until(c, lambda s: rows(s)[busy.pid].cpu >= 20.0 and rows(s)[idle.pid].cpu < 5.0)
    r = rows(snap)
    assert r[busy.pid].cpu >= 20.0
    assert r[idle.pid].cpu < 5.0
    assert "opsconsole-busy" in r[busy.pid].command
    assert r[busy.pid].user == psutil.Process(os.getpid()).username()
    assert r[busy.pid].mem > 0.0


def test_user_and_command_are_read_once_per_process(busy_and_idle, monkeypatch):
    busy, _ = busy_and_idle
    calls: dict[int, int] = {}
    real = psutil.Process.cmdline

    def counting_cmdline(self):  # a spy: the real call is made
        calls[self.pid] = calls.get(self.pid, 0) + 1
        return real(self)

    monkeypatch.setattr(psutil.Process, "cmdline", counting_cmdline)
    c = HostCollector()
    seen = {p.pid for p in c.collect(force_processes=True).processes}
    assert calls.get(busy.pid) == 1
    after_first = dict(calls)
    for _ in range(2):
        c.collect(force_processes=True)
    # no more command lines read for processes already seen
    assert {pid: n for pid, n in calls.items() if pid in seen} == \
        {pid: n for pid, n in after_first.items() if pid in seen}
    # the per-sweep attributes are the cheap ones
    assert "cmdline" not in PROC_ATTRS and "username" not in PROC_ATTRS and "name" not in PROC_ATTRS


def test_a_process_that_exits_leaves_the_list():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    c = HostCollector()
    try:
        assert p.pid in {r.pid for r in c.collect(force_processes=True).processes}
    finally:
        p.kill()
        p.wait(timeout=10)
    assert p.pid not in {r.pid for r in c.collect(force_processes=True).processes}
    assert p.pid not in c._who and p.pid not in c._cpu


class _Collector:
    """Always the same snapshot, whatever the caller asks for."""

    def __init__(self) -> None:
        from hostdata import fixed_snapshot

        self.snap = fixed_snapshot()

    def collect(self, force_processes: bool = False):
        return self.snap


async def test_runbook_steps_and_host_snapshots_record_the_same_key_figures(tmp_path):
    from opsconsole.config import AppConfig
    from opsconsole.incidents.sink import MemorySink
    from opsconsole.runbooks.model import load_yaml_runbook
    from opsconsole.runbooks.params import resolve_params
    from opsconsole.runbooks.session import RunbookSession, SessionOptions, host_figures_default
    from opsconsole.sources.host import KEY_FIGURES, key_figures, take_snapshot

    collector = _Collector()
    sink = MemorySink()
    rb = load_yaml_runbook(tmp_path / "t.yaml",
                           "id: t\ntitle: T\nsteps:\n  - title: s\n    kind: shell\n    run: 'true'\n")
    session = RunbookSession(rb, resolve_params(rb, {}), SessionOptions(
        config=AppConfig(), sink=sink, data_dir=tmp_path,
        host_figures=host_figures_default(collector)))
    assert (await session.run_step(0)).ok
    step = next(e.data for e in sink.events if e.type == "runbook.step_finished")
    snapshot = take_snapshot(sink, collector)
    assert snapshot.type == "host.snapshot"
    assert set(step["host_before"]) == set(step["host_after"]) == set(snapshot.data)
    assert set(snapshot.data) == set(KEY_FIGURES)
    assert step["host_before"] == snapshot.data == key_figures(collector.snap)
