"""What a step printed, taken in line by line with bounded memory.

Output is read in chunks; each complete line is masked (the run's secret values, then
anything that looks like a credential) before it goes anywhere. Kept: the first and last
lines, a live tail for the screen, a SHA-256 of everything, the start of the output for
``capture:`` regexes, and the full (masked) output in a file, up to a cap.

Never imports Textual.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path

from opsconsole.secrets import mask_tokens, mask_values

HEAD_LINES = 10
TAIL_LINES = 10
LIVE_LINES = 500
MAX_LINE = 4096  # longer lines are cut into pieces of this many characters
CAPTURE_BYTES = 256 * 1024  # output searched by `capture:` regexes
FILE_CAP = 64 * 1024 * 1024  # the saved output file stops growing here (the hash does not)

# words found near most credentials: the (slow) token regexes run only on text holding one
_TOKEN_TRIGGERS = ("bearer", "token", "api", "secret", "passw", "pwd", "authorization",
                   "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "akia", "eyj")


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + " …"


class OutputCapture:
    """Everything a step printed, with bounded memory."""

    def __init__(self, path: Path | None, secrets: list[str],
                 on_line: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.secrets = [s for s in secrets if s]
        self.on_line = on_line
        self.head: list[str] = []
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.live: deque[str] = deque(maxlen=LIVE_LINES)
        self.lines = 0
        self.bytes = 0
        self.file_bytes = 0
        self.truncated = False
        self._hash = hashlib.sha256()
        self._partial = b""
        self._capture = bytearray()
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._fh = os.fdopen(fd, "wb")

    def feed(self, data: bytes) -> None:
        data = self._partial + data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) < MAX_LINE:
                self._partial = data
                return
            cut = len(data) - 1
            data = data + b"\n"
        block, self._partial = data[: cut + 1], data[cut + 1:]
        self._emit(block)

    def _emit(self, block: bytes) -> None:
        text = block.decode("utf-8", errors="replace")
        if self.secrets:
            text = mask_values(text, self.secrets)
        low = text.lower()
        if any(t in low for t in _TOKEN_TRIGGERS):  # the token regexes are slow: look first
            text = mask_tokens(text)
        out = text.encode()
        self.bytes += len(out)
        self._hash.update(out)
        if len(self._capture) < CAPTURE_BYTES:
            self._capture.extend(out[: CAPTURE_BYTES - len(self._capture)])
        if self._fh is not None and not self.truncated:
            room = FILE_CAP - self.file_bytes
            if len(out) > room:
                self._fh.write(out[:room])
                self.file_bytes += room
                self.truncated = True
            else:
                self._fh.write(out)
                self.file_bytes += len(out)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        self.lines += len(lines)
        if len(self.head) < HEAD_LINES:
            self.head.extend(_cut(x) for x in lines[: HEAD_LINES - len(self.head)])
        self.tail.extend(_cut(x) for x in lines[-TAIL_LINES:])
        self.live.extend(_cut(x) for x in lines[-LIVE_LINES:])
        if self.on_line is not None:
            for line in lines:
                self.on_line(_cut(line))

    def note(self, line: str) -> None:
        """A line written by opsconsole itself (status, rows of a query)."""
        self._emit((line + "\n").encode())

    def close(self) -> None:
        if self._partial:
            self._emit(self._partial + b"\n")
            self._partial = b""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def captured_text(self) -> str:
        return self._capture.decode("utf-8", errors="replace")

    def last_lines(self) -> list[str]:
        """The last lines that are not already among the first ones."""
        extra = self.lines - len(self.head)
        if extra <= 0:
            return []
        return list(self.tail)[-min(extra, TAIL_LINES):]
