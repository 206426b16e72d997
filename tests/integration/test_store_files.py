"""Files and permissions of the data directory, and a store on a read-only disk (real files,
real SQLite, the checkout's CLI in a subprocess; a real tmpfs remounted read-only)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from diskfull import small_disk
from opsconsole.events import NOTE
from opsconsole.incidents.sink import JournalSink
from opsconsole.incidents.store import SQLiteStore, StoreError
from opsconsole.runbooks.output import OutputCapture

NOBODY = 65534


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_data_directory_is_0700_and_every_file_in_it_0600(tmp_path):
    old = os.umask(0o022)
    try:
        data = tmp_path / "data"
        store = SQLiteStore(data / "incidents.db")
        iid = store.declare("t", "SEV3").incident_id
        store.append(NOTE, {"text": "x"}, incident_id=iid)
        JournalSink(data / "journal.jsonl").record(NOTE, {"text": "y"})
        cap = OutputCapture(data / "runbook-output" / "step1.log", [])
        cap.feed(b"hello\n")
        cap.close()
        assert mode(data) == 0o700
        assert mode(data / "runbook-output") == 0o700
        names = sorted(p.name for p in data.iterdir())
        assert {"incidents.db", "incidents.db-wal", "incidents.db-shm", "journal.jsonl"} <= set(names)
        for p in data.rglob("*"):
            if p.is_file():
                assert mode(p) == 0o600, p
        store.close()
    finally:
        os.umask(old)


def test_an_existing_wide_open_store_is_tightened_when_opened(tmp_path):
    data = tmp_path / "data"
    SQLiteStore(data / "incidents.db").close()
    os.chmod(data, 0o755)
    os.chmod(data / "incidents.db", 0o644)
    with SQLiteStore(data / "incidents.db") as store:
        store.declare("t", "SEV3")
        assert (mode(data), mode(data / "incidents.db")) == (0o700, 0o600)
        assert mode(data / "incidents.db-wal") == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_database_planted_by_another_user_is_refused_and_left_alone(tmp_path, run_cli):
    data = tmp_path / "cli-data"
    data.mkdir(mode=0o700)
    planted = data / "incidents.db"
    planted.touch()
    os.chown(planted, NOBODY, NOBODY)
    os.chmod(planted, 0o666)
    with pytest.raises(StoreError, match=r"owned by uid 65534.*refusing to use it"):
        SQLiteStore(planted)
    r = run_cli("incident", "declare", "--title", "x", "--severity", "2")
    assert r.returncode != 0
    assert "owned by uid 65534" in r.stderr and "Traceback" not in r.stderr
    st = os.lstat(planted)
    assert (st.st_uid, st.st_size, stat.S_IMODE(st.st_mode)) == (NOBODY, 0, 0o666)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_data_directory_of_another_user_is_refused(tmp_path):
    data = tmp_path / "shared"
    data.mkdir(mode=0o777)
    os.chown(data, NOBODY, NOBODY)
    with pytest.raises(StoreError, match="owned by uid 65534"):
        SQLiteStore(data / "incidents.db")
    assert list(data.iterdir()) == []


def test_an_export_through_a_planted_symlink_replaces_the_link_not_its_target(tmp_path,
                                                                              run_cli):
    iid = ok(run_cli("incident", "declare", "--title", "x", "--severity", "2")).strip()
    victim = tmp_path / "shadow"
    victim.write_text("root:precious\n")
    link = tmp_path / "export.md"
    link.symlink_to(victim)
    ok(run_cli("incident", "export", iid, "--format", "md", "-o", str(link)))
    assert victim.read_text() == "root:precious\n"
    assert not link.is_symlink() and iid in link.read_text()
    assert mode(link) == 0o600


def _write_and_die(db: Path) -> None:
    """A writer killed without closing: its -wal and -shm stay, with committed events."""
    code = ("import os, sys; from opsconsole.incidents.store import SQLiteStore; "
            "s = SQLiteStore(sys.argv[1]); i = s.declare('after crash', 'SEV1').incident_id; "
            "s.append('incident.note', {'text': 'in the wal'}, incident_id=i); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(db)], check=True,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})


@pytest.mark.parametrize("crashed_writer", [False, True], ids=["closed", "wal-left"])
def test_incident_list_and_show_work_on_a_read_only_disk(tmp_path, run_cli, crashed_writer):
    with small_disk(tmp_path) as disk:
        data = disk.root / "data"
        env = {"OPSCONSOLE_DATA_DIR": str(data)}
        iid = ok(run_cli("incident", "declare", "--title", "Disk full", "--severity", "2",
                         env=env)).strip()
        ok(run_cli("incident", "note", iid, "cleaned /var/log", env=env))
        if crashed_writer:
            _write_and_die(data / "incidents.db")
            assert (data / "incidents.db-wal").exists()
        disk.read_only()
        try:
            before = sorted(os.listdir(data))
            listing = ok(run_cli("incident", "list", env=env))
            assert iid in listing and "Disk full" in listing
            assert ("after crash" in listing) is crashed_writer
            show = ok(run_cli("incident", "show", iid, env=env))
            assert "cleaned /var/log" in show
            assert sorted(os.listdir(data)) == before
            r = run_cli("incident", "note", iid, "more", env=env)
            assert r.returncode != 0 and "Traceback" not in r.stderr
            assert "read-only" in r.stderr
        finally:
            disk.writable()


def test_a_read_only_reader_sees_a_writer_that_comes_later_and_creates_nothing(tmp_path):
    data = tmp_path / "data"
    SQLiteStore(data / "incidents.db").close()  # a clean close: no -wal, no -shm
    before = sorted(os.listdir(data))
    reader = SQLiteStore(data / "incidents.db", read_only=True)
    assert reader.last_seq() == 0 and sorted(os.listdir(data)) == before
    with SQLiteStore(data / "incidents.db") as writer:
        iid = writer.declare("later", "SEV2").incident_id
        writer.append(NOTE, {"text": "seen live"}, incident_id=iid)
        assert reader.last_seq() == 2  # while the writer is open (its -wal is there)
        assert [e.type for e in reader.events(iid)][-1] == NOTE
    with SQLiteStore(data / "incidents.db") as writer:
        writer.append(NOTE, {"text": "after a checkpoint"}, incident_id=iid)
    assert reader.last_seq() == 3  # and after it closed again
    reader.close()
