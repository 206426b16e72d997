"""Parsing runbook files in a child process, each file within a time and a memory bound.

A pathological file (a huge document, a regular expression that backtracks for minutes)
keeps a CPU busy inside C code that no thread can interrupt, so files are parsed in one
child Python process: the parent sends a path, the child answers with the pickled
:class:`Runbook` or :class:`ConfigError`. A file that takes longer than the time limit is
"took too long to parse": the child is killed and a fresh one parses the remaining files.
The child also caps its own address space, so an explosion of memory is a located error in
the child, not an out-of-memory kill of the console. Never imports Textual.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import select
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from opsconsole.schema import ConfigError

TIME_LIMIT = 5.0  # seconds per file
MEMORY_LIMIT = 1024 * 1024 * 1024  # the child's address space, bytes
START_LIMIT = 60.0  # seconds for the child to start, on a loaded host
_HEADER = struct.Struct(">I")
_READY = b"R"


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


class _Child:
    """One child process parsing files on request."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opsconsole.runbooks.isolated"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=0)
        self.ready = False

    def load(self, path: Path, timeout: float) -> Any:
        """The Runbook or ConfigError for ``path``; raises TimeoutError or EOFError."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if not self.ready:  # the child's start (imports) does not count against a file
            if self._read(self.proc.stdout, 1, time.monotonic() + START_LIMIT) != _READY:
                raise EOFError
            self.ready = True
        try:
            self.proc.stdin.write((json.dumps(str(path)) + "\n").encode())
        except OSError:
            raise EOFError from None
        deadline = time.monotonic() + timeout
        header = self._read(self.proc.stdout, _HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        return pickle.loads(self._read(self.proc.stdout, size, deadline))

    @staticmethod
    def _read(stream: IO[bytes], size: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        left = size
        fd = stream.fileno()
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self, kill: bool = False) -> None:
        if kill:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def load_files(paths: list[Path], timeout: float | None = None) -> list[Any]:
    """For each path, its :class:`Runbook` or the :class:`ConfigError` that stopped it,
    each parsed in a child process within ``timeout`` seconds (default :data:`TIME_LIMIT`)."""
    if timeout is None:
        timeout = TIME_LIMIT
    out: list[Any] = []
    child: _Child | None = None
    try:
        for path in paths:
            if child is None:
                try:
                    child = _Child()
                except OSError as exc:
                    out.append(ConfigError(path, None, None,
                                           f"cannot start the runbook parser: {exc.strerror or exc}"))
                    continue
            try:
                out.append(child.load(path, timeout))
            except TimeoutError:
                child.close(kill=True)
                child = None
                out.append(ConfigError(path, None, None,
                                       f"took too long to parse (more than {timeout:g} s); skipped"))
            except (EOFError, pickle.UnpicklingError, struct.error):
                child.close(kill=True)
                code = child.proc.returncode
                child = None
                out.append(ConfigError(path, None, None,
                                       f"the runbook parser stopped on this file (exit {code}); skipped"))
    finally:
        if child is not None:
            child.close()
    return out


def _parse_one(path: Path) -> Any:
    from opsconsole.runbooks.library import load_runbook

    try:
        return load_runbook(path)
    except ConfigError as exc:
        return exc
    except MemoryError:
        return ConfigError(path, None, None,
                           f"too large to parse (more than {MEMORY_LIMIT >> 20} MiB of memory)")
    except RecursionError:
        return ConfigError(path, None, None, "nested too deeply")
    except Exception as exc:  # a parser bug must cost one file, never the console
        return ConfigError(path, None, None, f"cannot load: {type(exc).__name__}: {str(exc)[:200]}")


def main() -> None:
    """The child: read one JSON path per line on stdin, answer each on stdout."""
    with contextlib.suppress(Exception):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    with contextlib.suppress(OSError):
        os.nice(5)
    import opsconsole.runbooks.library  # noqa: F401 - imported before the first file's clock starts

    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    out.write(_READY)
    out.flush()
    for line in sys.stdin.buffer:
        path = Path(json.loads(line))
        try:
            data = pickle.dumps(_parse_one(path))
        except MemoryError:
            data = pickle.dumps(ConfigError(path, None, None, "too large to parse"))
        out.write(_HEADER.pack(len(data)) + data)
        out.flush()


if __name__ == "__main__":
    main()
