"""Full and read-only data directories, on a real small tmpfs: steps keep running, output
files say why they stopped, events wait in memory and arrive in order once space is back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from diskfull import small_disk
from eventually import eventually_sync
from opsconsole.config import AppConfig
from opsconsole.events import NOTE, RUNBOOK_FINISHED, RUNBOOK_STARTED
from opsconsole.incidents.sink import IncidentSink, JournalSink
from opsconsole.incidents.store import SQLiteStore
from opsconsole.runbooks.model import load_yaml_runbook
from opsconsole.runbooks.params import resolve_params
from opsconsole.runbooks.session import RunbookSession, SessionOptions

LINES = 20000  # about 1 MiB of output: far more than the room left on the disk
FLOOD = (f"{sys.executable} -c \"import sys\nfor i in range({LINES}): "
         f"print(f'line {{i:06d}} ' + 'x' * 40)\nsys.exit(3)\"")


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path) as d:
        yield d


def flood_runbook():
    text = ("id: disk-almost-full\ntitle: Disk\nsteps:\n  - title: flood\n    kind: shell\n"
            f"    timeout: 120\n    run: {json.dumps(FLOOD)}\n")
    return load_yaml_runbook(Path("disk.yaml"), text)


def run_steps(data_dir: Path, sink, lines: list[str]) -> RunbookSession:
    import asyncio

    rb = flood_runbook()
    s = RunbookSession(rb, resolve_params(rb, {}), SessionOptions(
        config=AppConfig(), sink=sink, data_dir=data_dir, on_line=lines.append,
        record_in_thread=True))
    asyncio.run(s.run_step(0))
    return s


def test_a_step_on_a_full_disk_streams_finishes_and_its_events_arrive_once_space_is_back(disk):
    data = disk.root / "data"
    store = SQLiteStore(data / "incidents.db")
    iid = store.declare("disk", "SEV2").incident_id
    sink = IncidentSink(store, fallback=JournalSink(data / "journal.jsonl"), active=iid,
                        retry_first=0.05, retry_max=0.2)
    before = store.last_seq()
    disk.fill(leave=48 * 1024)  # room for the start of the output file, then ENOSPC
    lines: list[str] = []
    session = run_steps(data, sink, lines)

    outcome = session.outcomes[0]
    assert outcome is not None
    # it ran to its end with its own exit status: not hung until the timeout, not crashed
    assert (outcome.status, outcome.exit_code) == ("failed", 3)
    assert sum(1 for x in lines if x.startswith("line ")) == LINES  # streamed it all
    assert any("the output file stopped: disk full" in x for x in lines)
    saved = Path(outcome.output_file).read_bytes()
    assert b"line 000000" in saved
    assert b"[opsconsole] output file truncated after" in saved
    assert b"disk full (ENOSPC)" in saved
    assert len(saved) < 100 * 1024
    # the events could not be written anywhere: kept in memory, in order, and said so
    assert sink.pending >= 1  # at least step_finished (step_started may have fitted)
    assert sink.failure == "disk full (ENOSPC)"
    sink.record(NOTE, {"text": "after the step"})  # queued behind them, never before
    assert sink.pending >= 2

    disk.free()
    sink.retry_now()
    eventually_sync(lambda: sink.pending == 0, timeout=20, what="pending events written")
    got = [e for e in store.events(iid) if e.seq > before]
    assert [e.type for e in got] == [RUNBOOK_STARTED, RUNBOOK_FINISHED, NOTE]
    assert got[0].ts < got[1].ts < got[2].ts  # each keeps the time it happened
    finished = got[1].data
    assert finished["exit_status"] == 3
    assert finished["output_truncated"] is True
    assert finished["output_truncated_reason"] == "disk full (ENOSPC)"
    assert finished["output_lines"] >= LINES
    assert sink.failure is None
    store.close()


def test_a_step_on_a_read_only_data_directory_runs_and_says_there_is_no_output_file(disk):
    data = disk.root / "data"
    data.mkdir()
    disk.read_only()
    try:
        sink = IncidentSink(None, fallback=JournalSink(data / "journal.jsonl"),
                            retry_first=0.05, retry_max=0.2)
        lines: list[str] = []
        session = run_steps(data, sink, lines)
        outcome = session.outcomes[0]
        assert outcome is not None and (outcome.status, outcome.exit_code) == ("failed", 3)
        assert sum(1 for x in lines if x.startswith("line ")) == LINES
        assert any("the output file could not be created: read-only file system" in x
                   for x in lines)
        assert not Path(outcome.output_file).exists()
        assert sink.pending >= 2 and sink.failure == "read-only file system (EROFS)"
    finally:
        disk.writable()
    sink.retry_now()
    eventually_sync(lambda: sink.pending == 0, timeout=20, what="pending events written")
    written = JournalSink(data / "journal.jsonl").read()
    assert [e["type"] for e in written] == [RUNBOOK_STARTED, RUNBOOK_FINISHED]
    assert written[1]["data"]["output_truncated_reason"].startswith(
        "the output file could not be created: read-only file system")


def test_runbook_run_on_a_full_disk_prints_what_it_could_not_record(disk, run_cli, tmp_path):
    data = disk.root / "data"
    book = tmp_path / "disk.yaml"
    book.write_text("id: disk-almost-full\ntitle: Disk\nsteps:\n  - title: flood\n"
                    f"    kind: shell\n    timeout: 120\n    run: {json.dumps(FLOOD)}\n")
    disk.fill()
    r = run_cli("runbook", "run", str(book), "--yes", env={"OPSCONSOLE_DATA_DIR": str(data)})
    assert "Traceback" not in r.stderr
    assert r.stdout.count("line ") >= LINES
    assert "could not be recorded (disk full" in r.stderr
    kept = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
    assert [e["type"] for e in kept][-2:] == [RUNBOOK_STARTED, RUNBOOK_FINISHED]
    assert kept[-1]["data"]["exit_status"] == 3
