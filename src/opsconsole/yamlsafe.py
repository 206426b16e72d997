"""Bounded YAML composing and bounded reading of text files, with located errors.

The lowest layer under :mod:`opsconsole.schema`: it turns hostile input (alias bombs, deep
nesting, oversized documents, NUL and other control characters, a FIFO or ``/dev/zero``
given as a file) into a :class:`ConfigError` at ``file:line:column`` in bounded time and
memory, before anything walks the tree. Never imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node

from opsconsole import files

MAX_FILE_BYTES = files.DEFAULT_READ_LIMIT  # 1 MiB: config and themes; callers may allow more


@dataclass(frozen=True)
class Limits:
    """Bounds on one YAML document, checked while composing (before anything walks it).

    ``max_nodes`` counts nodes *after* alias expansion, so a 644-byte "billion laughs"
    fails at once; ``max_depth`` also counts depth reached through aliases.
    """

    max_aliases: int = 100
    max_depth: int = 64
    max_nodes: int = 100_000


DEFAULT_LIMITS = Limits()


class ConfigError(Exception):
    """A located error in a YAML file: ``file:line:col: message``."""

    def __init__(self, path: str | Path | None, line: int | None, column: int | None, message: str):
        self.path = str(path) if path is not None else "<input>"
        self.line = line
        self.column = column
        self.message = message
        super().__init__(self.__str__())

    def __reduce__(self) -> tuple[Any, ...]:  # picklable: runbooks are parsed in a child process
        return (type(self), (self.path, self.line, self.column, self.message))

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class _Refused(Exception):
    """A :class:`Limits` bound was crossed while composing, at ``mark``."""

    def __init__(self, mark: Any, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer counts aliases, expanded nodes and depth as it goes.

    PyYAML's composer shares one node object between an anchor and its aliases, so
    composing a "billion laughs" is cheap and the blow-up comes when the tree is walked.
    We record for every composed node its expanded size and height, so each alias adds the
    size of what it stands for to a running total, and a bomb is refused at the alias that
    crosses ``max_nodes`` — in microseconds, before anything walks the tree.
    """

    def __init__(self, stream: Any, limits: Limits = DEFAULT_LIMITS):
        super().__init__(stream)
        self._limits = limits
        self._aliases = 0
        self._expanded = 0  # nodes so far, counting each alias as the nodes it stands for
        self._heights: list[int] = []  # open collections: the tallest child height so far
        self._info: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        lim = self._limits
        if self.check_event(AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is None:
                return super().compose_node(parent, index)  # "found undefined alias"
            self._aliases += 1
            if self._aliases > lim.max_aliases:
                raise _Refused(event.start_mark,
                               f"too many aliases (the limit is {lim.max_aliases})")
            info = self._info.get(id(target))
            if info is None:
                raise _Refused(event.start_mark,
                               f"alias *{event.anchor} is inside the node it refers to "
                               "(recursive structures are not allowed)")
            size, height = info
            self._expanded += size
            if self._expanded > lim.max_nodes:
                raise _Refused(event.start_mark,
                               f"expansion too large: aliases expand this document past "
                               f"{lim.max_nodes} nodes")
            if len(self._heights) + height > lim.max_depth:
                raise _Refused(event.start_mark,
                               f"nested too deeply through alias *{event.anchor} "
                               f"(the limit is {lim.max_depth} levels)")
            if self._heights:
                self._heights[-1] = max(self._heights[-1], height)
            return super().compose_node(parent, index)
        event = self.peek_event()
        if len(self._heights) >= lim.max_depth:
            raise _Refused(event.start_mark,
                           f"nested too deeply (the limit is {lim.max_depth} levels)")
        self._expanded += 1
        if self._expanded > lim.max_nodes:
            raise _Refused(event.start_mark,
                           f"document too large (the limit is {lim.max_nodes} nodes)")
        start = self._expanded
        self._heights.append(0)
        try:
            node = super().compose_node(parent, index)
        finally:
            tallest_child = self._heights.pop()
        height = tallest_child + 1
        self._info[id(node)] = (self._expanded - start + 1, height)
        if self._heights:
            self._heights[-1] = max(self._heights[-1], height)
        return node


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def compose(text: str, path: str | Path | None, limits: Limits | None = None) -> Node | None:
    """Parse YAML text into a node tree, turning syntax errors and crossed :class:`Limits`
    into :class:`ConfigError`."""
    try:
        loader = _Loader(text, limits or DEFAULT_LIMITS)
    except yaml.reader.ReaderError as exc:
        return _reader_error(exc, text, path)
    try:
        return loader.get_single_node()
    except _Refused as exc:
        mark = exc.mark
        raise ConfigError(path, mark.line + 1, mark.column + 1, exc.message) from None
    except RecursionError:
        raise ConfigError(path, None, None, "nested too deeply") from None
    except yaml.reader.ReaderError as exc:  # pragma: no cover - str input is checked up front
        return _reader_error(exc, text, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        if mark is None:
            raise ConfigError(path, None, None, f"invalid YAML: {problem}") from None
        raise ConfigError(path, mark.line + 1, mark.column + 1, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:  # pragma: no cover - defensive
        raise ConfigError(path, None, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _reader_error(exc: yaml.reader.ReaderError, text: str, path: str | Path | None) -> Any:
    line, col = _position(text, exc.position) if isinstance(exc.position, int) else (None, None)
    ch = exc.character
    if isinstance(ch, int):
        name = "NUL character" if ch == 0 else f"control character {chr(ch)!r}"
        message = f"{name} (U+{ch:04X}) is not allowed in YAML text"
    else:  # pragma: no cover - bytes input is never passed
        message = f"invalid YAML: {exc.reason}"
    raise ConfigError(path, line, col, message) from None


def read_text_file(path: str | Path, *, limit: int = MAX_FILE_BYTES) -> str:
    """A UTF-8 text file's content; unreadable, undecodable, oversized and non-regular files
    (a FIFO, ``/dev/zero``, a directory) become ConfigError (a decoding error is located at
    its line and column). ``limit`` is the largest size accepted, in bytes."""
    p = Path(path)
    try:
        data = files.read_bounded(p, limit=limit)
    except files.FileRefused as exc:
        raise ConfigError(p, None, None, exc.reason) from None
    except OSError as exc:
        raise ConfigError(p, None, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(p, line, col, "expected UTF-8 text") from None
