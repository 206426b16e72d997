"""The incident database as a file: checks before SQLite touches it, and how to open it
read-only.

opsconsole runs as root on shared hosts, so the file is created 0600 with ``O_EXCL |
O_NOFOLLOW`` in a 0700 directory, and an existing one (and its ``-wal``/``-shm``/
``-journal``) is refused when it is a symlink, has other hard links or belongs to another
user: an empty ``incidents.db`` planted by someone else would otherwise be adopted, and its
owner could then write root's timeline. SQLite gives ``-wal``/``-shm`` the database file's
mode, so they are 0600 too.

Read-only (``incident list/show`` on a read-only store, the ``--read-only`` console) never
creates a file: ``mode=ro`` when a writer's ``-wal`` is there (its ``-shm`` is then used),
else ``immutable=1`` (a read-only connection would create ``-wal`` and ``-shm``; on a
read-only directory it cannot open at all). An immutable connection is reopened when the
file changes under it (:func:`signature`). Never imports Textual.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from urllib.parse import quote

from opsconsole.files import (
    FileRefused,
    check_private_file,
    ensure_private_dir,
    open_private_new,
)
from opsconsole.incidents.migrations import APPLICATION_ID, SCHEMA_VERSION, SQLITE_MAGIC

SIDE_FILES = ("-wal", "-shm", "-journal")


def header_problem(p: Path) -> str | None:
    """Why the file at ``p`` is not an opsconsole database we can use (None: it may be)."""
    if not p.is_file():
        return "is not a regular file"
    try:
        with open(p, "rb") as fh:  # reading only: a header check, 100 bytes
            head = fh.read(100)
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if head and (len(head) < 100 or not head.startswith(SQLITE_MAGIC)):
        return ("is not a SQLite database (corrupt or some other file); it was left "
                "untouched — move it aside or use another --data-dir")
    if len(head) == 100:
        version = int.from_bytes(head[60:64], "big")
        app_id = int.from_bytes(head[68:72], "big")
        if app_id not in (0, APPLICATION_ID):
            return ("is a SQLite database of some other program "
                    f"(application_id {app_id:#x}); left untouched")
        if version > SCHEMA_VERSION:
            return (f"was written by a newer opsconsole (schema version {version}; this one "
                    f"knows up to {SCHEMA_VERSION}); upgrade opsconsole — the file was left "
                    "untouched")
    return None


def _check_ours(p: Path, tighten: bool) -> None:
    """Refuse a symlink, a second name, or a file of another user at ``p`` (if anything is
    there); tighten the mode to 0600 when ``tighten``."""
    if tighten:
        with contextlib.suppress(FileNotFoundError):
            check_private_file(p, what="database file")
        return
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise FileRefused(p, "is a symlink; refusing to use it")
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(p, "is not a regular file")
    if st.st_uid != os.geteuid():
        raise FileRefused(p, f"is owned by uid {st.st_uid} (you are uid {os.geteuid()}); "
                             "refusing to use it — another user may have planted it")


def prepare(p: Path, read_only: bool) -> bool:
    """Check (or, writable and missing, create empty and private) the database file and its
    side files; True when the file exists afterwards. Raises :class:`FileRefused`."""
    if not read_only:
        ensure_private_dir(p.parent)  # 0700 (tightened if wider), ours, not a symlink
    if not read_only and not os.path.lexists(p):
        try:
            open_private_new(p, "wb").close()
        except FileRefused:
            pass  # created meanwhile (or planted): checked like any existing file below
    if not os.path.lexists(p):
        return False
    _check_ours(p, tighten=not read_only)
    for suffix in SIDE_FILES:
        _check_ours(Path(f"{p}{suffix}"), tighten=not read_only)
    return True


def read_only_uri(p: Path) -> tuple[str, bool]:
    """The URI for a read-only connection and whether it is ``immutable``."""
    path = quote(str(p.resolve()))
    if os.path.exists(f"{p}-wal") and (os.path.exists(f"{p}-shm") or dir_writable(p)):
        return f"file:{path}?mode=ro", False
    return f"file:{path}?mode=ro&immutable=1", True


def dir_writable(p: Path) -> bool:
    try:
        if os.statvfs(p.parent).f_flag & os.ST_RDONLY:
            return False
    except OSError:
        return False
    return os.access(p.parent, os.W_OK)


def signature(p: Path) -> tuple[int, int, int, bool]:
    """What changes when a writer touches the database (for reopening an immutable one)."""
    try:
        st = os.stat(p)
    except OSError:
        return (0, 0, 0, False)
    return (st.st_ino, st.st_size, st.st_mtime_ns, os.path.exists(f"{p}-wal"))
