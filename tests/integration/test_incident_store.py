"""The SQLite incident store: durability under SIGKILL, two writers, clear errors, append-only."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsconsole import events as ev
from opsconsole.events import Actor
from opsconsole.incidents.describe import describe
from opsconsole.incidents.sink import IncidentSink, JournalSink
from opsconsole.incidents.store import (
    SCHEMA_VERSION,
    SQLiteStore,
    StoreError,
    UnknownIncident,
    all_states,
    load_state,
    open_store,
)
from opsconsole.sources.host import HostCollector, take_snapshot

REPO = Path(__file__).resolve().parents[2]
ACTOR = Actor("alice", "10.0.0.5", "/dev/pts/3", "ops1")

WRITER = r"""
import sys
from opsconsole.incidents.store import SQLiteStore
store = SQLiteStore(sys.argv[1])
iid = sys.argv[2]
tag = sys.argv[3]
count = int(sys.argv[4])
print("ready", flush=True)
i = 0
while count < 0 or i < count:
    e = store.append("incident.note", {"text": f"{tag}-{i}", "i": i}, incident_id=iid)
    print(e.seq, flush=True)
    i += 1
"""


def spawn_writer(db: Path, iid: str, tag: str, count: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.Popen([sys.executable, "-c", WRITER, str(db), iid, tag, str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_ready(p: subprocess.Popen[str]) -> None:
    line = p.stdout.readline() if p.stdout else ""
    assert line.strip() == "ready", p.stderr.read() if p.stderr else line


def test_append_read_and_ids(tmp_path):
    store = open_store(tmp_path)
    assert store.path == tmp_path / "incidents.db"
    a = store.declare("API 500s", "SEV2", ["api"], actor=ACTOR)
    b = store.declare("Disk full", "SEV3", actor=ACTOR)
    day = a.ts.strftime("%Y%m%d")
    assert a.incident_id == f"INC-{day}-1" and b.incident_id == f"INC-{day}-2"
    n = store.append(ev.NOTE, {"text": "hello"}, incident_id=a.incident_id, actor=ACTOR)
    loose = store.append("health.state_changed", {"check": "api", "state": "down"}, actor=ACTOR)
    assert a.seq < b.seq < n.seq < loose.seq
    got = store.events(a.incident_id)
    assert [e.type for e in got] == [ev.DECLARED, ev.NOTE]
    assert got[1].actor == ACTOR and got[1].data == {"text": "hello"}
    assert got[1].ts == n.ts
    assert [e.seq for e in store.events(None)] == [loose.seq]
    assert store.events(a.incident_id, after=a.seq)[0].seq == n.seq
    assert store.incidents() == [a.incident_id, b.incident_id]
    assert store.last_seq() == loose.seq
    with pytest.raises(UnknownIncident):
        store.append(ev.NOTE, {"text": "x"}, incident_id="INC-19990101-1")
    store.close()
    # reopening keeps everything and the counter continues
    again = SQLiteStore(tmp_path / "incidents.db")
    c = again.declare("Third", "SEV4")
    assert c.incident_id == f"INC-{day}-3"
    assert again.conn_pragmas() == {"journal_mode": "wal", "synchronous": 2,
                                    "user_version": SCHEMA_VERSION}


def test_history_cannot_be_rewritten(tmp_path):
    store = open_store(tmp_path)
    store.declare("x", "SEV3")
    conn = sqlite3.connect(tmp_path / "incidents.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE events SET type = 'nope'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM events")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM incidents")
    conn.close()


def test_sigkill_loses_no_committed_event(tmp_path):
    db = tmp_path / "incidents.db"
    store = SQLiteStore(db)
    iid = store.declare("kill test", "SEV3").incident_id
    store.close()
    p = spawn_writer(db, iid, "k", -1)
    wait_ready(p)
    reported: list[int] = []
    stop_after = random.randint(50, 400)
    assert p.stdout is not None
    while len(reported) < stop_after:
        line = p.stdout.readline()
        assert line, p.stderr.read() if p.stderr else "writer died"
        reported.append(int(line))
    os.kill(p.pid, signal.SIGKILL)
    rest = p.stdout.read()  # lines written before the kill landed
    reported += [int(x) for x in rest.split()]
    p.wait(timeout=10)
    assert p.returncode == -signal.SIGKILL
    store = SQLiteStore(db)
    present = {e.seq for e in store.events(iid)}
    missing = [s for s in reported if s not in present]
    assert not missing, f"{len(missing)} committed events lost, e.g. {missing[:5]}"
    assert store.integrity_check() == "ok"
    seqs = [e.seq for e in store.events(iid)]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    # the file is still writable after the crash
    store.append(ev.NOTE, {"text": "after the crash"}, incident_id=iid)


def test_two_writers_lose_nothing_and_keep_one_order(tmp_path):
    db = tmp_path / "incidents.db"
    store = SQLiteStore(db)
    iid = store.declare("two consoles", "SEV2").incident_id
    n = 150
    writers = [spawn_writer(db, iid, tag, n) for tag in ("a", "b")]
    out = {}
    for tag, p in zip(("a", "b"), writers, strict=True):
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
        out[tag] = [int(x) for x in stdout.split()[1:]]
    events = store.events(iid)[1:]
    assert len(events) == 2 * n
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 2 * n
    assert set(seqs) == set(out["a"]) | set(out["b"])
    for tag in ("a", "b"):  # each writer's own events are in its own order
        mine = [e.data["i"] for e in events if e.data["text"].startswith(tag + "-")]
        assert mine == list(range(n))
    assert store.integrity_check() == "ok"


def test_two_declarers_never_share_an_id(tmp_path):
    db = tmp_path / "incidents.db"
    SQLiteStore(db).close()
    script = ("import sys\nfrom opsconsole.incidents.store import SQLiteStore\n"
              "s = SQLiteStore(sys.argv[1])\n"
              "for i in range(25): print(s.declare('x', 'SEV3').incident_id, flush=True)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(db)], stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    ids = []
    for p in procs:
        stdout, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        ids += stdout.split()
    assert len(ids) == 50 and len(set(ids)) == 50
    assert sorted(int(i.rsplit("-", 1)[1]) for i in ids) == list(range(1, 51))


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def test_corrupt_file_is_a_clear_error_and_untouched(tmp_path):
    db = tmp_path / "incidents.db"
    db.write_bytes(b"this is not a database at all\n" * 100)
    before = _bytes(db)
    with pytest.raises(StoreError, match="not a SQLite database"):
        SQLiteStore(db)
    assert _bytes(db) == before
    assert not (tmp_path / "incidents.db-wal").exists()


def test_damaged_pages_are_a_clear_error(tmp_path):
    db = tmp_path / "incidents.db"
    store = SQLiteStore(db)
    iid = store.declare("x", "SEV3").incident_id
    for i in range(300):
        store.append(ev.NOTE, {"text": "x" * 200, "i": i}, incident_id=iid)
    store.close()  # checkpoints the WAL into the main file
    raw = bytearray(db.read_bytes())
    page = 4096
    for off in range(page * 2, len(raw), page):  # scribble over every page after the 2nd
        raw[off:off + 64] = b"\xff" * 64
    db.write_bytes(bytes(raw))
    before = _bytes(db)
    with pytest.raises(StoreError, match="corrupt"):
        s = SQLiteStore(db)
        s.events(iid)
    assert _bytes(db) == before


def test_newer_schema_is_refused_untouched(tmp_path):
    db = tmp_path / "incidents.db"
    conn = sqlite3.connect(db)
    conn.execute("create table future (x)")
    conn.execute(f"pragma user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = _bytes(db)
    with pytest.raises(StoreError, match="newer opsconsole"):
        SQLiteStore(db)
    assert _bytes(db) == before


def test_someone_elses_database_is_refused(tmp_path):
    db = tmp_path / "incidents.db"
    conn = sqlite3.connect(db)
    conn.execute("create table accounts (id integer)")
    conn.commit()
    conn.close()
    before = _bytes(db)
    with pytest.raises(StoreError, match="some other program"):
        SQLiteStore(db)
    assert _bytes(db) == before


def test_locked_store_gives_up_with_a_clear_error(tmp_path):
    db = tmp_path / "incidents.db"
    store = SQLiteStore(db, busy_timeout=0.2)
    iid = store.declare("x", "SEV3").incident_id
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another console stuck inside a write transaction
    holder.execute("INSERT INTO events (incident_id, type, ts, actor_user, host, data) "
                   "VALUES (NULL, 'x', '2026-01-01T00:00:00+00:00', 'u', 'h', '{}')")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            store.append(ev.NOTE, {"text": "blocked"}, incident_id=iid)
        assert [e.type for e in store.events(iid)] == [ev.DECLARED]  # readers still read
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.append(ev.NOTE, {"text": "now it works"}, incident_id=iid)
    assert len(store.events(iid)) == 2


@pytest.fixture
def immutable(tmp_path):
    """chattr +i: read-only even for root. Undone afterwards."""
    made: list[Path] = []

    def make(p: Path) -> None:
        r = subprocess.run(["chattr", "+i", str(p)], capture_output=True, text=True)
        if r.returncode:
            pytest.fail(f"chattr +i failed: {r.stderr}")
        made.append(p)

    yield make
    for p in made:
        subprocess.run(["chattr", "-i", str(p)], check=False)


def test_read_only_file_is_a_clear_error(tmp_path, immutable):
    db = tmp_path / "incidents.db"
    store = SQLiteStore(db)
    iid = store.declare("x", "SEV3").incident_id
    store.close()
    before = _bytes(db)
    immutable(db)
    try:
        s = SQLiteStore(db)
    except StoreError as exc:  # opening already needs to write (WAL): a clear error is fine
        assert "read-only" in str(exc) or "cannot" in str(exc)
    else:
        with pytest.raises(StoreError, match="read-only"):
            s.append(ev.NOTE, {"text": "x"}, incident_id=iid)
    assert _bytes(db) == before


def test_read_only_mode_reads_and_refuses_writes(tmp_path):
    db = tmp_path / "incidents.db"
    store = SQLiteStore(db)
    iid = store.declare("x", "SEV3").incident_id
    ro = SQLiteStore(db, read_only=True)
    assert [e.type for e in ro.events(iid)] == [ev.DECLARED]
    with pytest.raises(StoreError, match="read-only"):
        ro.append(ev.NOTE, {"text": "x"}, incident_id=iid)
    with pytest.raises(StoreError, match="does not exist"):
        SQLiteStore(tmp_path / "nothing.db", read_only=True)


def test_sink_routes_to_active_incident_and_keeps_the_rest(tmp_path):
    store = open_store(tmp_path)
    journal = JournalSink(tmp_path / "journal.jsonl", actor=ACTOR)
    sink = IncidentSink(store, actor=ACTOR, fallback=journal)
    loose = sink.record("health.state_changed", {"check": "api", "state": "down"})
    assert loose.incident_id is None and loose.seq is not None
    declared = sink.declare("API down", "SEV1", ["api"])
    assert sink.active == declared.incident_id
    e = sink.record("db.cancel", {"pid": 42, "ok": True})
    assert e.incident_id == declared.incident_id
    other = store.declare("other", "SEV4")
    e2 = sink.record(ev.NOTE, {"text": "explicit"}, incident_id=other.incident_id)
    assert e2.incident_id == other.incident_id
    assert [x.type for x in store.events(declared.incident_id)] == [ev.DECLARED, "db.cancel"]
    assert [x.type for x in store.events(None)] == ["health.state_changed"]
    assert store.events(declared.incident_id)[1].actor == ACTOR
    # when the store is gone, the journal keeps the event
    store.close()
    kept = sink.record("db.terminate", {"pid": 7})
    assert kept.incident_id == declared.incident_id
    lines = journal.read()
    assert lines[-1]["type"] == "db.terminate" and "store_error" in lines[-1]["data"]
    assert sink.last_error


def test_snapshot_helper_records_host_figures(tmp_path):
    store = open_store(tmp_path)
    sink = IncidentSink(store, actor=ACTOR)
    sink.declare("slow", "SEV3")
    collector = HostCollector()
    e = take_snapshot(sink, collector)
    assert e.type == ev.SNAPSHOT and e.incident_id == sink.active
    assert {"cpu", "load1", "mem", "swap", "filesystems", "processes"} <= set(e.data)
    text = describe(store.events(sink.active)[-1])
    assert text.startswith("Host snapshot: cpu ") and "mem" in text


def test_all_states_folds_every_incident(tmp_path):
    store = open_store(tmp_path)
    a = store.declare("a", "SEV3").incident_id
    b = store.declare("b", "SEV1").incident_id
    store.append(ev.STATUS_CHANGED, {"status": "resolved"}, incident_id=a)
    states = {s.id: s for s in all_states(store)}
    assert states[a].status == "resolved" and states[b].severity == "SEV1"
    state, events = load_state(store, b)
    assert state.title == "b" and len(events) == 1
    with pytest.raises(UnknownIncident):
        load_state(store, "INC-nope")


def test_store_polling_sees_other_process_within_a_second(tmp_path):
    db = tmp_path / "incidents.db"
    store = SQLiteStore(db)
    iid = store.declare("x", "SEV3").incident_id
    seen = store.last_seq()
    p = spawn_writer(db, iid, "o", 1)
    stdout, stderr = p.communicate(timeout=30)
    assert p.returncode == 0, stderr
    deadline = time.monotonic() + 5
    while store.last_seq() == seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.last_seq() == int(stdout.split()[-1])
    assert store.events(iid, after=seen)[0].data["text"] == "o-0"
