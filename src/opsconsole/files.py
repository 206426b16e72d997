"""One safe way to read and write files (opsconsole runs as root on production hosts).

Reads follow symlinks (a config reached through a link is normal) but accept only regular
files, opened non-blocking so a FIFO never hangs, and read at most ``limit + 1`` bytes.

Writes never follow a symlink planted at the target: new files are created with
``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600, appends refuse links and files of other
users, and :func:`atomic_write` renames a private temporary file over the target (which
replaces a planted link itself, never the file it points to).

This module never imports Textual.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DEFAULT_READ_LIMIT",
    "FileRefused",
    "atomic_write",
    "check_private_file",
    "create_private",
    "ensure_private_dir",
    "open_private_append",
    "open_private_new",
    "os_reason",
    "read_bounded",
]

DEFAULT_READ_LIMIT = 1024 * 1024  # 1 MiB

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)


class FileRefused(OSError):
    """A file or directory opsconsole will not use. ``str()`` is ``"<path>: <reason>"``;
    ``reason`` is the text without the path."""

    def __init__(self, path: str | os.PathLike[str], reason: str, errno: int | None = None):
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.filename = os.fspath(path)
        self.reason = reason
        if errno is not None:
            self.errno = errno

    def __str__(self) -> str:
        return f"{self.filename}: {self.reason}"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "not a regular file"


def _user_name(uid: int) -> str:
    try:
        import pwd

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _check_owner(path: Path, st: os.stat_result, what: str, hint: str = "") -> None:
    me = os.geteuid()
    if st.st_uid != me:
        raise FileRefused(
            path,
            f"{what} is owned by {_user_name(st.st_uid)} (you are uid {me}); "
            f"refusing to use it{hint}",
            _errno.EPERM,
        )


# --------------------------------------------------------------------------- reading


def read_bounded(path: str | os.PathLike[str], *, limit: int = DEFAULT_READ_LIMIT,
                 what: str = "file") -> bytes:
    """The content of a regular file of at most ``limit`` bytes.

    Symlinks are followed. FIFOs, devices (``/dev/zero``), directories and sockets are
    refused without blocking; a file over ``limit`` (also one growing while it is read) is
    refused. Refusals raise :class:`FileRefused`; other errors are the usual ``OSError``.
    """
    p = Path(path)
    # Look before opening: opening some devices has side effects (tape rewind, watchdog).
    st = os.stat(p)
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(p, f"is {_kind(st.st_mode)}, not a regular {what}")
    if st.st_size > limit:
        raise FileRefused(p, f"is {st.st_size} bytes; the limit is {limit}", _errno.EFBIG)
    # O_NONBLOCK: if the path was swapped for a FIFO since the stat, open does not block.
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | _NOCTTY | _CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(p, f"is {_kind(st.st_mode)}, not a regular {what}")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            size = max(os.fstat(fd).st_size, total)
            raise FileRefused(p, f"is {size} bytes; the limit is {limit}", _errno.EFBIG)
        return b"".join(chunks)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- directories


def ensure_private_dir(path: str | os.PathLike[str], notes: list[str] | None = None) -> Path:
    """Make sure ``path`` is a directory only we can use, and return it.

    A missing directory is created with mode 0700 (missing parents with the default mode).
    An existing one is refused when it is a symlink, not a directory, or owned by another
    user, or a shared sticky directory such as ``/tmp`` (never chmod-ed: that would lock every
    other user out of it); one of ours that group or others can access is tightened to 0700
    and a sentence saying so is appended to ``notes`` (when given).
    """
    p = Path(path)
    created = False
    try:
        os.lstat(p)
    except FileNotFoundError:
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(p, 0o700)
            created = True
        except FileExistsError:
            pass  # created meanwhile: checked below like any existing directory
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode):
        raise FileRefused(p, "is a symlink; refusing to use it as a data directory "
                             "— pass --data-dir", _errno.ELOOP)
    if not stat.S_ISDIR(st.st_mode):
        raise FileRefused(p, f"is {_kind(st.st_mode)}, not a directory", _errno.ENOTDIR)
    fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode):  # pragma: no cover - swapped since the lstat
            raise FileRefused(p, f"is {_kind(st.st_mode)}, not a directory", _errno.ENOTDIR)
        _check_owner(p, st, "directory", " — pass --data-dir")
        old = stat.S_IMODE(st.st_mode)
        if not created and old & stat.S_ISVTX:
            # /tmp, /var/tmp: shared by every user; tightening it would break the system
            raise FileRefused(p, f"is a shared directory (mode {old:04o}); keep opsconsole's "
                                 "files in a directory of their own", _errno.EPERM)
        if created and old != 0o700:
            os.fchmod(fd, 0o700)  # exactly 0700 whatever the umask
        elif old & 0o077:
            os.fchmod(fd, 0o700)
            if notes is not None:
                notes.append(f"{p}: was mode {old:04o}, tightened to 0700")
    finally:
        os.close(fd)
    return p


# --------------------------------------------------------------------------- writing


def _fdopen(fd: int, mode: str) -> IO[Any]:
    try:
        if "b" in mode:
            return os.fdopen(fd, mode)
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def open_private_new(path: str | os.PathLike[str], mode: str = "w") -> IO[Any]:
    """Create a new file with mode 0600 and open it (``mode``: ``"w"``, ``"wb"``, ``"w+"``…).

    Refuses (:class:`FileRefused`) when anything exists at ``path``, a planted symlink
    included: ``O_CREAT | O_EXCL | O_NOFOLLOW``.
    """
    if not mode.startswith(("w", "x")):
        raise ValueError(f"open_private_new: mode must be for writing, not {mode!r}")
    p = Path(path)
    flags = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC | _NOCTTY
    flags |= os.O_RDWR if "+" in mode else os.O_WRONLY
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        try:
            st = os.lstat(p)
            what = _kind(st.st_mode)
        except OSError:
            what = "something"
        raise FileRefused(p, f"already exists ({what}); refusing to overwrite it",
                          _errno.EEXIST) from None
    try:
        os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
    except BaseException:
        os.close(fd)
        raise
    return _fdopen(fd, mode.replace("x", "w"))


create_private = open_private_new


def _adopt(fd: int, p: Path, what: str, notes: list[str] | None) -> None:
    """Checks shared by :func:`open_private_append` and :func:`check_private_file`."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(p, f"is {_kind(st.st_mode)}, not a regular {what}")
    _check_owner(p, st, what)
    if st.st_nlink > 1:
        raise FileRefused(p, f"has {st.st_nlink} hard links; refusing to use it "
                             "(it may be another file under a second name)", _errno.EMLINK)
    old = stat.S_IMODE(st.st_mode)
    if old & 0o077:
        os.fchmod(fd, 0o600)
        if notes is not None:
            notes.append(f"{p}: was mode {old:04o}, tightened to 0600")


def _refuse_existing_non_regular(p: Path, what: str) -> bool:
    """lstat ``p``: refuse a symlink or a non-regular file; True when something exists."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise FileRefused(p, "is a symlink; refusing to write through it", _errno.ELOOP)
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(p, f"is {_kind(st.st_mode)}, not a regular {what}")
    return True


def open_private_append(path: str | os.PathLike[str], mode: str = "a",
                        notes: list[str] | None = None) -> IO[Any]:
    """Open a log-like file for appending (``"a"`` or ``"ab"``), creating it 0600.

    Never follows a symlink. An existing file is refused when it is not a regular file,
    has other hard links, or is owned by another user; one of ours that is group/other
    accessible is tightened to 0600 (noted in ``notes``).
    """
    if not mode.startswith("a"):
        raise ValueError(f"open_private_append: mode must be for appending, not {mode!r}")
    p = Path(path)
    _refuse_existing_non_regular(p, "file")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    flags |= _CLOEXEC | _NOCTTY
    try:
        fd = os.open(p, flags, 0o600)
    except OSError as exc:
        if exc.errno in (_errno.ELOOP, _errno.ENXIO):
            raise FileRefused(p, "is a symlink or a FIFO; refusing to write to it",
                              exc.errno) from None
        raise
    try:
        _adopt(fd, p, "file", notes)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return _fdopen(fd, mode)


def check_private_file(path: str | os.PathLike[str], notes: list[str] | None = None,
                       *, what: str = "file") -> Path:
    """Check an existing file we are about to adopt (e.g. a SQLite database): a regular file,
    not a symlink, one name only, owned by us; tightened to 0600 if wider (noted in
    ``notes``). A missing file raises ``FileNotFoundError``; refusals :class:`FileRefused`.
    """
    p = Path(path)
    if not _refuse_existing_non_regular(p, what):
        raise FileNotFoundError(_errno.ENOENT, os.strerror(_errno.ENOENT), str(p))
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC | _NOCTTY)
    except OSError as exc:
        if exc.errno == _errno.ELOOP:
            raise FileRefused(p, "is a symlink; refusing to use it", exc.errno) from None
        raise
    try:
        _adopt(fd, p, what, notes)
    finally:
        os.close(fd)
    return p


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError as exc:
        if exc.errno not in (_errno.EINVAL, _errno.ENOTSUP, _errno.EBADF):
            raise
    finally:
        os.close(dfd)


def _private_tmp(directory: Path, name: str) -> tuple[Path, int]:
    """A new private (0600) temporary file next to ``name`` in ``directory``, never
    through a symlink: (its path, an fd open for writing)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC | _NOCTTY
    for _attempt in range(100):
        tmp = directory / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return tmp, os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
    # pragma: no cover - 100 collisions of 48 random bits
    raise FileExistsError(_errno.EEXIST, "cannot create a temporary file", str(directory))


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o600) -> Path:
    """Replace ``path`` with ``data`` atomically; the new file has ``mode`` (default 0600).

    A private temporary file is created next to the target (``O_EXCL | O_NOFOLLOW``),
    written, fsynced and renamed over the target; then the directory is fsynced. A symlink
    at ``path`` is itself replaced, never written through. On any error (ENOSPC, EROFS,
    EACCES…) the temporary file is removed and the ``OSError`` propagates.
    """
    p = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    directory = p.parent
    tmp, fd = _private_tmp(directory, p.name)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(payload)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
    return p


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: int = 0o600) -> Iterator[IO[str]]:
    """:func:`atomic_write` for text written piece by piece (a streamed export): yields a
    UTF-8 text file open on a private temporary file next to ``path``; when the block ends
    without an error it is fsynced and renamed over ``path`` (a symlink there is replaced,
    never written through), else removed and ``path`` left as it was. Raises ``OSError``."""
    p = Path(path)
    directory = p.parent
    tmp, fd = _private_tmp(directory, p.name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="", buffering=1 << 16) as f:
            os.fchmod(f.fileno(), mode)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def os_reason(exc: BaseException) -> str:
    """A few words for why a file operation failed, for a header or a record:
    ``disk full (ENOSPC)``, ``read-only file system (EROFS)``, ``permission denied (EACCES)``."""
    code = getattr(exc, "errno", None)
    name = _errno.errorcode.get(code, "") if isinstance(code, int) else ""
    if code in (_errno.ENOSPC, _errno.EDQUOT):
        return f"disk full ({name})"
    if code == _errno.EROFS:
        return "read-only file system (EROFS)"
    if code in (_errno.EACCES, _errno.EPERM) and not isinstance(exc, FileRefused):
        return f"permission denied ({name})"
    low = str(exc).lower()
    if "disk is full" in low or "no space left" in low:  # SQLite's words, or a wrapped OSError
        return "disk full (ENOSPC)"
    if "read-only" in low or "readonly" in low:
        return "read-only file system or database"
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    return f"{reason} ({name})" if name else str(reason)
