"""What a step printed, taken in line by line with bounded memory.

Output is read in chunks; each complete line is masked (the run's secret values, then
anything that looks like a credential) before it goes anywhere. Kept: the first and last
lines, a live tail for the screen, a SHA-256 of everything, the start of the output for
``capture:`` regexes, and the full (masked) output in a file, up to a cap.

The file is a record, never a reason to stop: when it cannot be created or written (a full
disk, ENOSPC, exactly when someone runs ``disk-almost-full``; a read-only data directory)
the step keeps running and streaming to the screen, the file stops growing, and
``truncated_reason`` says why; a marker line saying so ends the file when there is room
for it (it overwrites the last bytes written, which needs no new space).

Never imports Textual.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path

from opsconsole.files import ensure_private_dir, open_private_new, os_reason
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
        self.truncated_reason: str | None = None
        self._announce = False  # tell the screen, once, that the file stopped
        self._fd: int | None = None
        if path is not None:
            try:
                ensure_private_dir(path.parent)
                fh = open_private_new(path, "wb")
                self._fd = os.dup(fh.fileno())
                fh.close()
            except OSError as exc:
                self._give_up(exc, f"the output file could not be created: {os_reason(exc)}")

    def _give_up(self, exc: OSError | None, reason: str) -> None:
        """Stop writing the file (the step goes on); remember why, and say so in the file
        when there is room for the marker."""
        self.truncated = True
        self.truncated_reason = reason
        self._announce = True
        fd, self._fd = self._fd, None
        if fd is None:
            return
        marker = (f"\n[opsconsole] output file truncated after {self.file_bytes} bytes: "
                  f"{reason}; the rest was shown on screen only\n").encode()
        # Overwrite the end of what was written: those blocks are already allocated, so
        # this succeeds on a full disk (a file shorter than the marker gets it whole).
        with contextlib.suppress(OSError):
            at = max(self.file_bytes - len(marker), 0)
            os.pwrite(fd, marker, at)
            os.ftruncate(fd, max(self.file_bytes, at + len(marker)))
        with contextlib.suppress(OSError):
            os.close(fd)

    def _write(self, out: bytes) -> None:
        if self._fd is None or self.truncated:
            return
        room = FILE_CAP - self.file_bytes
        view = memoryview(out[:room])
        try:
            while view:
                n = os.write(self._fd, view)
                self.file_bytes += n
                view = view[n:]
        except OSError as exc:
            self._give_up(exc, os_reason(exc))
            return
        if len(out) > room:
            self.truncated = True
            self.truncated_reason = f"the output file's cap of {FILE_CAP} bytes was reached"

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
        self._write(out)
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
        if self._announce:
            self._announce = False
            self.note(f"[opsconsole] the output file stopped: {self.truncated_reason}; "
                      "the step goes on")

    def note(self, line: str) -> None:
        """A line written by opsconsole itself (status, rows of a query)."""
        self._emit((line + "\n").encode())

    def close(self) -> None:
        if self._partial:
            self._emit(self._partial + b"\n")
            self._partial = b""
        if self._announce:  # the file could not even be created, and nothing was printed
            self._announce = False
            self.note(f"[opsconsole] no output file: {self.truncated_reason}")
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:  # EIO/ENOSPC at write-back: the file is not whole
                self._give_up(exc, f"saving the output file failed: {os_reason(exc)}")
                return
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

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
