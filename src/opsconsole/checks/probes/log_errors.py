"""``log_errors`` checks: lines matching a pattern appended to a log within a window.

A :class:`LogFollower` per check keeps the log open between runs and follows rotation and
truncation. With a state directory (:func:`opsconsole.checks.engine.use_state_dir`) each
follower's position and recent counts are saved after every run, so ``opsconsole check``
from cron continues where its previous run stopped.
"""

from __future__ import annotations

import glob
import json
import os
import re
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import Outcome, State, run_blocking, state_dir
from opsconsole.checks.spec import LogErrorsCheck
from opsconsole.files import atomic_write, ensure_private_dir
from opsconsole.fmt import duration, one_line
from opsconsole.secrets import mask_tokens

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


MAX_LOG_READ = 16 * 1024 * 1024  # per run; a bigger backlog is read over the next runs


class LogFollower:
    """``tail -F`` for one log: keeps the file open, reads what was appended since the last
    run, and follows rotation (a new inode at the path: the rest of the old file is read,
    then the new one from its start) and truncation (size below our offset: start over).

    Matches are counted per run with the run's time; the count is over ``window``.
    """

    def __init__(self, path: str, pattern: str) -> None:
        self.path = os.path.expanduser(path)
        self.regex = re.compile(pattern)
        self.fh: Any = None
        self.inode: tuple[int, int] | None = None
        self.partial = b""
        self.buckets: list[tuple[float, int]] = []
        self.last_match = ""
        self.started = time.time()
        self.rotations = 0
        self.truncations = 0

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def _open(self, at_end: bool) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open on purpose (follow)
        except FileNotFoundError:
            return False
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            fh.close()
            raise IsADirectoryError(f"{self.path} is not a regular file")
        self.close()
        self.fh = fh
        self.inode = (st.st_dev, st.st_ino)
        if at_end:
            fh.seek(0, os.SEEK_END)
        self.partial = b""
        return True

    def _read(self, budget: int) -> tuple[int, int]:
        """Read appended complete lines; return (lines, matches)."""
        assert self.fh is not None
        data = self.fh.read(budget)
        if not data:
            return 0, 0
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        if len(self.partial) > 65536:  # a line without end: count what we have
            lines.append(self.partial)
            self.partial = b""
        n = 0
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            if self.regex.search(line):
                n += 1
                self.last_match = line
        return len(lines), n

    def poll(self, now: float, first_run_from_start: bool = False) -> tuple[int, int]:
        """Read everything new; returns (lines read, matches) for this run."""
        if self.fh is None:
            if not self._open(at_end=not first_run_from_start):
                raise FileNotFoundError(self.path)
            if not first_run_from_start:
                return 0, 0
        lines = matches = 0
        budget = MAX_LOG_READ
        try:
            st = os.stat(self.path)
            cur: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            cur = None
        size_fd = os.fstat(self.fh.fileno()).st_size
        if cur == self.inode and size_fd < self.fh.tell():
            self.truncations += 1
            self.fh.seek(0)
            self.partial = b""
        # whatever is left in the file we hold (possibly rotated away)
        a, b = self._read(budget)
        lines, matches = lines + a, matches + b
        if cur is not None and cur != self.inode:
            if self.partial:
                if self.regex.search(self.partial.decode("utf-8", errors="replace")):
                    matches += 1
                self.partial = b""
            self.rotations += 1
            if self._open(at_end=False):
                a, b = self._read(budget)
                lines, matches = lines + a, matches + b
        return lines, matches

    def count(self, now: float, window: float) -> int:
        self.buckets = [(t, n) for t, n in self.buckets if t >= now - window]
        return sum(n for _, n in self.buckets)

    @property
    def positioned(self) -> bool:
        """The log is open at a known place (there is a position to save)."""
        return self.fh is not None and self.inode is not None

    def state(self) -> dict[str, Any]:
        """Where this follower is and what it has counted, for :meth:`resume` in another
        process (JSON-serialisable). Only meaningful when :attr:`positioned`."""
        assert self.fh is not None and self.inode is not None
        return {
            "dev": self.inode[0], "ino": self.inode[1],
            "offset": self.fh.tell() - len(self.partial), "started": self.started,
            "buckets": self.buckets, "last_match": self.last_match[:300],
            "rotations": self.rotations, "truncations": self.truncations,
        }

    def resume(self, entry: dict[str, Any]) -> tuple[int, int]:
        """Continue from a saved :meth:`state`; returns (lines, matches) read from the rest
        of the file the log was rotated to since. Raises KeyError / ValueError / TypeError
        for an unusable entry, FileNotFoundError when the log is gone."""
        self.started = float(entry.get("started", self.started))
        self.buckets = [(float(t), int(n)) for t, n in entry.get("buckets", [])]
        self.last_match = str(entry.get("last_match", ""))
        self.rotations = int(entry.get("rotations", 0))
        self.truncations = int(entry.get("truncations", 0))
        inode = (int(entry["dev"]), int(entry["ino"]))
        offset = int(entry["offset"])
        lines = matches = 0
        try:
            st = os.stat(self.path)
            cur: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            cur = None
        if cur != inode:
            old = _find_rotated(self.path, inode)
            if old is not None:  # read the rest of the rotated file first
                with open(old, "rb") as fh:
                    fh.seek(offset)
                    self.fh = fh
                    lines, matches = self._read(MAX_LOG_READ)
                    if self.partial and self.regex.search(self.partial.decode("utf-8", "replace")):
                        matches += 1
                    self.fh = None
            self.rotations += 1
            if not self._open(at_end=False):
                raise FileNotFoundError(self.path)
            return lines, matches
        if not self._open(at_end=False):
            raise FileNotFoundError(self.path)
        if os.fstat(self.fh.fileno()).st_size < offset:
            self.truncations += 1
        else:
            self.fh.seek(offset)
        return 0, 0


def _find_rotated(path: str, inode: tuple[int, int]) -> str | None:
    """The file a log was rotated to (app.log.1, app.log-20261124...), by inode."""
    for cand in glob.glob(glob.escape(path) + ".*") + glob.glob(glob.escape(path) + "-*"):
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == inode:
            return cand
    return None


# One follower per (check name, path, pattern), kept between runs in this process; their
# states are saved in one JSON file in the state directory, under the same key.
_FOLLOWERS: dict[tuple[str, str, str], LogFollower] = {}
_STATE_LOCK = threading.Lock()


def _state_file() -> Path | None:
    directory = state_dir()
    return None if directory is None else directory / "log_errors.json"


def _load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_state(path: Path, key: str, entry: dict[str, Any]) -> None:
    with _STATE_LOCK:
        data = _load_state(path)
        data[key] = entry
        # a private directory and an atomic 0600 file: never through a planted symlink
        try:
            ensure_private_dir(path.parent)
            atomic_write(path, json.dumps(data, sort_keys=True))
        except OSError:
            pass  # a full or read-only disk: the next run re-reads from the old position


def _poll_log(spec: LogErrorsCheck) -> tuple[LogFollower, int, int, int, bool]:
    key = (spec.name, spec.path, spec.pattern)
    skey = "\x00".join(key)
    state_file = _state_file()
    fol = _FOLLOWERS.get(key)
    first = fol is None
    now = time.time()
    pre_lines = pre_matches = 0
    if fol is None:
        fol = LogFollower(spec.path, spec.pattern)
        entry = _load_state(state_file).get(skey) if state_file is not None else None
        if entry:
            try:
                pre_lines, pre_matches = fol.resume(entry)
                first = False
            except (KeyError, ValueError, TypeError):
                fol.close()
                fol = LogFollower(spec.path, spec.pattern)
    # a first run starts at the end: we cannot date the lines already there
    lines, matches = fol.poll(now)
    lines, matches = lines + pre_lines, matches + pre_matches
    _FOLLOWERS[key] = fol
    if matches:
        fol.buckets.append((now, matches))
    count = fol.count(now, spec.window)
    if state_file is not None and fol.positioned:
        _save_state(state_file, skey, fol.state())
    return fol, lines, matches, count, first


async def probe(spec: LogErrorsCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    try:
        fol, lines, new, count, started_at_end = await run_blocking(spec, _poll_log, spec)
    except FileNotFoundError:
        raise Outcome("UNKNOWN", f"{spec.path} does not exist") from None
    except PermissionError:
        raise Outcome("UNKNOWN", f"{spec.path}: permission denied") from None
    except IsADirectoryError:
        raise Outcome("UNKNOWN", f"{spec.path} is not a regular file") from None
    details.update(count=count, new_lines=lines, new_matches=new, rotations=fol.rotations,
                   truncations=fol.truncations,
                   watching_since=datetime.fromtimestamp(fol.started, UTC).isoformat())
    if fol.last_match:
        details["last_match"] = mask_tokens(one_line(fol.last_match, 300))
    win = duration(spec.window)
    what = f"{count} line{'s' if count != 1 else ''} matching /{spec.pattern}/ in the last {win}"
    if started_at_end:
        what += " (watching from now on)"
    if spec.critical is not None and count >= spec.critical:
        state: State = "CRITICAL"
    elif count >= spec.warning:
        state = "WARNING"
    else:
        state = "OK"
    if count and fol.last_match:
        what += f"; last: {mask_tokens(one_line(fol.last_match, 80))}"
    return state, what, None, details
