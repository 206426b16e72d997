"""opsconsole.files with real files: FIFOs, devices, planted symlinks, other users' files."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from eventually import deadline
from opsconsole import files
from opsconsole.files import FileRefused

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")




def mode_of(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


# --------------------------------------------------------------------------- read_bounded


def test_read_bounded_reads_a_regular_file_and_follows_symlinks(tmp_path):
    f = tmp_path / "config.yaml"
    f.write_bytes(b"refresh: 2s\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(f)
    assert files.read_bounded(f) == b"refresh: 2s\n"
    assert files.read_bounded(link) == b"refresh: 2s\n"
    assert files.read_bounded(tmp_path / "config.yaml", limit=12) == b"refresh: 2s\n"


def test_read_bounded_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with deadline(), pytest.raises(FileRefused, match=r"fifo\.yaml: is a FIFO .*not a regular"):
        files.read_bounded(fifo)


def test_read_bounded_refuses_a_symlink_to_a_fifo(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "cfg.yaml").symlink_to(fifo)
    with deadline(), pytest.raises(FileRefused, match="FIFO"):
        files.read_bounded(tmp_path / "cfg.yaml")


def test_read_bounded_refuses_dev_zero_quickly():
    with deadline(), pytest.raises(FileRefused, match="/dev/zero: is a character device"):
        files.read_bounded("/dev/zero", what="config file")


def test_read_bounded_refuses_a_directory(tmp_path):
    with deadline(), pytest.raises(FileRefused, match="is a directory, not a regular theme"):
        files.read_bounded(tmp_path, what="theme")


def test_read_bounded_refuses_a_file_over_the_limit(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_bytes(b"x" * 2000)
    with pytest.raises(FileRefused, match=r"big\.yaml: is 2000 bytes; the limit is 1000") as ei:
        files.read_bounded(f, limit=1000)
    assert ei.value.errno == errno.EFBIG
    assert isinstance(ei.value, OSError)
    assert ei.value.reason == "is 2000 bytes; the limit is 1000"


def test_read_bounded_default_limit_is_one_mib(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_bytes(b"x" * (1024 * 1024))
    assert len(files.read_bounded(f)) == 1024 * 1024
    f.write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(FileRefused, match="the limit is 1048576"):
        files.read_bounded(f)


def test_read_bounded_missing_file_is_the_usual_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        files.read_bounded(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- ensure_private_dir


def test_ensure_private_dir_creates_0700_with_parents(tmp_path):
    d = tmp_path / "a" / "b" / "data"
    old = os.umask(0o022)
    try:
        assert files.ensure_private_dir(d) == d
    finally:
        os.umask(old)
    assert d.is_dir()
    assert mode_of(d) == 0o700
    assert mode_of(tmp_path / "a") == 0o755  # parents: default mode


def test_ensure_private_dir_is_0700_even_under_a_strange_umask(tmp_path):
    old = os.umask(0o277)
    try:
        files.ensure_private_dir(tmp_path / "data")
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "data") == 0o700


def test_ensure_private_dir_tightens_an_existing_0755_dir_of_ours(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    os.chmod(d, 0o755)
    notes: list[str] = []
    files.ensure_private_dir(d, notes)
    assert mode_of(d) == 0o700
    assert notes == [f"{d}: was mode 0755, tightened to 0700"]
    notes.clear()
    files.ensure_private_dir(d, notes)  # already private: nothing to say
    assert notes == []


def test_a_store_in_a_shared_sticky_directory_is_refused_and_the_directory_untouched(tmp_path):
    """A store file opened straight in /tmp used to chmod /tmp to 0700 (seen: postgres could
    no longer create its clusters there). A sticky, shared directory is refused instead."""
    from opsconsole.incidents.store import SQLiteStore, StoreError

    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(files.FileRefused, match="shared directory"):
        files.ensure_private_dir(shared)
    with pytest.raises(StoreError, match="shared directory"):
        SQLiteStore(shared / "incidents.db")
    assert mode_of(shared) == 0o1777


def test_ensure_private_dir_refuses_a_symlink(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o755)
    (tmp_path / "data").symlink_to(real)
    with pytest.raises(FileRefused, match="is a symlink; refusing"):
        files.ensure_private_dir(tmp_path / "data")
    assert mode_of(real) == 0o755


def test_ensure_private_dir_refuses_a_file(tmp_path):
    (tmp_path / "data").write_text("x")
    with pytest.raises(FileRefused, match="is a regular file, not a directory"):
        files.ensure_private_dir(tmp_path / "data")


@needs_root
def test_ensure_private_dir_refuses_another_users_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir(mode=0o755)
    os.chown(d, NOBODY, NOBODY)
    with pytest.raises(FileRefused) as ei:
        files.ensure_private_dir(d)
    msg = str(ei.value)
    assert f"owned by uid {NOBODY}" in msg
    assert f"(you are uid {os.geteuid()}); refusing to use it — pass --data-dir" in msg
    assert mode_of(d) == 0o755  # not touched


# --------------------------------------------------------------------------- new files


def test_create_private_makes_a_0600_file(tmp_path):
    old = os.umask(0o000)
    try:
        with files.create_private(tmp_path / "export.json") as fh:
            fh.write("{}")
        with files.open_private_new(tmp_path / "export.bin", "wb") as fh:
            fh.write(b"\x00")
    finally:
        os.umask(old)
    assert (tmp_path / "export.json").read_text() == "{}"
    assert mode_of(tmp_path / "export.json") == 0o600
    assert mode_of(tmp_path / "export.bin") == 0o600


def test_create_private_refuses_a_planted_symlink(tmp_path):
    victim = tmp_path / "shadow"
    victim.write_text("precious")
    (tmp_path / "export.json").symlink_to(victim)
    with pytest.raises(FileRefused, match="already exists \\(a symlink\\)"):
        files.create_private(tmp_path / "export.json")
    assert victim.read_text() == "precious"


def test_create_private_refuses_a_dangling_planted_symlink(tmp_path):
    (tmp_path / "export.json").symlink_to(tmp_path / "would-be-created")
    with pytest.raises(FileRefused):
        files.create_private(tmp_path / "export.json")
    assert not (tmp_path / "would-be-created").exists()


def test_create_private_refuses_an_existing_file(tmp_path):
    (tmp_path / "x").write_text("old")
    with pytest.raises(FileRefused, match="already exists"):
        files.open_private_new(tmp_path / "x")
    assert (tmp_path / "x").read_text() == "old"


# --------------------------------------------------------------------------- append


def test_open_private_append_creates_0600_and_appends(tmp_path):
    log = tmp_path / "events.log"
    with files.open_private_append(log) as fh:
        fh.write("one\n")
    with files.open_private_append(log) as fh:
        fh.write("two\n")
    assert log.read_text() == "one\ntwo\n"
    assert mode_of(log) == 0o600


def test_open_private_append_tightens_a_wide_file_of_ours(tmp_path):
    log = tmp_path / "events.log"
    log.write_text("old\n")
    os.chmod(log, 0o644)
    notes: list[str] = []
    with files.open_private_append(log, "ab", notes=notes) as fh:
        fh.write(b"new\n")
    assert mode_of(log) == 0o600
    assert notes == [f"{log}: was mode 0644, tightened to 0600"]
    assert log.read_text() == "old\nnew\n"


def test_open_private_append_refuses_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "events.log").symlink_to(victim)
    with pytest.raises(FileRefused, match="symlink"):
        files.open_private_append(tmp_path / "events.log")
    assert victim.read_text() == "precious"


def test_open_private_append_refuses_a_fifo_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "events.log")
    with deadline(), pytest.raises(FileRefused, match="FIFO"):
        files.open_private_append(tmp_path / "events.log")


def test_open_private_append_refuses_a_hard_link(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.link(victim, tmp_path / "events.log")
    with pytest.raises(FileRefused, match="2 hard links"):
        files.open_private_append(tmp_path / "events.log")
    assert victim.read_text() == "precious"


@needs_root
def test_open_private_append_refuses_another_users_file(tmp_path):
    log = tmp_path / "events.log"
    log.write_text("theirs\n")
    os.chmod(log, 0o666)
    os.chown(log, NOBODY, NOBODY)
    with pytest.raises(FileRefused, match=f"owned by uid {NOBODY}"):
        files.open_private_append(log)
    assert log.read_text() == "theirs\n"
    assert mode_of(log) == 0o666


# --------------------------------------------------------------------------- adopt


def test_check_private_file_tightens_ours(tmp_path):
    db = tmp_path / "incidents.db"
    db.write_bytes(b"SQLite format 3\x00")
    os.chmod(db, 0o664)
    notes: list[str] = []
    assert files.check_private_file(db, notes) == db
    assert mode_of(db) == 0o600
    assert notes and "tightened to 0600" in notes[0]


def test_check_private_file_refuses_symlink_and_non_regular(tmp_path):
    db = tmp_path / "real.db"
    db.write_bytes(b"")
    (tmp_path / "incidents.db").symlink_to(db)
    with pytest.raises(FileRefused, match="symlink"):
        files.check_private_file(tmp_path / "incidents.db")
    os.mkfifo(tmp_path / "fifo.db")
    with deadline(), pytest.raises(FileRefused, match="FIFO"):
        files.check_private_file(tmp_path / "fifo.db", what="database")
    with pytest.raises(FileNotFoundError):
        files.check_private_file(tmp_path / "missing.db")


@needs_root
def test_check_private_file_refuses_another_users_file(tmp_path):
    db = tmp_path / "incidents.db"
    db.write_bytes(b"")
    os.chmod(db, 0o644)
    os.chown(db, NOBODY, NOBODY)
    with pytest.raises(FileRefused, match=f"database is owned by uid {NOBODY}"):
        files.check_private_file(db, what="database")
    assert mode_of(db) == 0o644


# --------------------------------------------------------------------------- atomic_write


def test_atomic_write_creates_0600_and_replaces(tmp_path):
    out = tmp_path / "export.md"
    files.atomic_write(out, "first")
    assert out.read_text() == "first"
    assert mode_of(out) == 0o600
    os.chmod(out, 0o644)
    files.atomic_write(out, b"second")
    assert out.read_bytes() == b"second"
    assert mode_of(out) == 0o600
    files.atomic_write(out, "third", mode=0o640)
    assert mode_of(out) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.md"]  # no temp left


def test_atomic_write_replaces_a_planted_symlink_not_its_target(tmp_path):
    victim = tmp_path / "etc-shadow"
    victim.write_text("root:x:0:0\n")
    os.chmod(victim, 0o640)
    out = tmp_path / "export.md"
    out.symlink_to(victim)
    files.atomic_write(out, "the export")
    assert not out.is_symlink()
    assert out.read_text() == "the export"
    assert victim.read_text() == "root:x:0:0\n"
    assert mode_of(victim) == 0o640


def test_atomic_write_errors_propagate_and_leave_no_temp(tmp_path):
    d = tmp_path / "target-is-a-dir"
    d.mkdir()
    (d / "inside").write_text("x")
    with pytest.raises(OSError):
        files.atomic_write(d, "data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target-is-a-dir"]


def test_atomic_write_into_a_missing_directory_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        files.atomic_write(tmp_path / "no" / "such" / "file", "x")


def test_atomic_write_enospc_removes_the_temp(tmp_path, monkeypatch):
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", full)
    with pytest.raises(OSError) as ei:
        files.atomic_write(tmp_path / "out", "data")
    monkeypatch.setattr(files.os, "write", real_write)
    assert ei.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_files_module_does_not_import_textual():
    import subprocess
    import sys

    code = "import sys, opsconsole.files; print('textual' in sys.modules)"
    src = str(Path(files.__file__).parents[1])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": src}, check=True)
    assert out.stdout.strip() == "False"
