"""What subcommands print reaches the terminal without a control character in it.

Subcommands print text from outside (incident fields typed on other hosts, ``$USER``,
runbook titles, step output, check messages); any of it may carry ESC/OSC/CSI or C1
sequences that set the window title, clear the screen or write the clipboard. Rather than
trusting every ``print`` to neutralise its arguments, :func:`neutralised_stdio` puts a
writer in front of ``sys.stdout``/``sys.stderr`` that shows every control character
visibly (:func:`opsconsole.text.for_terminal`), keeping ``\\n`` and ``\\t``. JSON output is
unchanged: ``json.dumps`` already writes controls as ``\\u001b`` escapes.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from opsconsole.text import for_terminal

# what for_terminal changes when newlines and tabs are kept: a fast precheck
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f"
                     "\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff"
                     "\U000e0000-\U000e007f]")


class NeutralisingWriter(io.TextIOBase):
    """A text stream that writes to ``stream`` with control characters made visible."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, s: str) -> int:
        text = s
        if _UNSAFE.search(text):
            text = for_terminal(text, keep_newlines=True, keep_tabs=True)
        self.stream.write(text)
        return len(s)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self.stream.flush()

    # the real descriptor, so input() keeps line editing and isatty() tells the truth
    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.stream.errors

    def __getattr__(self, name: str) -> Any:
        # no .buffer: bytes written there would bypass the neutralising
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self.stream, name)


@contextlib.contextmanager
def neutralised_stdio() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` behind a :class:`NeutralisingWriter` while inside."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = NeutralisingWriter(out)  # type: ignore[assignment]
    sys.stderr = NeutralisingWriter(err)  # type: ignore[assignment]
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdout, sys.stderr = out, err
